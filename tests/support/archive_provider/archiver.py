"""Zip building with the rules of ``hashicorp/archive`` 2.7.x, without any Terraform involved.

What is reproduced from the real provider (``internal/provider/zip_archiver.go``):

* a directory is walked like Go's ``filepath.Walk``: names sorted byte-wise within each directory,
  depth first, directories themselves never stored as entries;
* every visited path, relative to ``source_dir`` (the root itself is ``"."``), is tested against
  ``excludes`` with doublestar semantics (see :func:`compile_exclude`); an excluded directory is not
  entered;
* symlinked files are stored with their target's content and mode; symlinked directories are
  walked under the link's name, unless ``exclude_symlink_directories`` is set. With that flag the
  real provider returns ``filepath.SkipDir`` for a non-directory, which makes Go skip the rest of
  the containing directory; the stand-in does the same so that both produce the same entries;
* an archive that would be empty is an error and leaves ``output_path`` untouched;
* files (``source_dir``, ``source_file``) get the Unix mode of the file, or ``output_file_mode``,
  and the DOS timestamp that Go writes for ``time.Time{}``: 2049-01-01 00:00:00;
* content entries (``source_content``, ``source`` blocks) get no mode and a zero DOS timestamp,
  which Python reads as ``(1980, 0, 0, 0, 0, 0)``; ``source`` entries are sorted by filename and
  ``output_file_mode`` does not apply to them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

FILE_DATE_TIME = (2049, 1, 1, 0, 0, 0)
"""What Go's ``FileHeader.SetModTime(time.Time{})`` encodes: year 1 wraps around to 2049."""

CONTENT_DATE_TIME = (1980, 0, 0, 0, 0, 0)
"""A DOS date and time of zero, as written by Go's ``zip.Writer.Create``."""

_CREATOR_MSDOS = 0
_CREATOR_UNIX = 3
_MSDOS_READ_ONLY = 0x01


class ArchiveError(Exception):
    """A source cannot be archived; the message mirrors the real provider's."""


@dataclass(frozen=True)
class ZipEntry:
    """One member of the zip: its name, its bytes, and the header fields that vary."""

    name: str
    data: bytes
    date_time: tuple[int, int, int, int, int, int]
    create_system: int
    external_attr: int


@dataclass(frozen=True)
class Checksums:
    """The computed attributes that ``archive_file`` derives from the bytes of the zip."""

    size: int
    md5: str
    sha1: str
    sha256: str
    base64sha256: str
    sha512: str
    base64sha512: str

    @classmethod
    def of(cls, data: bytes) -> Checksums:
        sha256 = hashlib.sha256(data).digest()
        sha512 = hashlib.sha512(data).digest()
        return cls(
            size=len(data),
            md5=hashlib.md5(data).hexdigest(),
            sha1=hashlib.sha1(data).hexdigest(),
            sha256=sha256.hex(),
            base64sha256=base64.b64encode(sha256).decode(),
            sha512=sha512.hex(),
            base64sha512=base64.b64encode(sha512).decode(),
        )


# --------------------------------------------------------------------------- excludes


def _split_segments(pattern: str) -> list[str]:
    """Split on ``/`` except where it is escaped or inside ``[...]`` or ``{...}``."""
    segments: list[str] = []
    current: list[str] = []
    depth_braces = 0
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            current.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "{":
            depth_braces += 1
        elif char == "}" and depth_braces:
            depth_braces -= 1
        elif char == "/" and not depth_braces:
            segments.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    segments.append("".join(current))
    return segments


def _translate_class(pattern: str, start: int) -> tuple[str, int]:
    """Translate ``[...]`` starting at ``pattern[start] == "["``; return the regex and the next index."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    items: list[str] = []
    while i < len(pattern) and pattern[i] != "]":
        char = pattern[i]
        if char == "\\":
            i += 1
            if i >= len(pattern):
                break
            char = pattern[i]
        i += 1
        if i + 1 < len(pattern) and pattern[i] == "-" and pattern[i + 1] != "]":
            high = pattern[i + 1]
            i += 2
            if high == "\\" and i < len(pattern):
                high = pattern[i]
                i += 1
            items.append(f"{re.escape(char)}-{re.escape(high)}")
        else:
            items.append(re.escape(char))
    if i >= len(pattern) or not items:
        raise ArchiveError(f"error checking excludes matches: syntax error in pattern {pattern!r}")
    body = "".join(items)
    return (f"[^/{body}]" if negate else f"[{body}]"), i + 1


def _closing_brace(pattern: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "{":
            depth += 1
        elif pattern[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ArchiveError(f"error checking excludes matches: syntax error in pattern {pattern!r}")


def _split_alternatives(body: str) -> list[str]:
    alternatives: list[str] = []
    depth = 0
    current: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            current.append(body[i : i + 2])
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            alternatives.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    alternatives.append("".join(current))
    return alternatives


def _translate_segment(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            while i < len(segment) and segment[i] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            regex, i = _translate_class(segment, i)
            out.append(regex)
        elif char == "{":
            end = _closing_brace(segment, i)
            alternatives = _split_alternatives(segment[i + 1 : end])
            out.append("(?:" + "|".join(_translate_segment(alt) for alt in alternatives) + ")")
            i = end + 1
        elif char == "\\":
            if i + 1 >= len(segment):
                raise ArchiveError(f"error checking excludes matches: syntax error in pattern {segment!r}")
            out.append(re.escape(segment[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def compile_exclude(pattern: str) -> re.Pattern[str]:
    """Compile an ``excludes`` entry with the semantics of doublestar v4 ``PathMatch``.

    ``*`` and ``?`` stay within one path segment; ``**`` as a whole segment spans zero or more
    segments, so ``**/__pycache__/**`` matches ``__pycache__``, ``a/__pycache__`` and everything
    under them; ``[...]``, ``{a,b}`` and ``\\`` escapes work as in doublestar. A ``**`` that is not a
    whole segment is a plain ``*``. Known divergence: a pattern ending in ``/**/`` is treated like
    one ending in ``/**`` (they only differ for paths with a trailing ``/``, which the walk never
    produces).
    """
    segments = _split_segments(pattern)
    if len(segments) > 1 and segments[-1] == "" and segments[-2] == "**":
        segments.pop()
    regex = ""
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == last:
                regex = regex[:-1] + "(?:/.*)?" if regex.endswith("/") else regex + ".*"
            else:
                regex += "(?:.*/)?"
            continue
        regex += _translate_segment(segment)
        if index != last:
            regex += "/"
    return re.compile(regex, re.DOTALL)


def is_excluded(relative_path: str, excludes: Iterable[re.Pattern[str]]) -> bool:
    return any(pattern.fullmatch(relative_path) for pattern in excludes)


# --------------------------------------------------------------------------- modes


def parse_file_mode(text: str) -> int:
    """Parse ``output_file_mode`` like Go's ``strconv.ParseUint(text, 0, 32)``."""
    error = ArchiveError(f"error parsing output_file_mode value: {text}")
    if not text or text != text.strip() or text[0] in "+-":
        raise error
    try:
        value = int(text, 8) if len(text) > 1 and text[0] == "0" and text[1].isdigit() else int(text, 0)
    except ValueError:
        raise error from None
    if value >= 2**32:
        raise error
    return value


def _file_external_attr(permissions: int) -> int:
    """Go's ``FileHeader.SetMode`` for a regular file: Unix mode high, DOS read-only bit low."""
    attr = (stat.S_IFREG | permissions) << 16
    if not permissions & stat.S_IWUSR:
        attr |= _MSDOS_READ_ONLY
    return attr


def _file_entry(name: str, path: Path, st_mode: int, output_file_mode: int | None) -> ZipEntry:
    permissions = stat.S_IMODE(st_mode) if output_file_mode is None else output_file_mode & 0o777
    return ZipEntry(
        name=name,
        data=path.read_bytes(),
        date_time=FILE_DATE_TIME,
        create_system=_CREATOR_UNIX,
        external_attr=_file_external_attr(permissions),
    )


def _content_entry(name: str, data: bytes) -> ZipEntry:
    return ZipEntry(
        name=name.replace(os.sep, "/"),
        data=data,
        date_time=CONTENT_DATE_TIME,
        create_system=_CREATOR_MSDOS,
        external_attr=0,
    )


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _DirWalk:
    excludes: tuple[re.Pattern[str], ...]
    exclude_symlink_directories: bool
    output_file_mode: int | None

    def entries(self, source_dir: Path) -> list[ZipEntry]:
        found: list[ZipEntry] = []
        self._walk_root(source_dir, "", found)
        return found

    def _walk_root(self, directory: Path, archive_base: str, found: list[ZipEntry]) -> None:
        if is_excluded(archive_base or ".", self.excludes):
            return
        self._walk_children(directory, archive_base, found)

    def _walk_children(self, directory: Path, archive_base: str, found: list[ZipEntry]) -> None:
        for name in sorted(os.listdir(directory), key=os.fsencode):
            archive_path = f"{archive_base}/{name}" if archive_base else name
            if self._visit(directory / name, archive_path, found):
                return

    def _visit(self, path: Path, archive_path: str, found: list[ZipEntry]) -> bool:
        """Add ``path`` to ``found``; return True when the rest of its directory must be skipped."""
        info = path.lstat()
        excluded = is_excluded(archive_path, self.excludes)
        if stat.S_ISDIR(info.st_mode):
            if not excluded:
                self._walk_children(path, archive_path, found)
            return False
        if excluded:
            return False
        if stat.S_ISLNK(info.st_mode):
            try:
                target = Path(os.path.realpath(path, strict=True))
            except OSError as exc:
                raise ArchiveError(f"error archiving directory: {exc}") from exc
            info = target.stat()
            if stat.S_ISDIR(info.st_mode):
                if self.exclude_symlink_directories:
                    return True
                self._walk_root(target, archive_path, found)
                return False
        found.append(_file_entry(archive_path, path, info.st_mode, self.output_file_mode))
        return False


def dir_entries(
    source_dir: str | os.PathLike[str],
    excludes: Iterable[str] = (),
    *,
    exclude_symlink_directories: bool = False,
    output_file_mode: int | None = None,
) -> list[ZipEntry]:
    directory = Path(source_dir)
    if not directory.exists():
        raise ArchiveError(
            f"error archiving directory: could not archive missing directory: {os.fspath(source_dir)}"
        )
    if not directory.is_dir():
        raise ArchiveError(
            f"error archiving directory: could not archive directory that is a file: {os.fspath(source_dir)}"
        )
    walk = _DirWalk(
        excludes=tuple(compile_exclude(pattern) for pattern in excludes if pattern),
        exclude_symlink_directories=exclude_symlink_directories,
        output_file_mode=output_file_mode,
    )
    entries = walk.entries(directory)
    if not entries:
        raise ArchiveError("error archiving directory: archive has not been created as it would be empty")
    return entries


def file_entries(
    source_file: str | os.PathLike[str], *, output_file_mode: int | None = None
) -> list[ZipEntry]:
    path = Path(source_file)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ArchiveError(
            f"error archiving file: could not archive missing file: {os.fspath(source_file)}"
        ) from None
    return [_file_entry(path.name, path, info.st_mode, output_file_mode)]


def content_entries(contents: Mapping[str, str]) -> list[ZipEntry]:
    """Entries for ``source_content`` or ``source`` blocks, keyed by filename."""
    return [_content_entry(name, contents[name].encode()) for name in sorted(contents)]


# --------------------------------------------------------------------------- output


def write_zip(output_path: Path, entries: Iterable[ZipEntry]) -> Checksums:
    """Write ``entries`` in order to ``output_path`` (creating its folder) and hash the result."""
    output_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with zipfile.ZipFile(output_path, "w") as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=entry.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = entry.create_system
            info.external_attr = entry.external_attr
            archive.writestr(info, entry.data)
    return Checksums.of(output_path.read_bytes())
