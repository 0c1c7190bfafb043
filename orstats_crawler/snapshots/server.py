"""Replay a snapshot over HTTP on loopback (tests, benchmarks, fault injection); ``ReplayHandler``
subclasses inject faults:

    python -m orstats_crawler.snapshots.server PATH --port 8080 [--latency-ms 200]
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from orstats_crawler.snapshots.reader import Snapshot, SnapshotError


class ReplayHandler(BaseHTTPRequestHandler):
    """Serves ``server.snapshot``; subclasses override ``respond`` to inject faults."""

    server: "ReplayServer"
    protocol_version = "HTTP/1.1"

    def respond(self, path: str) -> tuple[int, dict[str, str], bytes]:
        snapshot = self.server.snapshot
        entry = snapshot.lookup(path)
        if entry is None:
            return 404, {"Content-Type": "text/plain"}, b"not in snapshot\n"
        try:
            return entry.status, {"Content-Type": entry.content_type}, snapshot.body(entry)
        except SnapshotError as error:  # an entry that must not be read: said, not served
            return 403, {"Content-Type": "text/plain"}, f"{error}\n".encode()

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
        # shutdown() waits for the loop to look up: every 50 ms rather than socketserver's 0.5 s
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
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
