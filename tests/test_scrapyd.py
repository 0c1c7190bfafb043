"""Scrapyd end to end: started by deploy/scrapyd-server with the project's own scrapyd.conf,
scrapyd-deploy with the scrapy.cfg target, deploy/schedule-crawl (what cron and systemd run), a
finished job, its history and its report.

Scrapyd runs with its working directory in tmp_path (a copy of deploy/), so nothing in the work
tree is importable by the job: it runs the uploaded egg, templates included.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlite_utils import Database

from tests.conftest import ROOT
from tests.deploy_scripts import BIN, ProjectCopy, project_copy
from tests.factory import SEED_MODELS, build_snapshot
from tests.servers import free_port

PROJECT = "orstats_crawler"
JOB_TIMEOUT = 60  # scrapyd polls its queue every 5 s; the crawl itself takes a few seconds


@dataclass
class Scrapyd:
    project: ProjectCopy  # scrapyd runs in its deploy/; its data is in its data/scrapyd
    env: dict[str, str]  # SCRAPYD_URL and the credentials, as a user exports them

    @property
    def url(self) -> str:
        return self.env["SCRAPYD_URL"]

    @property
    def auth(self) -> tuple[str, str]:
        return self.env["SCRAPYD_USERNAME"], self.env["SCRAPYD_PASSWORD"]

    @property
    def workdir(self) -> Path:
        return self.project.root / "deploy"

    def data(self, *parts: str) -> Path:
        return self.project.root.joinpath("data", "scrapyd", *parts)


@pytest.fixture
def scrapyd(tmp_path: Path):
    """`deploy/scrapyd-server start` (deploy/scrapyd.conf), on a free port, with credentials from
    the environment."""
    project = project_copy(tmp_path / "project")
    port = free_port()
    credentials = {"SCRAPYD_USERNAME": "orstats", "SCRAPYD_PASSWORD": secrets.token_urlsafe(12)}
    started = project.run("scrapyd-server", "start", env={"SCRAPYD_HTTP_PORT": str(port), **credentials})
    assert started.returncode == 0, started.stderr + project.log("scrapyd")
    try:
        yield Scrapyd(project, {"SCRAPYD_URL": f"http://127.0.0.1:{port}", **credentials})
    finally:
        project.stop_everything()


def api(scrapyd: Scrapyd, endpoint: str, **params: str) -> dict:
    response = requests.get(f"{scrapyd.url}/{endpoint}", params=params, auth=scrapyd.auth, timeout=10)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "ok", body
    return body


def deploy(scrapyd: Scrapyd, version: str) -> subprocess.CompletedProcess[str]:
    """`scrapyd-deploy env` from the project folder, as the README says (URL from SCRAPYD_URL)."""
    return subprocess.run([str(BIN / "scrapyd-deploy"), "env", "--version", version], cwd=ROOT,
                          env={**os.environ, **scrapyd.env}, capture_output=True, text=True, timeout=120)


def schedule(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """deploy/schedule-crawl, what cron and the systemd timer run, with only ``env``'s SCRAPYD_*."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("SCRAPYD_")}
    return subprocess.run([str(ROOT / "deploy" / "schedule-crawl"), *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def wait_finished(scrapyd: Scrapyd, jobid: str) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        jobs = api(scrapyd, "listjobs.json", project=PROJECT)
        for job in jobs["finished"]:
            if job["id"] == jobid:
                return job
        time.sleep(1)
    raise AssertionError(f"job {jobid} not finished after {JOB_TIMEOUT} s: {jobs}\n{scrapyd.project.log('scrapyd')}")


def test_deploy_schedule_and_run_a_crawl(scrapyd, tmp_path):
    # The job must run the egg: from scrapyd's working directory, with scrapyd's environment, the
    # package is not importable (so the report below was rendered from the egg's templates).
    probe = subprocess.run([sys.executable, "-c", "import orstats_crawler"], cwd=scrapyd.workdir,
                           env={**os.environ, "PYTHONPATH": ""}, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'orstats_crawler'" in probe.stderr

    deployed = deploy(scrapyd, "test-1")
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["spiders"] == 2
    assert api(scrapyd, "listspiders.json", project=PROJECT)["spiders"] == ["archive", "rankings"]

    snapshot = build_snapshot(tmp_path / "snapshot")
    db, reports = tmp_path / "out" / "history.db", tmp_path / "out" / "reports"
    scheduled = schedule(f"snapshot={snapshot}", "top=all",
                         env={**scrapyd.env, "ORSTATS_DB": str(db), "ORSTATS_REPORT_DIR": str(reports)})
    assert scheduled.returncode == 0, scheduled.stderr
    jobid = json.loads(scheduled.stdout)["jobid"]

    job = wait_finished(scrapyd, jobid)
    log = scrapyd.data("logs", PROJECT, "rankings", f"{jobid}.log").read_text()
    assert job["log_url"] == f"/logs/{PROJECT}/rankings/{jobid}.log"
    assert "] ERROR: " not in log, log

    history = Database(db)
    crawl = history["crawls"].get(jobid)  # the scrapyd job id is the crawl's id
    assert crawl["status"] == "published" and crawl["snapshot"] == str(snapshot)
    rows = list(history.query("select * from weekly_revenue where crawl_id = ?", [jobid]))
    assert len(rows) == len(SEED_MODELS)
    assert {(r["week_start"], r["week_end"]) for r in rows} == {("2026-02-02", "2026-02-08")}
    assert round(sum(r["revenue_seed_usd"] for r in rows) / 1e6, 2) == 6.25  # the seed README's week

    # scrapyd's items_dir replaces FEEDS on the command line; the history feed is still there (above)
    # and so is scrapyd's own items file.
    items = scrapyd.data("items", PROJECT, "rankings", f"{jobid}.jl")
    assert len(items.read_text().splitlines()) > len(SEED_MODELS)

    report = reports / "README.md"
    assert report.is_file(), f"no report in {reports}:\n{log}"
    assert "2026-02-08" in report.read_text(encoding="utf-8")


def test_requests_without_credentials_are_refused(scrapyd):
    url = scrapyd.url
    assert requests.get(f"{url}/daemonstatus.json", timeout=10).status_code == 401
    refused = requests.post(f"{url}/schedule.json", data={"project": PROJECT, "spider": "rankings"}, timeout=10)
    assert refused.status_code == 401
    wrong = requests.get(f"{url}/daemonstatus.json", auth=(scrapyd.auth[0], "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert api(scrapyd, "daemonstatus.json")["running"] == 0

    # The schedule script says why it failed, naming the URL, and exits non-zero.
    result = schedule(env={"SCRAPYD_URL": url})
    assert result.returncode == 1
    assert f"POST {url}/schedule.json failed" in result.stderr and "Unauthorized" in result.stderr


def test_schedule_script_reports_an_unknown_project(scrapyd, tmp_path):
    """Scrapyd answers 200 with "status": "error" when nothing is deployed: still a failure."""
    env_file = tmp_path / "scrapyd.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in scrapyd.env.items()))
    result = schedule("--env", str(env_file), env={})
    assert result.returncode == 1
    assert "did not queue the job" in result.stderr and f"project '{PROJECT}' not found" in result.stderr


def test_egg_ships_the_templates(tmp_path):
    egg = tmp_path / "project.egg"
    built = subprocess.run([str(BIN / "scrapyd-deploy"), "--build-egg", str(egg)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    names = zipfile.ZipFile(egg).namelist()
    folder = ROOT / "orstats_crawler" / "templates"
    templates = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    assert "sections/summary.md.j2" in templates  # the section includes, a folder down
    for template in templates:
        assert f"orstats_crawler/templates/{template}" in names
    assert not any(name.startswith("tests/") for name in names)
    entry_points = zipfile.ZipFile(egg).read("EGG-INFO/entry_points.txt").decode()
    assert "settings = orstats_crawler.settings" in entry_points
