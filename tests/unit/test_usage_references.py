"""Image references: the Docker grammar, external source contents, and which images they protect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ecr_cleanup.plan import Image
from ecr_cleanup.usage import ImageReference, UsageError, parse_reference, parse_references, resolve_in_use

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
PUSHED = datetime(2024, 1, 1, tzinfo=UTC)


def image(digest: str, *tags: str) -> Image:
    return Image(digest, tags, PUSHED)


def ref(
    repository: str,
    tag: str | None = None,
    digest: str | None = None,
    registry: str | None = None,
    source: str = "test",
) -> ImageReference:
    return ImageReference(repository, tag, digest, registry, source)


# --------------------------------------------------------------------------------------------------
# parse_reference
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", None, "nginx", None, None),
        ("nginx:1.25", None, "nginx", "1.25", None),
        ("library/nginx", None, "library/nginx", None, None),
        ("team/app:v1", None, "team/app", "v1", None),
        ("a/b/c/d:latest", None, "a/b/c/d", "latest", None),
        (f"team/app@{D1}", None, "team/app", None, D1),
        (f"team/app:v1@{D1}", None, "team/app", "v1", D1),
        (f"{ECR}/team/app:v1", ECR, "team/app", "v1", None),
        (f"{ECR}/team/app@{D1}", ECR, "team/app", None, D1),
        (f"{ECR}/team/app:v1@{D1}", ECR, "team/app", "v1", D1),
        (f"{ECR}/app", ECR, "app", None, None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5000/app:v1", "localhost:5000", "app", "v1", None),
        ("registry.example.com:5000/team/app", "registry.example.com:5000", "team/app", None, None),
        ("[::1]:5000/app:dev", "[::1]:5000", "app", "dev", None),
        ("Registry.Example.com/app", "Registry.Example.com", "app", None, None),
        ("public.ecr.aws/lambda/python:3.12", "public.ecr.aws", "lambda/python", "3.12", None),
        ("localhost:5000", None, "localhost", "5000", None),
        ("my_app__x.y-z--w:Tag_1.0-rc", None, "my_app__x.y-z--w", "Tag_1.0-rc", None),
        ("app:" + "t" * 128, None, "app", "t" * 128, None),
        ("app@sha512:" + "ab" * 64, None, "app", None, "sha512:" + "ab" * 64),
    ],
)
def test_reference_forms_parse(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    assert parse_reference(text, "src") == ImageReference(repository, tag, digest, registry, "src")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("x y", "whitespace"),
        (" app", "whitespace"),
        ("Team/app", "invalid repository name 'Team/app'"),
        ("APP:v1", "invalid repository name 'APP'"),
        ("app:", "invalid tag ''"),
        ("app:-v1", "invalid tag '-v1'"),
        ("app:" + "t" * 129, "invalid tag"),
        ("app:v/1", "invalid registry host 'app:v'"),
        ("app@sha256:abc", "invalid digest 'sha256:abc'"),
        ("app@sha256:" + "A" * 64, "invalid digest"),
        ("app@" + "1" * 64, "invalid digest"),
        (f"app@{D1}@{D2}", "invalid digest"),
        ("app@", "invalid digest ''"),
        ("app//x", "invalid repository name"),
        ("app/", "invalid repository name"),
        ("/app", "invalid repository name"),
        ("-app", "invalid repository name"),
        ("app-", "invalid repository name"),
        ("a..b", "invalid repository name"),
        (f"{ECR}/", "invalid repository name ''"),
        ("bad_host.com/app", "invalid registry host 'bad_host.com'"),
        ("-host.com/app", "invalid registry host"),
        ("host.com:port/app", "invalid registry host"),
        ("a" * 256, "longer than 255"),
    ],
)
def test_bad_references_raise_usage_error_naming_the_text(text: str, why: str) -> None:
    with pytest.raises(UsageError, match="cannot parse") as raised:
        parse_reference(text, "ECS task t-1")
    message = str(raised.value)
    assert message.startswith("ECS task t-1: ")
    assert repr(text) in message
    assert why in message


def test_usage_error_is_raised_without_a_source_prefix_when_there_is_no_source() -> None:
    with pytest.raises(UsageError, match=r"^cannot parse 'x y': contains whitespace$"):
        parse_reference("x y", "")


_component = st.from_regex(r"[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,5}){0,2}", fullmatch=True)


@given(
    registry=st.sampled_from([None, ECR, "localhost:5000", "registry.example.com"]),
    path=st.lists(_component, min_size=1, max_size=4),
    tag=st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    digest=st.none() | st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
)
def test_a_formatted_reference_parses_back_to_its_parts(
    registry: str | None, path: list[str], tag: str | None, digest: str | None
) -> None:
    assume(registry is not None or len(path) == 1 or "." not in path[0])
    repository = "/".join(path)
    text = (f"{registry}/" if registry else "") + repository
    text += (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert parse_reference(text, "s") == ImageReference(repository, tag, digest, registry, "s")


# --------------------------------------------------------------------------------------------------
# parse_references: the content of an S3 object or SSM parameter
# --------------------------------------------------------------------------------------------------


def test_plain_text_has_one_reference_per_line_skipping_blanks_and_comments() -> None:
    content = f"# in use by the batch fleet\n\nteam/app:v1\n  {ECR}/team/web@{D1}  \n\n# end\n"
    assert parse_references(content, "s3://b/k") == [
        ref("team/app", "v1", source="s3://b/k"),
        ref("team/web", digest=D1, registry=ECR, source="s3://b/k"),
    ]


def test_json_list_of_strings_is_read() -> None:
    assert parse_references('["team/app:v1", "nginx"]', "ssm:/p") == [
        ref("team/app", "v1", source="ssm:/p"),
        ref("nginx", source="ssm:/p"),
    ]


def test_json_object_with_images_is_read() -> None:
    assert parse_references('  {"images": ["team/app:v1"]}', "ssm:/p") == [
        ref("team/app", "v1", source="ssm:/p")
    ]


def test_empty_content_lists_no_references() -> None:
    assert parse_references("", "s3://b/k") == []
    assert parse_references("[]", "s3://b/k") == []


def test_a_bad_line_is_named_by_number() -> None:
    with pytest.raises(UsageError, match=r"^s3://b/k: line 3: cannot parse 'x y'"):
        parse_references("team/app:v1\n# ok\nx y\n", "s3://b/k")


def test_a_bad_json_entry_is_named_by_index() -> None:
    with pytest.raises(UsageError, match=r"^ssm:/p: images\[1\]: cannot parse 'Bad'"):
        parse_references('{"images": ["app", "Bad"]}', "ssm:/p")


def test_a_json_entry_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(UsageError, match=r"^ssm:/p: \[0\]: must be a string, not int"):
        parse_references("[1]", "ssm:/p")


def test_invalid_json_is_refused() -> None:
    with pytest.raises(UsageError, match=r"^s3://b/k: not valid JSON"):
        parse_references('["team/app:v1",', "s3://b/k")


def test_a_json_object_without_images_is_refused() -> None:
    with pytest.raises(UsageError, match=r"^s3://b/k: missing key 'images'"):
        parse_references("{}", "s3://b/k")


def test_a_misspelt_key_is_refused_by_name() -> None:
    with pytest.raises(UsageError, match=r"^s3://b/k: unknown key 'image'"):
        parse_references('{"images": [], "image": "team/app:v1"}', "s3://b/k")


@pytest.mark.parametrize("content", ['{"images": "team/app"}', '{"images": null}'])
def test_images_that_are_not_a_list_are_refused(content: str) -> None:
    with pytest.raises(UsageError, match=r"^s3://b/k: images must be a list of image references"):
        parse_references(content, "s3://b/k")


# --------------------------------------------------------------------------------------------------
# resolve_in_use
# --------------------------------------------------------------------------------------------------

IMAGES = [image(D1, "v1", "latest"), image(D2, "v2"), image(D3)]


def test_a_digest_reference_protects_that_digest() -> None:
    in_use = resolve_in_use([ref("team/app", digest=D3, source="Lambda function f:2")], "team/app", IMAGES)
    assert in_use == {D3: "in use: Lambda function f:2"}


def test_a_tag_reference_protects_the_image_that_holds_the_tag_now() -> None:
    in_use = resolve_in_use([ref("team/app", "v2", source="ECS service s")], "team/app", IMAGES)
    assert in_use == {D2: "in use: ECS service s"}


def test_a_tag_no_image_holds_protects_nothing() -> None:
    assert resolve_in_use([ref("team/app", "v9")], "team/app", IMAGES) == {}


def test_a_digest_not_in_the_repository_protects_nothing() -> None:
    assert resolve_in_use([ref("team/app", digest="sha256:" + "9" * 64)], "team/app", IMAGES) == {}


def test_a_reference_without_tag_or_digest_means_latest() -> None:
    assert resolve_in_use([ref("team/app", source="s")], "team/app", IMAGES) == {D1: "in use: s"}


def test_a_reference_with_tag_and_digest_protects_both_images() -> None:
    in_use = resolve_in_use([ref("team/app", "v2", D3, source="s")], "team/app", IMAGES)
    assert in_use == {D2: "in use: s", D3: "in use: s"}


def test_references_to_other_repositories_are_ignored() -> None:
    references = [ref("team/other", "v1"), ref("app", "v1"), ref("team/app/sub", "v1"), ref("library/nginx")]
    assert resolve_in_use(references, "team/app", IMAGES) == {}


def test_references_to_other_registries_are_ignored() -> None:
    references = [
        ref("team/app", "v1", registry="123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
        ref("team/app", "v1", registry="210987654321.dkr.ecr.us-east-1.amazonaws.com"),
        ref("team/app", "v1", registry="docker.io"),
        ref("team/app", "v1", registry="public.ecr.aws"),
    ]
    assert resolve_in_use(references, "team/app", IMAGES, registry=ECR) == {}


def test_a_reference_without_registry_matches_the_given_registry() -> None:
    assert resolve_in_use([ref("team/app", "v1", source="s")], "team/app", IMAGES, registry=ECR) == {
        D1: "in use: s"
    }


def test_without_a_given_registry_any_registry_matches() -> None:
    references = [ref("team/app", "v2", registry="docker.io", source="s")]
    assert resolve_in_use(references, "team/app", IMAGES) == {D2: "in use: s"}


@pytest.mark.parametrize(
    "host",
    [
        ECR.upper(),
        "123456789012.dkr-ecr.us-east-1.on.aws",
        "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
        "123456789012.dkr-ecr-fips.us-east-1.on.aws",
        f"{ECR}:443",
    ],
)
def test_other_hosts_of_the_same_ecr_registry_match(host: str) -> None:
    in_use = resolve_in_use(
        [ref("team/app", "v1", registry=host, source="s")], "team/app", IMAGES, registry=ECR
    )
    assert in_use == {D1: "in use: s"}


def test_the_first_source_per_digest_wins() -> None:
    references = [
        ref("team/app", "v1", source="ECS task t-1"),
        ref("team/app", digest=D1, source="Lambda function f:1"),
        ref("team/app", "latest", source="s3://b/k"),
    ]
    assert resolve_in_use(references, "team/app", IMAGES) == {D1: "in use: ECS task t-1"}


def test_resolve_in_use_accepts_a_one_shot_iterable() -> None:
    references = iter([ref("team/app", "v1", source="a"), ref("team/app", "v2", source="b")])
    assert resolve_in_use(references, "team/app", IMAGES) == {D1: "in use: a", D2: "in use: b"}
