"""The objects one run of the state machine keeps in S3, under its run folder.

    <prefix><YYYY/MM/DD/HHMMSSZ>-<execution>/        the run folder (the execution's start and name)
        summary.json                                 the run's totals and every failed repository
        repositories/<region>/<repository>.json, .csv   each repository's report
        _run/items.json                              the repositories, in groups of one region each: the
                                                     Map's items
        _run/usage.json                              the snapshot of images in use, and its generation
        _run/usage-refresh-<generation>              who is reading the snapshot again
        _run/notes.json                              what the summary must add (set-up problems)
        _run/results/<item>-<part>.json              what each cleanup invocation did
        _run/batches/<region>/<repository as one segment>/<part>-<invocation>-<n>.json
                                                     each delete or archive batch, before and after
    <prefix>_cache/index-children/<region>/<repository>.json   the child lists of image indexes

Every key uses only the characters AWS's object key guidelines call safe (letters, digits,
`! - _ . * ' ( )` and `/` between folders), so that every S3 tool lists, copies and deletes them
as written: names are written with `key_segment`/`key_path`. A repository's batch records sit in
a folder of their own whose name holds no `/` (`team!api`), so that no repository's folder lies
inside another's (`team/` and `team/api/`). Repository names never start with `_`, so `_run/` and
`_cache/` cannot collide with them. Writing the items succeeds only if no other run wrote them
first (an S3 conditional write), so two runs can never share a folder.
"""

from __future__ import annotations

import json
import math
import string
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .usage import BoundedSnapshot, UsageCache, UsageError, UsageScan
from .usage.reading import describe_error
from .usage.snapshot import Clock, utc_now

__all__ = [
    "MAX_REPOSITORIES_PER_ITEM",
    "SAFE_KEY_CHARACTERS",
    "CachedManifests",
    "ManifestCache",
    "RunData",
    "RunDataError",
    "SharedUsage",
    "group_repositories",
    "key_path",
    "key_segment",
    "run_folder",
]

MAX_REPOSITORIES_PER_ITEM = 25
ITEMS_PER_WORKER = 4
REFRESH_WAIT_SECONDS = 120.0
REFRESH_POLL_SECONDS = 2.0
SAFE_KEY_CHARACTERS = frozenset(string.ascii_letters + string.digits + "!-_.*'()/")
"""What AWS's object key naming guidelines list as safe: letters, digits, `!-_.*'()`, and `/`."""
_KEPT = frozenset(string.ascii_letters + string.digits + "-_.")


def key_segment(text: str) -> str:
    """`text` as one segment of an S3 key: safe characters only, no `/`, readable, and injective
    (two different texts never give the same segment).

    Letters, digits, `-`, `_` and `.` stay; `/` becomes `!` (`team/api` -> `team!api`); every other
    character becomes `(XX)` for each byte of its UTF-8 encoding (`+` -> `(2B)`, `!` -> `(21)`).
    A literal `!` or `(` never stays, so each encoded text reads back one way only.
    """
    parts = []
    for character in text:
        if character in _KEPT:
            parts.append(character)
        elif character == "/":
            parts.append("!")
        else:
            parts.append("".join(f"({byte:02X})" for byte in character.encode()))
    return "".join(parts)


def key_path(name: str) -> str:
    """A repository name as folders of an S3 key (`team/api` stays `team/api`), each segment written
    with `key_segment`: readable, safe and injective. Valid repository names come out unchanged."""
    return "/".join(key_segment(part) for part in name.split("/"))


class RunDataError(Exception):
    """The run's objects in S3 could not be read or written."""


def group_repositories(
    repositories: Mapping[str, Sequence[str]], concurrency: int
) -> list[tuple[str, list[str]]]:
    """The Map's items: the repositories of each region (region -> names), in groups of one region
    each, at least `ITEMS_PER_WORKER` per concurrent child when there are enough repositories (so
    that a slow group does not hold up the end of the run), and at most `MAX_REPOSITORIES_PER_ITEM`
    per group."""
    total = sum(len(names) for names in repositories.values())
    if not total:
        return []
    size = max(1, min(MAX_REPOSITORIES_PER_ITEM, math.ceil(total / (ITEMS_PER_WORKER * concurrency))))
    return [
        (region, list(names[start : start + size]))
        for region, names in repositories.items()
        for start in range(0, len(names), size)
    ]


@dataclass(frozen=True)
class RunData:
    """One run's folder in one bucket, through a boto3 S3 client."""

    s3: Any
    bucket: str
    folder: str

    @property
    def items_key(self) -> str:
        return f"{self.folder}_run/items.json"

    @property
    def usage_key(self) -> str:
        return f"{self.folder}_run/usage.json"

    @property
    def results_prefix(self) -> str:
        return f"{self.folder}_run/results/"

    def put_report(self, name: str, body: str, content_type: str) -> None:
        """A report of the run as a whole (`summary.json`), at the top of the run folder."""
        self._put(f"{self.folder}{name}", body, content_type)

    def repository_report_key(self, repository: str, extension: str, *, region: str) -> str:
        return f"{self.folder}repositories/{key_segment(region)}/{key_path(repository)}.{extension}"

    def put_repository_report(
        self, repository: str, extension: str, body: str, content_type: str, *, region: str
    ) -> None:
        """A repository's report (`json` or `csv`), under `repositories/<region>/`, where no repository
        name can take the place of a report of the whole run (a repository named `summary`)."""
        self._put(self.repository_report_key(repository, extension, region=region), body, content_type)

    def write_items(
        self,
        groups: list[tuple[str, list[str]]],
        claim: str,
        sources: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """Claim the run folder by writing its items (each group's region and repositories, and the
        region of the source of each that is a replica, from `sources`: region -> repository ->
        source region), unless another writer did. `claim` names this
        writer (the execution): when the answer to the write is lost and botocore's retry finds the
        object, or Step Functions runs the step again, the object it finds is its own."""
        items: list[dict[str, Any]] = []
        for index, (region, group) in enumerate(groups):
            item: dict[str, Any] = {"index": index, "region": region, "repositories": group}
            replicas = {
                name: source for name, source in (sources or {}).get(region, {}).items() if name in group
            }
            if replicas:
                item["sources"] = replicas
            items.append(item)
        try:
            self._put(self.items_key, json.dumps(items), "application/json", if_none_match="*", claim=claim)
        except RunDataError as error:
            if "PreconditionFailed" not in str(error):
                raise
            if self._claim_of(self.items_key) != key_segment(claim):
                raise RunDataError(
                    f"s3://{self.bucket}/{self.folder}: another run already uses this run folder; "
                    "start this one again"
                ) from error

    def read_items(self) -> list[tuple[str, list[str]]]:
        """Each item's region and repositories."""
        document = json.loads(self._get(self.items_key))
        return [(str(item["region"]), list(item["repositories"])) for item in document]

    def write_results(self, item: int, part: str, results: list[dict[str, Any]]) -> None:
        body = json.dumps({"item": item, "part": part, "repositories": results})
        self._put(f"{self.results_prefix}{item:05d}-{part}.json", body, "application/json")

    def read_part(self, item: int, part: str) -> list[dict[str, Any]]:
        """The results one invocation wrote for its item, or none if it wrote nothing."""
        try:
            return list(json.loads(self._get(f"{self.results_prefix}{item:05d}-{part}.json"))["repositories"])
        except RunDataError as error:
            if "NoSuchKey" in str(error):
                return []
            raise

    def read_results(self) -> list[dict[str, Any]]:
        """Every repository result the invocations wrote; a later part overrides an earlier one."""
        keys: list[str] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.results_prefix
            )
            keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as error:
            raise RunDataError(
                f"s3://{self.bucket}/{self.results_prefix}: {describe_error(error)}"
            ) from error
        results: dict[tuple[str | None, str], dict[str, Any]] = {}
        for key in sorted(keys):
            for result in json.loads(self._get(key))["repositories"]:
                results[(result.get("region"), result["repository"])] = result
        return list(results.values())

    def batches_prefix(self, repository: str, *, region: str) -> str:
        """The folder of a repository's batch records, one segment (`team!api/`) in its region's, so
        that no repository's folder lies inside another's (`team/` and `team/api/`)."""
        return f"{self.folder}_run/batches/{key_segment(region)}/{key_segment(repository)}/"

    def write_batch(self, repository: str, name: str, record: Mapping[str, Any], *, region: str) -> None:
        """Keep one batch's record (what it deleted or archived) under the repository, at once."""
        prefix = self.batches_prefix(repository, region=region)
        self._put(f"{prefix}{name}.json", json.dumps(record), "application/json")

    def read_batches(self, repository: str, *, region: str) -> list[dict[str, Any]]:
        """Every batch record of the repository in this run, in the order of their names, each with
        its `name`."""
        prefix = self.batches_prefix(repository, region=region)
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as error:
            raise RunDataError(f"s3://{self.bucket}/{prefix}: {describe_error(error)}") from error
        return [
            {**json.loads(self._get(key)), "name": key.removeprefix(prefix).removesuffix(".json")}
            for key in sorted(keys)
        ]

    def write_notes(self, notes: list[str]) -> None:
        self._put(f"{self.folder}_run/notes.json", json.dumps(notes), "application/json")

    def read_notes(self) -> list[str]:
        try:
            return [str(note) for note in json.loads(self._get(f"{self.folder}_run/notes.json"))]
        except RunDataError as error:
            if "NoSuchKey" in str(error):
                return []
            raise

    def read_usage(self) -> tuple[int, UsageScan] | None:
        """The run's snapshot of images in use and its generation; None before the first is written."""
        try:
            body = self._get(self.usage_key)
        except RunDataError as error:
            if "NoSuchKey" in str(error):
                return None
            raise UsageError(str(error)) from error
        try:
            document = json.loads(body)
            return int(document["generation"]), UsageScan.from_json(document["scan"])
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"s3://{self.bucket}/{self.usage_key}: unreadable: {error!r}") from error

    def write_usage(self, generation: int, scan: UsageScan) -> None:
        body = json.dumps({"generation": generation, "scan": scan.to_json()})
        try:
            self._put(self.usage_key, body, "application/json")
        except RunDataError as error:
            raise UsageError(str(error)) from error

    def claim_refresh(self, generation: int) -> bool:
        """Whether this caller is the one to read generation `generation` + 1 (first claim wins)."""
        try:
            self._put(f"{self.folder}_run/usage-refresh-{generation}", "", "text/plain", if_none_match="*")
        except RunDataError as error:
            if "PreconditionFailed" in str(error):
                return False
            raise UsageError(str(error)) from error
        return True

    def claim_notification(self) -> bool:
        """Whether this caller is the one to announce the run's end (first claim wins): EventBridge
        may deliver an event, and Lambda run its target, more than once."""
        try:
            self._put(f"{self.folder}_run/notified", "", "text/plain", if_none_match="*")
        except RunDataError as error:
            if "PreconditionFailed" in str(error):
                return False
            raise
        return True

    def read_summary(self) -> dict[str, Any] | None:
        """The run's summary.json, or None when the run wrote none."""
        try:
            return dict(json.loads(self._get(f"{self.folder}summary.json")))
        except RunDataError as error:
            if "NoSuchKey" in str(error):
                return None
            raise

    def _claim_of(self, key: str) -> str | None:
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as error:
            raise RunDataError(f"s3://{self.bucket}/{key}: {describe_error(error)}") from error
        claim = head.get("Metadata", {}).get("claim")
        return str(claim) if claim is not None else None

    def _put(
        self,
        key: str,
        body: str,
        content_type: str,
        *,
        if_none_match: str | None = None,
        claim: str | None = None,
    ) -> None:
        extra: dict[str, Any] = {"IfNoneMatch": if_none_match} if if_none_match else {}
        if claim is not None:
            # S3 metadata is ASCII only; an execution's name need not be
            extra["Metadata"] = {"claim": key_segment(claim)}
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=body.encode(), ContentType=content_type, **extra
            )
        except (ClientError, BotoCoreError) as error:
            raise RunDataError(f"s3://{self.bucket}/{key}: {describe_error(error)}") from error

    def _get(self, key: str) -> bytes:
        try:
            body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise RunDataError(f"s3://{self.bucket}/{key}: {describe_error(error)}") from error
        return body


class SharedUsage:
    """The run's snapshot of images in use, shared by every invocation through S3.

    Whoever finds the snapshot expired claims its refresh (a conditional write, so one caller per
    generation wins), scans again, reusing what never changes, and replaces it; the others wait for
    the new generation and only scan themselves if it does not come within `wait`.
    """

    def __init__(
        self,
        run: RunData,
        scan: Callable[[UsageCache], UsageScan],
        *,
        max_age: timedelta,
        clock: Clock = utc_now,
        wait: float = REFRESH_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run = run
        self._scan = scan
        self.max_age = max_age
        self._clock = clock
        self._wait = wait
        self._sleep = sleep
        self._current: tuple[int, BoundedSnapshot] | None = None
        self._lock = threading.Lock()
        self.scans = 0

    def publish(self, scan: UsageScan) -> BoundedSnapshot:
        """Store the run's first snapshot (generation 0)."""
        self.run.write_usage(0, scan)
        return self._keep(0, scan)

    def snapshot(self) -> BoundedSnapshot:
        with self._lock:
            if self._current is not None and not self._current[1].expired():
                return self._current[1]
            stored = self.run.read_usage()
            if stored is None:
                raise UsageError(f"s3://{self.run.bucket}/{self.run.usage_key}: the run has no snapshot")
            generation, scan = stored
            snapshot = self._keep(generation, scan)
            if not snapshot.expired():
                return snapshot
            if self.run.claim_refresh(generation):
                return self._refresh(generation, scan.cache)
            deadline = time.monotonic() + self._wait
            while time.monotonic() < deadline:
                self._sleep(REFRESH_POLL_SECONDS)
                stored = self.run.read_usage()
                if stored is not None and stored[0] > generation:
                    snapshot = self._keep(*stored)
                    if not snapshot.expired():
                        return snapshot
            return self._refresh(generation, scan.cache)

    def _refresh(self, generation: int, cache: UsageCache) -> BoundedSnapshot:
        scan = self._scan(cache)
        self.scans += 1
        self.run.write_usage(generation + 1, scan)
        return self._keep(generation + 1, scan)

    def _keep(self, generation: int, scan: UsageScan) -> BoundedSnapshot:
        snapshot = BoundedSnapshot(scan, self.max_age, self._clock)
        self._current = (generation, snapshot)
        return snapshot


def run_folder(prefix: str, now: datetime, execution: str | None = None) -> str:
    """The run's folder: the report prefix, the execution's start time and, from the state machine,
    the execution's name (unique, and how a report leads back to its execution)."""
    suffix = f"-{key_segment(execution)}" if execution else ""
    return f"{prefix}{now:%Y/%m/%d/%H%M%SZ}{suffix}/"


class ManifestCache:
    """The child lists of image indexes, kept across runs by repository and digest.

    A manifest is content-addressed: the list for a digest never changes, so each index is read with
    BatchGetImage — which is a pull, and resets its pull time — once in its life. Entries of indexes
    no longer in the repository are dropped when the repository's entry is written again.
    """

    def __init__(self, s3: Any, bucket: str, prefix: str, *, region: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = f"{prefix}_cache/index-children/{key_segment(region)}/"

    def key(self, repository: str) -> str:
        return f"{self.prefix}{key_path(repository)}.json"

    def read(self, repository: str) -> dict[str, list[str]]:
        key = self.key(repository)
        try:
            document = json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return {}
            raise RunDataError(f"s3://{self.bucket}/{key}: {describe_error(error)}") from error
        except (BotoCoreError, ValueError) as error:
            raise RunDataError(f"s3://{self.bucket}/{key}: {error}") from error
        return {str(digest): [str(child) for child in children] for digest, children in document.items()}

    def write(self, repository: str, children: dict[str, list[str]]) -> None:
        key = self.key(repository)
        body = json.dumps(children, sort_keys=True).encode()
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        except (ClientError, BotoCoreError) as error:
            raise RunDataError(f"s3://{self.bucket}/{key}: {describe_error(error)}") from error


class CachedManifests:
    """A registry whose `manifests` answers from a `ManifestCache` first and reads only new indexes.

    The cache only saves reads: when it cannot be read or written, the indexes are read from the
    registry (their pull times may then be refreshed) and the problem is logged.
    """

    def __init__(self, registry: Any, cache: ManifestCache, warn: Callable[[str], None]) -> None:
        self._registry = registry
        self._cache = cache
        self._warn = warn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]:
        try:
            known = self._cache.read(repository)
        except RunDataError as error:
            self._warn(f"index manifests read from ECR, not from the cache: {error}")
            known = {}
        missing = [digest for digest in digests if digest not in known]
        if missing:
            known.update(self._registry.manifests(repository, missing))
        current = {digest: known[digest] for digest in digests if digest in known}
        if missing:
            try:
                self._cache.write(repository, current)
            except RunDataError as error:
                self._warn(f"index manifests not cached: {error}")
        return current
