"""What every benchmark script shares: timed subprocesses (wall, CPU, peak RSS), markdown tables,
the machine's description, and a deadline so no benchmark runs unbounded."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT.parent / "shared" / "captures"


@dataclass
class Measured:
    """One child process: how it ended, how long it took, what it cost."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + system of the child itself
    max_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool


def run_measured(cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None,
                 cwd: Path = ROOT, log_dir: Path | None = None, name: str = "run") -> Measured:
    """Run a command in its own process group through bench/rusage.py (for its own peak RSS and
    CPU time), its output in files; kill the group after `timeout` seconds."""
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    out_path, err_path, usage_path = (log_dir / f"{name}.{ext}" for ext in ("stdout", "stderr", "rusage.json"))
    usage_path.unlink(missing_ok=True)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bench.rusage", str(usage_path), *cmd], cwd=cwd,
                                env={**os.environ, **(env or {})}, stdout=out, stderr=err,
                                start_new_session=True)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    usage = json.loads(usage_path.read_text()) if usage_path.is_file() else {}
    return Measured(
        returncode=usage.get("returncode", proc.returncode), wall_s=wall, cpu_s=usage.get("cpu_s", float("nan")),
        max_rss_mb=usage.get("max_rss_kb", float("nan")) / 1024,  # Linux reports KiB
        stdout=out_path.read_text(errors="replace"), stderr=err_path.read_text(errors="replace"),
        timed_out=timed_out.is_set(),
    )


def stop(proc: subprocess.Popen) -> None:
    """End a server we started: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def python() -> str:
    return sys.executable


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (numbers already formatted by the caller)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells[1:]]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:,.0f}"


def machine() -> dict[str, str]:
    """The facts a reader needs to compare these numbers with their own."""
    import scrapy
    import sqlite3

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": str(os.cpu_count()),
        "ram": f"{ram_gb:.1f} GiB",
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "load": " ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1, 5, 15 min)",
    }


def code_version() -> str:
    """The commit measured, and whether the work tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"
    return f"commit {commit or 'unknown'}" + (f", {len(changed)} tracked files changed" if changed else ", clean")


def print_machine() -> None:
    info = machine()
    print(f"machine: {info['cores']} cores, {info['ram']} RAM, {info['cpu']}; {info['os']}")
    print(f"software: Python {info['python']}, Scrapy {info['scrapy']}, SQLite {info['sqlite']}")
    print(f"code: {code_version()}")
    print(f"load average at start: {info['load']}")


class Deadline:
    """A time budget for a loop: `while deadline.left() > 0`."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

