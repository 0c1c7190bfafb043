"""The snapshot reader opens only regular files inside the snapshot folder, of a bounded size: a
manifest entry pointing outside (`../`, an absolute path, a link), at a FIFO or a device is refused
with one line naming the entry, and a crawl of such a snapshot ends instead of hanging."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from orstats_crawler.snapshots import reader
from orstats_crawler.snapshots.reader import Snapshot, SnapshotError
from tests.conftest import run_scrapy
from tests.factory import build_snapshot


def with_entry_file(folder: Path, url_part: str, file: str) -> str:
    """Point the first manifest entry whose URL holds ``url_part`` at ``file``; returns its URL."""
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = next(e for e in manifest["entries"] if url_part in e["url"])
    entry["file"] = file
    manifest_path.write_text(json.dumps(manifest))
    return entry["url"]


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return build_snapshot(tmp_path / "snapshot")


def body_of(folder: Path, url: str) -> bytes:
    replay = Snapshot(folder)
    return replay.body(replay.lookup(url))


@pytest.mark.parametrize("outside", ["../secret.json", "/etc/hostname", "link.json"])
def test_an_entry_outside_the_folder_is_refused_naming_it(snapshot, tmp_path, outside):
    (tmp_path / "secret.json").write_text('{"data": []}')
    (snapshot / "link.json").symlink_to(tmp_path / "secret.json")
    url = with_entry_file(snapshot, "/api/v1/models", outside)
    with pytest.raises(SnapshotError) as raised:
        body_of(snapshot, url)
    message = str(raised.value)
    assert "\n" not in message and f"entry {url} file {outside!r}" in message
    assert "is outside the snapshot folder; not read" in message


def test_a_fifo_or_a_device_is_refused_at_once(snapshot):
    os.mkfifo(snapshot / "pipe.json")
    url = with_entry_file(snapshot, "/api/v1/models", "pipe.json")
    with pytest.raises(SnapshotError, match=r"not a regular file \(a FIFO\); not read"):
        body_of(snapshot, url)
    (snapshot / "dev").symlink_to("/dev")
    url = with_entry_file(snapshot, "/api/v1/models", "dev/zero")
    with pytest.raises(SnapshotError, match="outside the snapshot folder"):  # resolved: /dev/zero
        body_of(snapshot, url)


def test_a_file_above_the_size_limit_is_refused(snapshot, monkeypatch):
    monkeypatch.setattr(reader, "MAX_BODY_BYTES", 10)
    replay = Snapshot(snapshot)
    entry = replay.lookup(next(url for (path, _), url in
                               ((key, e.url) for key, e in replay.entries.items()) if path == "/api/v1/models"))
    with pytest.raises(SnapshotError, match="above the limit of 10"):
        replay.body(entry)


def test_a_crawl_of_a_snapshot_with_a_fifo_entry_ends_with_the_entry_named(snapshot, tmp_path):
    os.mkfifo(snapshot / "pipe.json")
    url = with_entry_file(snapshot, "/stats/model-activity", "pipe.json")
    db = tmp_path / "history.db"
    result = run_scrapy("crawl", "rankings", "-a", f"snapshot={snapshot}", f"-sORSTATS_DB={db}", timeout=120)
    assert result.returncode in (0, 3) and "Traceback" not in result.stderr
    with sqlite3.connect(db) as connection:
        messages = [m for (m,) in connection.execute("SELECT message FROM problems")]
    assert any("not a regular file (a FIFO)" in m and url in m for m in messages), messages
