"""Outside servers (scrapyd, datasette) started as subprocesses on a free loopback port, and the
optional outside tools (chromium) the tests drive.

A server is always stopped by the fixture that started it; its output goes to a log file that a
failing test prints, so a server that dies says why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tool_missing(message: str) -> NoReturn:
    """Skip the test that needs a missing outside tool, or fail it under ORSTATS_REQUIRE_TOOLS=1:
    CI installs every tool (.ci/setup-tools), so a skip there would hide a test that never ran."""
    if os.environ.get("ORSTATS_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str, path: str | None = None) -> str:
    """The tool's path (``path`` when executable, else from PATH), or ``tool_missing``."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(name)
    if found:
        return found
    tool_missing(f"{name} is not installed (.ci/setup-tools installs it)")


class Server:
    """A subprocess serving HTTP at ``url``; ``log`` holds its stdout and stderr."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process = process
        self.url = url
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(command: list[str], url: str, *, cwd: Path, log: Path, env: dict[str, str] | None = None,
                 timeout: float = 30) -> Server:
    """Start ``command`` and wait (at most ``timeout`` s) until ``url`` answers HTTP (any status:
    a server behind basic auth answers 401 once it listens)."""
    handle = log.open("wb")
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                               stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    server = Server(process, url, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{server.output()}")
        try:
            requests.get(url, timeout=2)
            return server
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{command[0]} did not answer {url} within {timeout} s:\n{server.output()}")
