"""The request recorder: every request moto serves is counted, in-process or through the server."""

from __future__ import annotations

import time

import boto3

from tests.support.moto_server import MotoServer
from tests.support.traffic import recording


def test_requests_made_in_process_are_counted_by_service_and_operation(aws: None) -> None:
    with recording() as traffic:
        boto3.client("ecs").list_clusters()
        boto3.client("ecs").list_clusters()
        boto3.client("lambda").list_functions()
        boto3.client("s3").create_bucket(Bucket="counted")
        boto3.client("s3").put_object(Bucket="counted", Key="k", Body=b"x")
    assert traffic.of("ecs") == {"ListClusters": 2}
    assert traffic.of("lambda") == {"ListFunctions": 1}
    assert traffic.of("s3") == {"PUT bucket": 1, "PUT object": 1}
    assert traffic.total("ecs", "lambda") == 3


def test_requests_through_the_server_are_counted() -> None:
    with MotoServer() as server, recording() as traffic:
        server.client("ecr").describe_repositories()
    assert traffic.of("ecr") == {"DescribeRepositories": 1}


def test_nothing_is_counted_outside_a_recording(aws: None) -> None:
    with recording() as traffic:
        pass
    boto3.client("ecs").list_clusters()
    assert traffic.total("ecs") == 0


def test_a_delay_slows_only_the_chosen_services(aws: None) -> None:
    ecs, sts = boto3.client("ecs"), boto3.client("sts")
    ecs.list_clusters()
    sts.get_caller_identity()
    with recording(delay=0.2, services={"ecs"}):
        started = time.perf_counter()
        sts.get_caller_identity()
        fast = time.perf_counter() - started
        started = time.perf_counter()
        ecs.list_clusters()
        slow = time.perf_counter() - started
    assert fast < 0.15
    assert slow >= 0.2
