"""A snapshot: a folder of recorded responses with a `manifest.json` (the layout of ../shared/captures),
answering a URL by path and query, whatever the host or parameter order.

Replayed by ``middlewares.replay.SnapshotReplayMiddleware`` (`-a snapshot=PATH`) or over HTTP by
``snapshots.server`` (`python -m orstats_crawler.snapshots.server PATH`); written by
``snapshots.recorder`` (`-a record=PATH`).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path, PurePath
from urllib.parse import parse_qsl, urlsplit

MANIFEST = "manifest.json"
# The largest response body a snapshot may hold: the largest real one (the 2026-08-22 catalogue) is
# under 1 MB; a file far beyond is not a recorded response.
MAX_BODY_BYTES = 64 * 1024 * 1024


@lru_cache(maxsize=1 << 14)  # the same URLs come back: each request's, and a snapshot's for each crawl of it
def url_key(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What identifies a URL in a snapshot: its path and its sorted, decoded query."""
    parts = urlsplit(url)
    return parts.path or "/", tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


@dataclass(frozen=True)
class Entry:
    url: str
    file: str
    status: int
    content_type: str


class SnapshotError(Exception):
    """A snapshot folder that cannot be replayed; the message names it and says why."""


class Snapshot:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        manifest_path = self.folder / MANIFEST
        if not manifest_path.is_file():
            raise SnapshotError(f"snapshot {self.folder}: no {MANIFEST} there (is the path right?)")
        self.root = self.folder.resolve()  # once: resolving walks every part of the path
        self._resolved_folders: dict[PurePath, Path] = {}
        try:
            self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            self.entries = {
                url_key(e["url"]): Entry(e["url"], e["file"], int(e.get("status", 200)),
                                         e.get("content_type") or "application/octet-stream")
                for e in self.manifest.get("entries", [])
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise SnapshotError(f"snapshot {manifest_path}: not a readable manifest "
                                f"({type(error).__name__}: {error})") from None

    @property
    def captured(self) -> datetime | None:
        """The capture day (noon UTC, so the day survives any timezone) or None."""
        value = self.manifest.get("captured")
        return datetime.fromisoformat(value).replace(hour=12, tzinfo=timezone.utc) if value else None

    def lookup(self, url: str) -> Entry | None:
        return self.entries.get(url_key(url))

    def body(self, entry: Entry) -> bytes:
        """The entry's file, read only when it is a regular file inside the snapshot folder (after
        resolving links and `..`) and at most MAX_BODY_BYTES: a manifest pointing elsewhere, at a FIFO
        (which would block the crawl for ever) or a device is a ``SnapshotError`` naming the entry."""
        path = self._resolved(entry.file)
        if not path.is_relative_to(self.root):
            raise self._refused(entry, f"{path} is outside the snapshot folder")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, and is refused below
        except OSError as error:
            raise self._refused(entry, f"cannot be opened ({error.strerror})") from None
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise self._refused(entry, f"not a regular file ({file_kind(info.st_mode)})")
            if info.st_size > MAX_BODY_BYTES:
                raise self._refused(entry, f"{info.st_size} bytes, above the limit of {MAX_BODY_BYTES}")
            body = file.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise self._refused(entry, f"grew above the limit of {MAX_BODY_BYTES} bytes while read")
        return body

    def _resolved(self, file: str) -> Path:
        """``(folder / file).resolve()``, with the resolution of each folder the files sit in kept: a
        capture holds thousands of files in a few folders, and resolving walks every part of a path.
        The file's own name is still followed when it is a link."""
        relative = PurePath(file)
        if relative.name in ("", ".", ".."):
            return (self.folder / relative).resolve()
        parent = self._resolved_folders.get(relative.parent)
        if parent is None:
            parent = self._resolved_folders[relative.parent] = (self.folder / relative.parent).resolve()
        path = parent / relative.name
        return path.resolve() if path.is_symlink() else path

    def _refused(self, entry: Entry, why: str) -> SnapshotError:
        return SnapshotError(f"snapshot {self.folder}: entry {entry.url} file {entry.file!r}: {why}; not read")


def file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"
