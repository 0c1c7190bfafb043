"""Snapshots: a folder of recorded responses with a `manifest.json` (the layout of ../shared/captures).

- ``Snapshot`` reads one and answers a URL by path and query, whatever the host or parameter order;
- ``SnapshotReplayMiddleware`` answers every request of a crawl from it (`-a snapshot=PATH`), a
  URL missing from it as 404, with no network at all;
- ``ResponseArchiveMiddleware`` keeps every final response of a crawl (for the history's raw
  archive) and, with `-a record=PATH`, writes them out as a snapshot that replays identically;
- ``ReplayServer`` replays a snapshot over HTTP on loopback (tests, benchmarks, fault injection):
  `python -m orstats_crawler.snapshot PATH --port 8080 [--latency-ms 200]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scrapy import signals
from scrapy.http import Response
from scrapy.responsetypes import responsetypes

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


class Snapshot:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        manifest_path = self.folder / MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(f"snapshot {self.folder}: no {MANIFEST}")
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        self.entries = {
            url_key(e["url"]): Entry(e["url"], e["file"], int(e.get("status", 200)),
                                     e.get("content_type") or "application/octet-stream")
            for e in self.manifest.get("entries", [])
        }

    @property
    def captured(self) -> datetime | None:
        """The capture day (noon UTC, so the day survives any timezone) or None."""
        value = self.manifest.get("captured")
        return datetime.fromisoformat(value).replace(hour=12, tzinfo=timezone.utc) if value else None

    def lookup(self, url: str) -> Entry | None:
        return self.entries.get(url_key(url))

    def body(self, entry: Entry) -> bytes:
        return (self.folder / entry.file).read_bytes()


class SnapshotReplayMiddleware:
    """Answer from the snapshot named by the spider's `snapshot` argument; a miss is a 404."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.snapshot: Snapshot | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "SnapshotReplayMiddleware":
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        folder = getattr(spider, "snapshot", None)
        if folder:
            self.snapshot = Snapshot(folder)
            spider.logger.info("replaying snapshot %s (%d URLs), no network", folder, len(self.snapshot.entries))

    def process_request(self, request: Any) -> Response | None:
        if self.snapshot is None:
            return None
        entry = self.snapshot.lookup(request.url)
        stats = self.crawler.stats
        headers = {"Date": format_datetime(self.snapshot.captured, usegmt=True)} if self.snapshot.captured else {}
        if entry is None:
            stats.inc_value("orstats/snapshot/missing")
            return Response(request.url, status=404, headers=headers, body=b"", request=request)
        stats.inc_value("orstats/snapshot/replayed")
        headers["Content-Type"] = entry.content_type
        body = self.snapshot.body(entry)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return cls(request.url, status=entry.status, headers=headers, body=body, request=request)


@dataclass
class ArchivedResponse:
    url: str
    status: int
    content_type: str
    body: bytes
    fetched_at: datetime


class ResponseArchiveMiddleware:
    """Keep every final response on the spider (``spider.archive``) and record a snapshot on demand."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ResponseArchiveMiddleware":
        return cls(crawler)

    def process_response(self, request: Any, response: Response) -> Response:
        spider = self.crawler.spider
        if hasattr(spider, "archive"):
            spider.archive.append(ArchivedResponse(
                url=request.url,
                status=response.status,
                content_type=(response.headers.get("Content-Type") or b"").decode("latin-1"),
                body=response.body,
                fetched_at=datetime.now(timezone.utc),
            ))
        return response

    def spider_closed(self, spider: Any) -> None:
        folder = getattr(spider, "record", None)
        if folder and getattr(spider, "archive", None) is not None:
            write_snapshot(folder, spider.archive, name=Path(folder).name,
                           base_url=spider.settings.get("OPENROUTER_BASE_URL"))
            spider.logger.info("recorded %d responses into snapshot %s", len(spider.archive), folder)


def file_name_for(url: str, content_type: str) -> str:
    """A stable relative file name for a URL: its path, then its sorted query made safe, an extension.

    `/api/frontend/v1/stats/model-activity?permaslug=a/b&variant=free` ->
    `api/frontend/v1/stats/model-activity@permaslug=a__b&variant=free.json`.
    """
    path, query = url_key(url)
    name = path.strip("/") or "index"
    if query:
        name += "@" + "&".join(f"{k}={v}".replace("/", "__") for k, v in query)
    name = re.sub(r"[^A-Za-z0-9._/@=&-]", "_", name)
    name = "/".join(part if part not in {"", ".", ".."} else "_" for part in name.split("/"))
    ext = ".json" if "json" in content_type else ".html" if "html" in content_type else ".txt"
    return name + ext


def write_snapshot(folder: str | Path, responses: list[ArchivedResponse], name: str, base_url: str,
                   notes: str = "recorded by orstats_crawler") -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for response in responses:
        relative = file_name_for(response.url, response.content_type)
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.body)
        entries.append({
            "url": response.url, "file": relative, "status": response.status,
            "content_type": response.content_type, "bytes": len(response.body),
            "sha256": hashlib.sha256(response.body).hexdigest(),
            "source": "orstats_crawler record", "fetched_at": response.fetched_at.isoformat(),
        })
    captured = min((r.fetched_at for r in responses), default=datetime.now(timezone.utc))
    manifest = {"snapshot": name, "captured": captured.date().isoformat(), "base_url": base_url,
                "notes": notes, "entries": entries}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return folder


# --- replay over HTTP ---------------------------------------------------------------------------

class ReplayHandler(BaseHTTPRequestHandler):
    """Serves ``server.snapshot``; subclasses override ``respond`` to inject faults."""

    server: "ReplayServer"
    protocol_version = "HTTP/1.1"

    def respond(self, path: str) -> tuple[int, dict[str, str], bytes]:
        snapshot = self.server.snapshot
        entry = snapshot.lookup(path)
        if entry is None:
            return 404, {"Content-Type": "text/plain"}, b"not in snapshot\n"
        return entry.status, {"Content-Type": entry.content_type}, snapshot.body(entry)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        with self.server.lock:
            self.server.requests.append(self.path)
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        status, headers, body = self.respond(self.path)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # tests and benchmarks count requests in server.requests instead


class ReplayServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: two crawls at 16 connections each would see refused
    # connections under load, a fault of the test bench rather than of the site.
    request_queue_size = 128

    def __init__(self, snapshot: Snapshot, port: int = 0, latency_ms: float = 0,
                 handler: type[ReplayHandler] = ReplayHandler):
        super().__init__(("127.0.0.1", port), handler)
        self.snapshot = snapshot
        self.latency_s = latency_ms / 1000
        self.requests: list[str] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start_background(self) -> "ReplayServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Replay a snapshot folder over HTTP on 127.0.0.1.")
    parser.add_argument("snapshot")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = ReplayServer(Snapshot(args.snapshot), args.port, args.latency_ms)
    print(f"replaying {args.snapshot} on {server.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
