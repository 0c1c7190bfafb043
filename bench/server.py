"""The snapshot replay server with a fixed latency, in its own process, bounded in time.

Its own process: the server's threads then never compete for the GIL with the crawl or the
sequential loop being measured (the measured process only waits on sockets, as with a real site).

    python -m bench.server SNAPSHOT --latency-ms 200 --max-seconds 600   # prints its URL, then serves
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from orstats_crawler.snapshots.reader import Snapshot
from orstats_crawler.snapshots.server import ReplayServer

from bench.common import ROOT, stop


class BenchReplayServer(ReplayServer):
    # socketserver's default backlog (5) drops SYNs when 32 connections open at once, and the
    # kernel retries them a whole second later: a delay that belongs to neither client.
    request_queue_size = 128


@dataclass
class RunningServer:
    base_url: str
    pid: int
    cpu_s: float | None = None  # user + system of the server process, filled when it stops


@contextmanager
def replay_server(snapshot: Path, latency_ms: float, max_seconds: float = 900) -> Iterator[RunningServer]:
    """Start the server process, yield it (its base URL), stop it and note the CPU time it used."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.server", str(snapshot), "--latency-ms", str(latency_ms),
                             "--max-seconds", str(max_seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    server = None
    try:
        line = _first_line(proc, timeout=30)
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"bench server for {snapshot} did not start: {line!r}")
        server = RunningServer(line.strip(), proc.pid)
        yield server
    finally:
        if server is not None:
            server.cpu_s = cpu_seconds(proc.pid)
        stop(proc)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process, all its threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("snapshot")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop serving after this long")
    args = parser.parse_args(argv)
    server = BenchReplayServer(Snapshot(args.snapshot), port=0, latency_ms=args.latency_ms)
    stopper = threading.Timer(args.max_seconds, server.shutdown)
    stopper.daemon = True
    stopper.start()
    print(server.base_url, flush=True)
    started = time.monotonic()
    server.serve_forever()
    print(f"served {len(server.requests)} requests in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
