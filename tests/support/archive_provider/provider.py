"""The plugin-protocol side of the stand-in: provider and ``archive_file`` data source on ``tf``.

The ``tf`` package hands a data source its configuration as raw decoded msgpack (``None`` for
unset attributes, ``tf.types.Unknown`` for values not known yet, lists for sets and for ``source``
blocks) and sends back whatever dictionary ``read`` returns, so that dictionary must carry every
attribute of the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tf import schema, types  # type: ignore[import-untyped]
from tf.iface import Config, DataSource, ReadDataContext, State  # type: ignore[import-untyped]
from tf.provider import Provider  # type: ignore[import-untyped]
from tf.utils import Diagnostics  # type: ignore[import-untyped]

from . import PROVIDER_ADDRESS
from .archiver import (
    ArchiveError,
    ZipEntry,
    content_entries,
    dir_entries,
    file_entries,
    parse_file_mode,
    write_zip,
)

_CONFLICTS: dict[str, tuple[str, ...]] = {
    "source": ("source_file", "source_dir", "source_content", "source_content_filename"),
    "source_content": ("source_file", "source_dir"),
    "source_content_filename": ("source_file", "source_dir"),
    "source_file": ("source_dir", "source_content", "source_content_filename"),
    "source_dir": ("source_file", "source_content", "source_content_filename"),
    "excludes": ("source_file", "source_content", "source_content_filename"),
}
"""The ``ConflictsWith`` validators of the real schema, attribute by attribute."""

_AT_LEAST_ONE_OF = ("source", "source_content_filename", "source_file", "source_dir")


def _string(name: str, description: str, **flags: bool) -> schema.Attribute:
    return schema.Attribute(name, types.String(), description=description, **flags)


def _computed(name: str, description: str) -> schema.Attribute:
    return _string(name, description, computed=True)


ARCHIVE_FILE_SCHEMA = schema.Schema(
    description="Generates an archive from content, a file, or directory of files (test stand-in).",
    attributes=[
        _computed("id", "The sha1 checksum hash of the output."),
        _string("type", "The type of archive to generate. NOTE: only `zip` is supported.", required=True),
        _string("source_content", "Add only this content to the archive.", optional=True),
        _string("source_content_filename", "The filename for `source_content`.", optional=True),
        _string("source_file", "Package this file into the archive.", optional=True),
        _string("source_dir", "Package entire contents of this directory into the archive.", optional=True),
        schema.Attribute(
            "excludes",
            types.Set(types.String()),
            description="Specify files/directories to ignore when reading the `source_dir`.",
            optional=True,
        ),
        schema.Attribute(
            "exclude_symlink_directories",
            types.Bool(),
            description="Whether symbolically linked directories should be excluded.",
            optional=True,
        ),
        _string("output_path", "The output of the archive file.", required=True),
        schema.Attribute(
            "output_size",
            types.Number(),
            description="The byte size of the output archive file.",
            computed=True,
        ),
        _string("output_file_mode", "Octal file mode for all archived files, e.g. `0666`.", optional=True),
        _computed("output_md5", "MD5 of output file"),
        _computed("output_sha", "SHA1 checksum of output file"),
        _computed("output_sha256", "SHA256 checksum of output file"),
        _computed("output_base64sha256", "Base64 Encoded SHA256 checksum of output file"),
        _computed("output_sha512", "SHA512 checksum of output file"),
        _computed("output_base64sha512", "Base64 Encoded SHA512 checksum of output file"),
    ],
    block_types=[
        schema.NestedBlock(
            "source",
            schema.NestMode.Set,
            schema.Block(
                attributes=[
                    _string("content", "Content of the file named `filename`.", required=True),
                    _string("filename", "Name of the file in the archive.", required=True),
                ]
            ),
        )
    ],
)

_ATTRIBUTES = ARCHIVE_FILE_SCHEMA.attributes


def _is_set(value: Any) -> bool:
    """Whether an attribute counts as specified: unknown values do, empty ``source`` sets do not."""
    return value is not None and value != []


def _configured(config: Config, name: str) -> bool:
    return _is_set(config.get(name))


class ArchiveFile(DataSource):  # type: ignore[misc]
    """The ``archive_file`` data source: builds the zip whenever Terraform reads it."""

    def __init__(self, provider: ArchiveProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "file"

    @classmethod
    def get_schema(cls) -> schema.Schema:
        return ARCHIVE_FILE_SCHEMA

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        for name, conflicting in _CONFLICTS.items():
            if not _configured(config, name):
                continue
            for other in conflicting:
                if _configured(config, other):
                    diags.add_error(
                        "Invalid Attribute Combination",
                        f'Attribute "{other}" cannot be specified when "{name}" is specified',
                        path=[name],
                    )
        if not any(_configured(config, name) for name in _AT_LEAST_ONE_OF):
            diags.add_error(
                "Invalid Attribute Combination",
                "At least one attribute out of [" + ",".join(_AT_LEAST_ONE_OF) + "] must be specified",
            )

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        try:
            checksums = write_zip(Path(config["output_path"]), _entries(config))
        except (ArchiveError, OSError) as exc:
            ctx.diagnostics.add_error("Archive creation error", f"error creating archive: {exc}")
            return None
        state: State = {attribute.name: config.get(attribute.name) for attribute in _ATTRIBUTES}
        state["source"] = config.get("source") or []
        state.update(
            id=checksums.sha1,
            output_size=checksums.size,
            output_md5=checksums.md5,
            output_sha=checksums.sha1,
            output_sha256=checksums.sha256,
            output_base64sha256=checksums.base64sha256,
            output_sha512=checksums.sha512,
            output_base64sha512=checksums.base64sha512,
        )
        return state


def _entries(config: Config) -> list[ZipEntry]:
    """The zip members for a validated configuration, picked in the real provider's order."""
    if config["type"] != "zip":
        raise ArchiveError(f"archive type not supported: {config['type']} (the stand-in only writes zip)")
    file_mode = config.get("output_file_mode")
    output_file_mode = parse_file_mode(file_mode) if file_mode else None
    if config.get("source_dir") is not None:
        return dir_entries(
            config["source_dir"],
            config.get("excludes") or (),
            exclude_symlink_directories=bool(config.get("exclude_symlink_directories")),
            output_file_mode=output_file_mode,
        )
    if config.get("source_file") is not None:
        return file_entries(config["source_file"], output_file_mode=output_file_mode)
    if config.get("source_content_filename") is not None:
        return content_entries({config["source_content_filename"]: config.get("source_content") or ""})
    return content_entries({block["filename"]: block["content"] for block in config.get("source") or []})


class ArchiveProvider(Provider):  # type: ignore[misc]
    """``hashicorp/archive`` with its one data source; the provider block takes no arguments."""

    def full_name(self) -> str:
        return PROVIDER_ADDRESS

    def get_model_prefix(self) -> str:
        return "archive_"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        return schema.Schema()

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        pass

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        pass

    def get_data_sources(self) -> list[type[DataSource]]:
        return [ArchiveFile]

    def get_resources(self) -> list[type[Any]]:
        return []


__all__ = ["ARCHIVE_FILE_SCHEMA", "ArchiveFile", "ArchiveProvider"]
