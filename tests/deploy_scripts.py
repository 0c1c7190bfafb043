"""The deploy/ server scripts run as a user runs them, from a copy of the project's deploy/ and
datasette/ folders in tmp_path: their PID files, logs and scrapyd's data land in the copy's data/,
never in the work tree. And what the tests ask the kernel about the processes they started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
# Variables a developer's shell may hold that would change what the scripts do.
SCRIPT_VARIABLES = ("SCRAPYD_", "ORSTATS_", "DATASETTE_")


@dataclass
class ProjectCopy:
    """deploy/ and datasette/ copied to ``root``; ``env`` has the venv's tools on PATH."""

    root: Path
    env: dict[str, str]

    def run(self, script: str, *args: str, env: dict[str, str] | None = None,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """deploy/<script> with its output captured: a server that kept the script's stdout open
        would hold this call until ``timeout`` (a TimeoutExpired, not a hang)."""
        return subprocess.run([str(self.root / "deploy" / script), *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)

    def pid_file(self, server: str) -> Path:
        return self.root / "data" / f"{server}.pid"

    def pid(self, server: str) -> int:
        return int(self.pid_file(server).read_text().split()[0])  # `PID START`

    def log(self, server: str) -> str:
        path = self.root / "data" / f"{server}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_everything(self) -> None:
        """What a failed test may have left: the script's stop, then KILL for anything it left."""
        for server in ("scrapyd", "datasette"):
            if self.pid_file(server).exists():
                pid = self.pid(server)
                self.run(f"{server}-server", "stop", env={"ORSTATS_STOP_TIMEOUT": "5"})
                if running(pid):
                    os.kill(pid, signal.SIGKILL)


def project_copy(folder: Path) -> ProjectCopy:
    shutil.copytree(ROOT / "deploy", folder / "deploy")
    shutil.copytree(ROOT / "datasette", folder / "datasette")
    env = {key: value for key, value in os.environ.items() if not key.startswith(SCRIPT_VARIABLES)}
    # No PYTHONPATH: scrapyd's jobs import the project from the deployed egg only.
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH="")
    return ProjectCopy(folder, env)


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, T, Z...), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]  # the command name, in parentheses, may hold spaces


def running(pid: int) -> bool:
    """Exists and has not exited: an orphan whose parent (this machine's init) never reaps it stays a
    zombie (Z), which runs nothing and holds no port once its last thread is gone (the leader thread
    shows Z while the others may still be closing the process's files)."""
    state = process_state(pid)
    if state is None:
        return False
    return state != "Z" or len(list(Path(f"/proc/{pid}/task").iterdir())) > 1


def listening_socket(port: int) -> str | None:
    """The inode of the socket listening on 127.0.0.1:``port``, from /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, local_port = fields[1].split(":")
        if fields[3] == "0A" and address == "0100007F" and int(local_port, 16) == port:  # 0A: LISTEN
            return fields[9]
    return None


def holds_listening_socket(pid: int, port: int) -> bool:
    """``pid`` itself has the listening socket open: it is the server, not a shell that started it."""
    inode = listening_socket(port)
    descriptors = Path(f"/proc/{pid}/fd")
    return inode is not None and any(os.readlink(fd) == f"socket:[{inode}]" for fd in descriptors.iterdir())
