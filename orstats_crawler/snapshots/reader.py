"""A snapshot: a folder of recorded responses with a `manifest.json` (the layout of ../shared/captures),
answering a URL by path and query, whatever the host or parameter order.

Replayed by ``middlewares.replay.SnapshotReplayMiddleware`` (`-a snapshot=PATH`) or over HTTP by
``snapshots.server`` (`python -m orstats_crawler.snapshots.server PATH`); written by
``snapshots.recorder`` (`-a record=PATH`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

MANIFEST = "manifest.json"


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
        return (self.folder / entry.file).read_bytes()
