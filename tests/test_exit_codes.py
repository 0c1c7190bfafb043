"""Every exit code of `scrapy crawl rankings` (README "Exit codes", docs/RELIABILITY.md), reached
through the real command: 0 published, 1 failed (history unavailable, no verdict stored), 2 usage
error (a bad -a or -s value), 3 rejected, 4 published without its report; and how a report that
could not be written is brought up to date by the next crawl, of any week, or by `scrapy report`.
The command runs in process (tests/conftest.py scrapy_here), in a process of its own for exit 0 and
where it needs limits only a process can have.

A full disk is a tiny tmpfs and a read-only folder a read-only bind mount, both in a user and mount
namespace of the child process only (``mount_namespace``); where the system refuses such
namespaces those cases skip (a user that is not root gets a chmod-ed folder instead).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy.utils.project import get_project_settings

from orstats_crawler import settings as project_settings
from orstats_crawler.arguments import SETTING_RULES, check_settings
from orstats_crawler.commands.crawl import (EXIT_ERROR, EXIT_PUBLISHED, EXIT_REJECTED, EXIT_REPORT_FAILED,
                                            EXIT_USAGE)
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.report.render import write_reports
from tests.conftest import ROOT, run_scrapy, scrapy_here
from tests.factory import SEED_DAY, SEED_MODELS, SnapshotSpec, build_snapshot
from tests.test_report import folder_bytes, seed_chart

WEEK_1 = SEED_DAY  # crawled on 2026-02-09: the week 2026-02-02..08
WEEK_2 = SEED_DAY + timedelta(days=7)  # the week 2026-02-09..15


# --- helpers: snapshots, crawls, what the history says -------------------------------------------

def snapshot(folder: Path, day: date, **spec: Any) -> Path:
    """The seed week crawled on ``day``, with a chart that agrees with the other days' on past weeks."""
    return build_snapshot(folder / f"snapshot-{day}-{len(spec)}", SnapshotSpec(captured=day, **spec),
                          mutate=seed_chart(day))


async def crawl(folder: Path, source: Path, *args: str, reports: Path | None = None, wrapper: list[str] | None = None,
                own_process: bool = False) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl rankings` of ``source`` into ``folder``'s history: in this process, or in a process
    of its own when asked or under ``wrapper`` (limits only a process can have: a file size, mounts)."""
    argv = ("crawl", "rankings", "-a", f"snapshot={source}", "-a", "top=all", f"-sORSTATS_DB={folder / 'history.db'}",
            f"-sORSTATS_REPORT_DIR={reports or folder / 'reports'}", *args)
    if wrapper or own_process:
        return run_scrapy(*argv, wrapper=wrapper)
    return await scrapy_here(*argv)


def exit_line(done: subprocess.CompletedProcess[str]) -> str:
    [line] = [line for line in done.stderr.splitlines() if "exit code" in line]
    return line


def crawls(history: Path) -> list[dict[str, Any]]:
    """The crawls rows, oldest first (a connection of its own, closed: the next crawl is alone)."""
    return query(history, "SELECT id, status, week_end, report_status, report_message FROM crawls ORDER BY finished_at")


def shown_week(history: Path, week_end: str) -> str | None:
    with closing(sqlite3.connect(history)) as db:
        row = db.execute("SELECT crawl_id FROM weeks WHERE week_end = ? AND status = 'published'",
                         [week_end]).fetchone()
    return row[0] if row else None


def doc_queries(heading: str) -> list[str]:
    """The SQL statements docs/RELIABILITY.md shows under ``heading``, as a reader would paste them."""
    text = (ROOT / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    return [statement.strip() for block in blocks for statement in block.split(";") if statement.strip()]


def query(history: Path, sql: str, **parameters: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(history)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, parameters)]


def fresh_render(history: Path, folder: Path) -> dict[str, bytes]:
    """What the history renders into an empty folder: what an up-to-date report folder holds."""
    settings = get_project_settings()
    write_reports(history, folder, settings.get("ORSTATS_REVENUE_METHOD"), settings.getint("ORSTATS_REPORT_TABLE_ROWS"),
                  outlier_factor=settings.getfloat("ORSTATS_REPORT_OUTLIER_FACTOR"))
    return folder_bytes(folder)


# --- helpers: a full disk, a read-only folder ---------------------------------------------------

def mount_namespace(*mounts: str) -> list[str]:
    """A wrapper running the command in a user and mount namespace of its own after the shell
    commands ``mounts``: mounts only that process sees, made as the namespace's root. Skips the
    test where unprivileged namespaces are refused (a hardened kernel, some CI runners)."""
    base = ["unshare", "--user", "--map-root-user", "--mount"]
    if shutil.which("unshare") is None or subprocess.run([*base, "true"], capture_output=True).returncode != 0:
        pytest.skip("this system refuses unprivileged user and mount namespaces (unshare -rm)")
    return [*base, "sh", "-c", " && ".join([*mounts, 'exec "$@"']), "sh"]


def full_disk(folder: Path, size: str = "16k") -> list[str]:
    """``folder`` as a file system of ``size`` (by default smaller than one report page)."""
    folder.mkdir(parents=True, exist_ok=True)
    return mount_namespace(f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(folder))}")


def read_only(folder: Path) -> list[str]:
    """A wrapper under which ``folder`` cannot be written. Root is not stopped by permissions: a
    read-only bind mount in a namespace is; a user gets the folder chmod-ed (pytest's removal of
    tmp_path makes it writable again)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    where = shlex.quote(str(folder))
    return mount_namespace(f"mount --bind {where} {where}", f"mount -o remount,ro,bind {where}")


def file_size_limit(size: int) -> list[str]:
    """A wrapper limiting every file the command writes to ``size`` bytes (RLIMIT_FSIZE)."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    return ["prlimit", f"--fsize={size}"]


# --- 0: published --------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_0_published_with_its_report_and_its_state(tmp_path):
    done = await crawl(tmp_path, snapshot(tmp_path, WEEK_1), own_process=True)  # exit 0 from a real process
    assert done.returncode == EXIT_PUBLISHED, done.stderr[-3000:]
    [row] = crawls(tmp_path / "history.db")
    assert exit_line(done).endswith(f"exit code 0: crawl {row['id']} published")
    readme = tmp_path / "reports" / "README.md"
    assert row["status"] == "published" and row["report_status"] == "written"
    assert row["report_message"].startswith(f"report written to {readme} (week 2026-02-02..2026-02-08, 1 weekly pages")
    assert folder_bytes(tmp_path / "reports") == fresh_render(tmp_path / "history.db", tmp_path / "fresh")


# --- 1: failed -----------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_1_history_unavailable(tmp_path):
    (tmp_path / "blocker").write_text("a file where the history's folder should be")
    history = tmp_path / "blocker" / "history.db"
    done = await scrapy_here("crawl", "rankings", "-a", f"snapshot={snapshot(tmp_path, WEEK_1)}",
                             f"-sORSTATS_DB={history}", f"-sORSTATS_REPORT_DIR={tmp_path / 'reports'}")
    assert done.returncode == EXIT_ERROR
    assert f"exit code 1: the crawl could not start: history file {history}: cannot be opened" in exit_line(done)
    assert not (tmp_path / "reports").exists()


@pytest_twisted.ensureDeferred
async def test_1_no_verdict_stored_when_the_history_cannot_take_the_crawl(tmp_path):
    """The history opens (it exists, small), but the crawl's write does not fit in the files the
    process may write: nothing of the crawl is stored, and the exit code says so."""
    history = tmp_path / "history.db"
    open_for_writing(history).close()
    limit = history.stat().st_size + 128 * 1024  # the crawl's own item file fits, its merge does not
    done = await crawl(tmp_path, snapshot(tmp_path, WEEK_1), wrapper=file_size_limit(limit))
    assert done.returncode == EXIT_ERROR
    assert "exit code 1: no verdict was stored (finish reason: finished)" in exit_line(done)
    assert crawls(history) == [] and not (tmp_path / "reports").exists()


# --- 2: usage errors -------------------------------------------------------------------------------

BAD_SETTINGS = [
    ("ORSTATS_SPEND_COVERAGE", "abc", "a share above 0 and at most 1"),
    ("ORSTATS_MIN_SPEND_COVERAGE", "2", "a share from 0 to 1"),
    ("ORSTATS_REVENUE_METHOD", "bogus", "one of best, list, seed, effective"),
    ("ORSTATS_RETRY_BACKOFF_BASE", "x", "a number of seconds, 0 or more"),
    ("ORSTATS_CHART_TOLERANCE", "nan", "a fraction of 0 or more"),
    ("ORSTATS_DATA_API_WINDOW_DAYS", "1.5", "a whole number of 1 or more"),
    ("ORSTATS_FORCE", "maybe", "1 or 0 (true or false)"),
    ("ORSTATS_DATA_API_START", "yesterday", "a date as YYYY-MM-DD"),
    ("ORSTATS_TOP", "0", "a positive number of splits, or 'all'"),
    ("OPENROUTER_BASE_URL", "openrouter.ai", "an http(s) URL with a host"),
]


@pytest.mark.parametrize(("name", "value", "expects"), BAD_SETTINGS, ids=[bad[0] for bad in BAD_SETTINGS])
@pytest_twisted.ensureDeferred
async def test_2_a_bad_setting_is_one_line_before_anything_runs(tmp_path, demo_snapshot, replay_server, name, value,
                                                          expects):
    server = replay_server(demo_snapshot)  # where the crawl would go
    done = await scrapy_here("crawl", "rankings", f"-sOPENROUTER_BASE_URL={server.base_url}", f"-s{name}={value}",
                             f"-sORSTATS_DB={tmp_path / 'history.db'}", f"-sORSTATS_REPORT_DIR={tmp_path / 'reports'}")
    assert done.returncode == EXIT_USAGE
    assert "exit code 2: the crawl could not start: " in exit_line(done)
    assert f"{name}={value!r}" in exit_line(done) and expects in exit_line(done)
    assert "Traceback" not in done.stderr
    assert server.requests == [] and not (tmp_path / "history.db").exists()


@pytest_twisted.ensureDeferred
async def test_2_a_bad_spider_argument(tmp_path, demo_snapshot):
    done = await crawl(tmp_path, demo_snapshot, "-a", "top=abc")  # the last -a top wins
    assert done.returncode == EXIT_USAGE
    assert "exit code 2: the crawl could not start: -a top='abc' (ORSTATS_TOP)" in exit_line(done)
    assert "Traceback" not in done.stderr and not (tmp_path / "history.db").exists()


def test_every_setting_of_the_project_has_a_rule_and_its_default_passes():
    names = {name for name in vars(project_settings) if name.startswith(("ORSTATS_", "OPENROUTER_"))}
    assert names == set(SETTING_RULES), "add the new setting to arguments.SETTING_RULES"
    check_settings(get_project_settings())  # raises on a default the rules refuse


# --- 3: rejected ---------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_3_rejected_leaves_the_report_alone_and_says_so(tmp_path):
    assert (await crawl(tmp_path, snapshot(tmp_path, WEEK_1))).returncode == EXIT_PUBLISHED
    before = folder_bytes(tmp_path / "reports")
    # The next week, no model-variant's split answering: too little of the spend is measured.
    unmeasured = [replace(model, activity="missing") for model in SEED_MODELS]
    done = await crawl(tmp_path, snapshot(tmp_path, WEEK_2, models=unmeasured))
    assert done.returncode == EXIT_REJECTED
    published, rejected = crawls(tmp_path / "history.db")
    assert exit_line(done).endswith(
        f"exit code 3: crawl {rejected['id']} rejected by the quality gate (see crawls.checks)")
    assert rejected["status"] == "rejected" and rejected["report_status"] == "not_rendered"
    assert rejected["report_message"] == f"crawl {rejected['id']} is rejected; {tmp_path / 'reports'} is unchanged"
    assert published["report_status"] == "written"
    assert folder_bytes(tmp_path / "reports") == before
    # The documented SQL reads it: the failed checks, the problems, the splits, the week shown instead.
    gate, problems, splits, shown = [query(tmp_path / "history.db", sql, crawl_id=rejected["id"])
                                     for sql in doc_queries("Reading a rejected crawl in Datasette")]
    assert {(row["id"], row["check_name"]) for row in gate if row["result"] == "fail"} >= {
        (rejected["id"], "split_coverage")}
    assert {(row["source"], row["status"]) for row in problems} == {("activity", 404)}
    assert [(row["status"], row["n"]) for row in splits] == [("failed", len(SEED_MODELS))]
    assert [(row["week_end"], row["status"]) for row in shown] == [("2026-02-15", "rejected")]


# --- 4: published, the report not written ------------------------------------------------------

def blocked_by_a_file(tmp_path: Path) -> tuple[Path, list[str] | None, str]:
    (tmp_path / "reports").write_text("a file named like the report folder")
    return tmp_path / "reports", None, f"({tmp_path / 'reports' / 'weekly'}: Not a directory)"


def parent_is_a_file(tmp_path: Path) -> tuple[Path, list[str] | None, str]:
    (tmp_path / "site").write_text("a file where the report folder's parent should be")
    return tmp_path / "site" / "reports", None, "Not a directory)"


def read_only_folder(tmp_path: Path) -> tuple[Path, list[str] | None, str]:
    (tmp_path / "reports").mkdir()
    wrapper = read_only(tmp_path / "reports")
    return tmp_path / "reports", wrapper, "Read-only file system)" if wrapper else "Permission denied)"


def disk_full(tmp_path: Path) -> tuple[Path, list[str] | None, str]:
    return tmp_path / "reports", full_disk(tmp_path / "reports"), "(No space left on device)"


@pytest.mark.parametrize("block", [blocked_by_a_file, parent_is_a_file, read_only_folder, disk_full],
                         ids=lambda block: block.__name__)
@pytest_twisted.ensureDeferred
async def test_4_published_but_the_report_could_not_be_written(tmp_path, block):
    reports, wrapper, reason = block(tmp_path)
    done = await crawl(tmp_path, snapshot(tmp_path, WEEK_1), reports=reports, wrapper=wrapper)
    assert done.returncode == EXIT_REPORT_FAILED, done.stderr[-3000:]
    [row] = crawls(tmp_path / "history.db")
    # the file that could not be written: the first one, or (on a disk that fills up) a later one
    pages = [reports / "weekly" / "2026-02-08.md", reports / "README.md"]
    assert row["status"] == "published" and shown_week(tmp_path / "history.db", "2026-02-08") == row["id"]
    assert row["report_status"] == "failed"
    assert any(row["report_message"].startswith(f"report file {page}: cannot be written ") for page in pages)
    assert row["report_message"].endswith(reason)
    assert exit_line(done).endswith(f"exit code 4: crawl {row['id']} published, but its report was not written: "
                                    f"{row['report_message']}; the next crawl or `scrapy report` writes it")
    assert "Traceback" not in done.stderr


# --- healing -------------------------------------------------------------------------------------

async def failed_second_week(tmp_path: Path) -> Path:
    """Week 1 published with its report; week 2 published, its report failed (the weekly folder is a
    file) with a README.md left half-written: the report folder is behind the history."""
    assert (await crawl(tmp_path, snapshot(tmp_path, WEEK_1))).returncode == EXIT_PUBLISHED
    reports = tmp_path / "reports"
    shutil.rmtree(reports / "weekly")
    (reports / "weekly").write_text("in the way")
    assert (await crawl(tmp_path, snapshot(tmp_path, WEEK_2))).returncode == EXIT_REPORT_FAILED
    readme = reports / "README.md"
    readme.write_bytes(readme.read_bytes()[: readme.stat().st_size // 2])  # half a page, as a crash may leave
    (reports / "weekly").unlink()  # the cause is gone; the folder is still behind
    return reports


def assert_healed(tmp_path: Path, reports: Path) -> None:
    assert folder_bytes(reports) == fresh_render(tmp_path / "history.db", tmp_path / "fresh")
    assert set(folder_bytes(reports)) == {"README.md", "weekly/2026-02-08.md", "weekly/2026-02-15.md"}
    text = (reports / "README.md").read_text(encoding="utf-8")
    assert "(week 2026-02-09 to 2026-02-15, 7 complete UTC days)" in text  # the latest published week


@pytest_twisted.ensureDeferred
async def test_the_next_crawl_heals_a_failed_report_whatever_week_it_crawls(tmp_path):
    reports = await failed_second_week(tmp_path)
    done = await crawl(tmp_path, snapshot(tmp_path, WEEK_1))  # week 1 again: not the week whose report failed
    assert done.returncode == EXIT_PUBLISHED
    first, failed, healer = crawls(tmp_path / "history.db")
    assert (first["report_status"], failed["report_status"], healer["report_status"]) == ("written", "failed",
                                                                                           "written")
    assert_healed(tmp_path, reports)


@pytest_twisted.ensureDeferred
async def test_a_rejected_crawl_heals_a_failed_report_and_stays_rejected(tmp_path):
    reports = await failed_second_week(tmp_path)
    done = await crawl(tmp_path, snapshot(tmp_path, WEEK_2 + timedelta(days=7), with_leaderboard=False))
    assert done.returncode == EXIT_REJECTED
    *_, failed, healer = crawls(tmp_path / "history.db")
    assert failed["report_status"] == "failed"
    assert healer["status"] == "rejected" and healer["report_status"] == "written"
    assert healer["report_message"].endswith(": brought up to date after an earlier crawl failed to write it")
    assert_healed(tmp_path, reports)
    # Up to date again: the next rejected crawl leaves the folder alone.
    before = folder_bytes(reports)
    assert (await crawl(tmp_path, snapshot(tmp_path, WEEK_2 + timedelta(days=14), with_leaderboard=False)
                        )).returncode == EXIT_REJECTED
    assert crawls(tmp_path / "history.db")[-1]["report_status"] == "not_rendered"
    assert folder_bytes(reports) == before


@pytest_twisted.ensureDeferred
async def test_scrapy_report_heals_a_failed_report_without_writing_the_history(tmp_path):
    reports = await failed_second_week(tmp_path)
    history = tmp_path / "history.db"
    rows, history_bytes = crawls(history), history.read_bytes()
    [behind] = doc_queries("Publishing and the report")
    assert [row["report_status"] for row in query(history, behind)] == ["failed"]
    done = await scrapy_here("report", "--db", str(history), "--output", str(reports))
    assert done.returncode == 0, done.stderr
    assert_healed(tmp_path, reports)
    # `scrapy report` never writes the history: the failed row stays the record of that crawl.
    assert crawls(history) == rows and rows[-1]["report_status"] == "failed"
    assert history.read_bytes() == history_bytes
