"""Images in use in EKS clusters (`usage.eks`): what runs, and what a cluster would start again, in
every namespace of each cluster a pattern names; a cluster that cannot be read whole deletes nothing.

EKS itself is moto's (ListClusters, DescribeCluster); each cluster's Kubernetes API is a local HTTPS
stand-in (`tests.support.kubernetes_api`) with its own CA, which checks each token as EKS does. moto
intercepts botocore only, so urllib's requests reach the stand-in.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.parse
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.loaders
import pytest

from ecr_cleanup.plan import Image
from ecr_cleanup.usage import ImageReference, UsageError, resolve_in_use
from ecr_cleanup.usage.eks import KUBERNETES_PAGE_SIZE, MAX_LIST_ATTEMPTS, eks_references, eks_token
from tests.support.ecr_seed import DEFAULT_REGION
from tests.support.kubernetes_api import (
    RESOURCES,
    CertificateAuthority,
    KubernetesApi,
    controller_revision,
    cron_job,
    daemon_set,
    deployment,
    job,
    patch_describe_cluster,
    pod,
    replica_set,
    stateful_set,
    token_problem,
)

HOST = f"123456789012.dkr.ecr.{DEFAULT_REGION}.amazonaws.com"
API = f"{HOST}/payments/api"
DIGEST = "sha256:" + "a" * 64
OLD_DIGEST = "sha256:" + "b" * 64
PODS = RESOURCES["Pod"].path


def create_cluster(name: str, *, public: bool = True) -> None:
    boto3.client("eks", region_name=DEFAULT_REGION).create_cluster(
        name=name,
        roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"], "endpointPublicAccess": public},
    )


def secret_keys() -> dict[str, str]:
    """The credentials boto3 signs with here, so that the stand-in can check signatures as STS does."""
    credentials = boto3.Session().get_credentials()
    assert credentials is not None
    return {credentials.access_key: credentials.secret_key}


_MODELS = botocore.loaders.create_loader()


@pytest.fixture(autouse=True)
def shared_models(aws: None) -> None:
    """Each test's boto3 session reads the service models and endpoints.json once per process, not
    once per test (a large part of its time otherwise): they are data that never change."""
    boto3.DEFAULT_SESSION._session.register_component("data_loader", _MODELS)


@pytest.fixture
def cluster(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubernetesApi]:
    """EKS cluster `prod-eu`, its API served by a stand-in."""
    create_cluster("prod-eu")
    with KubernetesApi("prod-eu", secret_keys()) as api:
        patch_describe_cluster(monkeypatch, "prod-eu", api.endpoint, api.ca_pem)
        yield api


def read(
    patterns: Sequence[str] = ("prod-*",), *, page_size: int = KUBERNETES_PAGE_SIZE
) -> list[ImageReference]:
    return eks_references(
        boto3.client("eks", region_name=DEFAULT_REGION),
        lambda: boto3.client("sts", region_name=DEFAULT_REGION),
        patterns,
        region=DEFAULT_REGION,
        page_size=page_size,
        timeout=5,
    )


def ref(image: str, source: str) -> ImageReference:
    repository_and_tag, _, digest = image.partition("@")
    registry, _, rest = repository_and_tag.partition("/")
    repository, _, tag = rest.partition(":")
    return ImageReference(repository, tag or None, digest or None, registry, source)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# What runs


def test_a_running_pod_counts_its_image_and_the_digest_it_runs(cluster: KubernetesApi) -> None:
    cluster.add(
        pod(
            "api-7f9c-x2",
            "payments",
            {"api": f"{API}:v7"},
            image_ids={"api": f"docker-pullable://{API}@{DIGEST}"},
        )
    )

    source = "EKS prod-eu/payments Pod api-7f9c-x2"
    assert read() == [ref(f"{API}:v7", source), ref(f"{API}@{DIGEST}", source)]


def test_an_init_container_counts(cluster: KubernetesApi) -> None:
    cluster.add(
        pod(
            "api-7f9c-x2",
            "payments",
            {"api": f"{API}:v7"},
            init={"migrate": f"{HOST}/payments/migrate:v7"},
            image_ids={"migrate": f"{HOST}/payments/migrate@{OLD_DIGEST}"},
        )
    )

    source = "EKS prod-eu/payments Pod api-7f9c-x2"
    references = read()
    assert ref(f"{HOST}/payments/migrate:v7", source) in references
    assert ref(f"{HOST}/payments/migrate@{OLD_DIGEST}", source) in references


def test_an_ephemeral_container_counts(cluster: KubernetesApi) -> None:
    cluster.add(
        pod(
            "api-7f9c-x2",
            "payments",
            {"api": f"{API}:v7"},
            ephemeral={"debugger-x7k2p": f"{HOST}/tools/debug:2"},
        )
    )

    assert ref(f"{HOST}/tools/debug:2", "EKS prod-eu/payments Pod api-7f9c-x2") in read()


def test_a_finished_pod_does_not_count(cluster: KubernetesApi) -> None:
    cluster.add(
        pod("report-1", "batch", {"report": f"{HOST}/batch/report:1"}, phase="Succeeded"),
        pod("report-2", "batch", {"report": f"{HOST}/batch/report:2"}, phase="Failed"),
        pod("report-3", "batch", {"report": f"{HOST}/batch/report:3"}, phase="Pending"),
    )

    assert read() == [ref(f"{HOST}/batch/report:3", "EKS prod-eu/batch Pod report-3")]


# What a cluster would start again


def test_a_scaled_to_zero_deployment_keeps_its_image(cluster: KubernetesApi) -> None:
    cluster.add(deployment("api", "payments", {"api": f"{API}:v7"}, replicas=0))
    pushed = datetime(2025, 3, 1, tzinfo=UTC)
    images = [Image(DIGEST, ("v7",), pushed), Image(OLD_DIGEST, ("v6",), pushed)]

    references = read()

    assert references == [ref(f"{API}:v7", "EKS prod-eu/payments Deployment api")]
    assert resolve_in_use(references, "payments/api", images, registry=HOST) == {
        DIGEST: "in use: EKS prod-eu/payments Deployment api"
    }


def test_an_old_replica_set_is_a_rollback_target(cluster: KubernetesApi) -> None:
    cluster.add(
        deployment("api", "payments", {"api": f"{API}:v7"}),
        replica_set("api-5d8f6c9b7", "payments", {"api": f"{API}:v6"}, owner="api", replicas=0, revision=2),
    )

    assert ref(f"{API}:v6", "EKS prod-eu/payments ReplicaSet api-5d8f6c9b7") in read()


def test_a_stateful_set_revision_keeps_its_template(cluster: KubernetesApi) -> None:
    cluster.add(
        stateful_set("ledger", "payments", {"ledger": f"{HOST}/payments/ledger:v3"}),
        controller_revision(
            "ledger-6b7c9d8f5",
            "payments",
            {"ledger": f"{HOST}/payments/ledger:v2"},
            owner=("StatefulSet", "ledger"),
            revision=2,
        ),
    )

    assert (
        ref(f"{HOST}/payments/ledger:v2", "EKS prod-eu/payments ControllerRevision ledger-6b7c9d8f5")
        in read()
    )


def test_a_revision_without_a_pod_template_is_left_out(cluster: KubernetesApi) -> None:
    """Other controllers (KubeVirt, OpenKruise, ...) keep other data in ControllerRevisions."""
    revision = controller_revision("vm-1", "vms", {"x": f"{API}:v1"}, owner=("StatefulSet", "vm"), revision=1)
    revision["data"] = {"spec": {"domain": {"cpu": {"cores": 2}}}}
    cluster.add(revision)

    assert read() == []


def test_a_cron_job_keeps_its_job_template(cluster: KubernetesApi) -> None:
    cluster.add(cron_job("nightly", "reports", {"export": f"{HOST}/reports/export:2024.11"}))

    assert read() == [ref(f"{HOST}/reports/export:2024.11", "EKS prod-eu/reports CronJob nightly")]


# Lists


def test_lists_are_read_page_by_page(cluster: KubernetesApi) -> None:
    cluster.add(*(pod(f"api-{n}", "payments", {"api": f"{API}:v{n}"}) for n in range(7)))

    references = read(page_size=3)

    assert sorted(reference.tag or "" for reference in references) == [f"v{n}" for n in range(7)]
    requests = cluster.requests_to(PODS)
    assert [request.query.get("limit") for request in requests] == ["3", "3", "3"]
    assert ["continue" in request.query for request in requests] == [False, True, True]


def test_an_expired_continue_token_reads_the_list_again(cluster: KubernetesApi) -> None:
    cluster.add(*(pod(f"api-{n}", "payments", {"api": f"{API}:v{n}"}) for n in range(5)))
    cluster.expire_continue(PODS)

    references = read(page_size=2)

    assert sorted(reference.tag or "" for reference in references) == [f"v{n}" for n in range(5)]
    statuses = [(request.status, "continue" in request.query) for request in cluster.requests_to(PODS)]
    assert statuses == [(200, False), (410, True), (200, False), (200, True), (200, True)]


def test_a_list_that_keeps_expiring_deletes_nothing(cluster: KubernetesApi) -> None:
    cluster.add(*(pod(f"api-{n}", "payments", {"api": f"{API}:v{n}"}) for n in range(3)))
    cluster.expire_continue(PODS, times=MAX_LIST_ATTEMPTS)

    with pytest.raises(
        UsageError, match=r"prod-eu .*GET /api/v1/pods: the list expired \(HTTP 410 Gone\) 3 times"
    ):
        read(page_size=2)


# Clusters


def test_clusters_are_chosen_by_pattern(cluster: KubernetesApi, monkeypatch: pytest.MonkeyPatch) -> None:
    create_cluster("staging-eu")
    patch_describe_cluster(monkeypatch, "staging-eu", f"https://127.0.0.1:{closed_port()}", cluster.ca_pem)
    cluster.add(deployment("api", "payments", {"api": f"{API}:v7"}))

    assert read(["prod-*"]) == [ref(f"{API}:v7", "EKS prod-eu/payments Deployment api")]
    with pytest.raises(UsageError, match="EKS cluster staging-eu"):
        read(["*"])


def test_a_pattern_that_matches_no_cluster_stops_the_run(cluster: KubernetesApi) -> None:
    with pytest.raises(UsageError, match=r"protect.in_use_eks: no EKS cluster in .* matches 'prdo-eu'"):
        read(["prod-*", "prdo-eu"])


# Failing closed


def test_a_forbidden_list_names_the_cluster_and_the_fix(cluster: KubernetesApi) -> None:
    path = RESOURCES["ControllerRevision"].path
    cluster.forbid(path)

    with pytest.raises(UsageError) as caught:
        read()

    message = str(caught.value)
    assert f"EKS cluster prod-eu ({DEFAULT_REGION}): GET {path}: HTTP 403" in message
    assert 'cannot list resource "controllerrevisions"' in message
    assert "access entry" in message
    assert "AmazonEKSViewPolicy" in message
    assert "authentication mode must include API" in message


def test_a_token_for_another_cluster_is_refused(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    create_cluster("prod-eu")
    with KubernetesApi("prod-us", secret_keys()) as other:
        patch_describe_cluster(monkeypatch, "prod-eu", other.endpoint, other.ca_pem)

        with pytest.raises(
            UsageError, match=r"prod-eu .*GET /api/v1/pods: HTTP 401.*did not accept the token"
        ):
            read()

    assert other.requests[0].refused == "STS: SignatureDoesNotMatch (signed for another cluster?)"


def test_an_unreachable_endpoint_deletes_nothing(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    create_cluster("prod-eu", public=False)
    patch_describe_cluster(
        monkeypatch, "prod-eu", f"https://127.0.0.1:{closed_port()}", CertificateAuthority().pem
    )

    with pytest.raises(UsageError) as caught:
        read()

    message = str(caught.value)
    assert f"EKS cluster prod-eu ({DEFAULT_REGION}): GET /api/v1/pods: cannot connect" in message
    assert "private (its public access is off)" in message
    assert "VPC" in message


def test_a_certificate_from_another_ca_is_refused(
    cluster: KubernetesApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_describe_cluster(monkeypatch, "prod-eu", cluster.endpoint, CertificateAuthority("impostor").pem)

    with pytest.raises(UsageError, match=r"prod-eu .*GET /api/v1/pods: TLS verification .* failed"):
        read()

    assert cluster.requests == []


def test_a_certificate_authority_that_is_not_pem_is_refused(
    cluster: KubernetesApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_describe_cluster(monkeypatch, "prod-eu", cluster.endpoint, "not a certificate")

    with pytest.raises(
        UsageError, match=r"prod-eu .*certificateAuthority.data is not a usable CA certificate"
    ):
        read()


# The token


def test_the_token_is_a_presigned_get_caller_identity_url_for_the_cluster(aws: None) -> None:
    sts = boto3.client("sts", region_name=DEFAULT_REGION)

    token = eks_token(sts, "prod-eu")

    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    assert "=" not in encoded
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    url = urllib.parse.urlsplit(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode())
    query = dict(urllib.parse.parse_qsl(url.query))
    assert (url.scheme, url.path) == ("https", "/")
    assert url.netloc in {"sts.amazonaws.com", f"sts.{DEFAULT_REGION}.amazonaws.com"}
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert query["X-Amz-Credential"].endswith(f"/{DEFAULT_REGION}/sts/aws4_request")
    assert token_problem(token, "prod-eu", secret_keys()) is None
    assert (
        token_problem(token, "prod-us", secret_keys())
        == "STS: SignatureDoesNotMatch (signed for another cluster?)"
    )


# The stand-in


class _Response:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body)


def _normalised(document: Any) -> Any:
    """JSON with the kubernetes client's timestamps (``+00:00``) written as the API server does (``Z``)."""
    text = json.dumps(document, sort_keys=True).replace("+00:00", "Z")
    return json.loads(text)


def test_the_stand_in_serves_objects_the_kubernetes_client_reads_whole(aws: None) -> None:
    """Every field of every kind the stand-in serves is one the Kubernetes API has (a misspelt or
    misplaced one would be dropped by the client's models), with the type the API gives it."""
    import kubernetes  # the official client, a test dependency only (pyproject's dev extras)

    cluster = KubernetesApi("prod-eu", secret_keys())
    cluster.add(
        pod(
            "api-1",
            "payments",
            {"api": f"{API}:v7"},
            init={"migrate": f"{API}:v7"},
            ephemeral={"debugger": f"{HOST}/tools/debug:2"},
            image_ids={"api": f"{API}@{DIGEST}"},
        ),
        deployment("api", "payments", {"api": f"{API}:v7"}),
        replica_set("api-5d8f6c9b7", "payments", {"api": f"{API}:v6"}, owner="api"),
        stateful_set("ledger", "payments", {"ledger": f"{API}:v3"}),
        controller_revision(
            "ledger-6b7c9d8f5", "payments", {"l": f"{API}:v2"}, owner=("StatefulSet", "ledger"), revision=2
        ),
        cron_job("nightly", "reports", {"export": f"{API}:v1"}),
        daemon_set("agent", "kube-system", {"agent": f"{API}:v1"}),
        job("nightly-29000000", "reports", {"export": f"{API}:v1"}, owner="nightly"),
    )
    token = eks_token(boto3.client("sts", region_name=DEFAULT_REGION), "prod-eu")
    client = kubernetes.client.ApiClient()

    for resource in RESOURCES.values():
        status, body, _ = cluster.answer(resource.path, {}, token)
        assert status == 200
        assert len(body["items"]) == 1, resource.kind
        model = client.deserialize(_Response(body), f"V1{resource.kind}List")
        assert _normalised(client.sanitize_for_serialization(model)) == _normalised(body), resource.kind


# Wired into the policy


def test_a_run_keeps_what_a_cluster_the_policy_names_runs(
    cluster: KubernetesApi, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecr_cleanup.cli import EXIT_OK, main
    from tests.support.ecr_seed import create_repository, days_ago, push_image, remaining_digests

    create_repository("payments/api")
    running = push_image("payments/api", tags=["v7"], pushed_at=days_ago(90))
    old = push_image("payments/api", tags=["v6"], pushed_at=days_ago(120))
    cluster.add(pod("api-1", "payments", {"api": f"{API}:v7"}))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"rules": [{"older_than_days": 30}], "protect": {"in_use_eks": ["prod-*"]}}))

    assert main(["run", "--yes", "--policy", str(policy), "--format", "json"]) == EXIT_OK
    assert remaining_digests("payments/api") == {running}
    report = json.loads(capsys.readouterr().out)
    [kept] = report["repositories"][0]["keep"]
    assert kept["reason"] == "protected: in use: EKS prod-eu/payments Pod api-1"
    assert old not in remaining_digests("payments/api")
