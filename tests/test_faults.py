"""Fault injection: `scrapy crawl rankings` (in process: tests/conftest.py scrapy_here) against a
loopback server replaying a factory snapshot while it misbehaves. For each fault: the outcome
(published, published with flags, rejected), the command's exit code (0 published, 3 rejected), and
that nothing already stored is lost.

The history starts with a published week (2026-01-26..02-01, its report rendered); every fault run
crawls the next week (2026-02-02..02-08) into a copy of it. Outcomes are compared with a clean run
of the same week, so the checks other sources flag anyway (a catalogue the snapshot lacks) do not
blur what each fault changes.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.commands.crawl import EXIT_PUBLISHED, EXIT_REJECTED
from orstats_crawler.snapshots.reader import Snapshot
from orstats_crawler.snapshots.server import ReplayHandler, ReplayServer
from tests.conftest import scrapy_here, shared_capture
from tests.factory import SEED_DAY, SEED_MODELS, SnapshotSpec, build_snapshot

ACTIVITY = "/api/frontend/v1/stats/model-activity"
LEADERBOARD = "/api/frontend/v1/rankings/models"
CATALOGUE = "/api/v1/models"
# A selected model-variant holding 2.9 % of the week's list-price spend: losing its split keeps the
# measured share above the 90 % minimum, so the week is published, flagged.
SMALL = "deepseek%2Fdeepseek-v3.2-20251201"
WEEK_B = ("2026-02-02", "2026-02-08")
FAST_RETRIES = "-sORSTATS_RETRY_BACKOFF_BASE=0.05"


@dataclass
class World:
    root: Path
    week_b: Path  # the snapshot every fault run replays
    seed: Path  # a history (and report) holding the published previous week
    baseline: dict[str, str]  # non-pass checks of a clean run of week B: name -> result


@dataclass
class Run:
    process: Any
    crawl: dict[str, Any]
    checks: dict[str, dict[str, Any]]
    stats: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]

    def changed(self, baseline: dict[str, str]) -> dict[str, str]:
        """The checks whose result differs from the clean run's (pass included)."""
        return {name: c["result"] for name, c in self.checks.items() if c["result"] != baseline.get(name, "pass")}


def state(history: Path, reports: Path) -> dict[str, Any]:
    """What a reader sees: which crawl each week shows, row counts, the report's bytes."""
    db = Database(history)
    return {
        "weeks": {(r["week_start"], r["week_end"]): (r["crawl_id"], r["status"]) for r in db["weeks"].rows},
        "counts": {name: db[name].count for name in db.table_names()},
        "report": {str(p.relative_to(reports)): p.read_bytes() for p in sorted(reports.rglob("*")) if p.is_file()},
    }


def copy_history(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


async def crawl_history(folder: Path, *args: str, seed: Path | None = None) -> Run:
    """Copy the seed history and report into ``folder``, run `scrapy crawl rankings`, read the new crawl."""
    history, reports = folder / "history.db", folder / "reports"
    if seed is not None:
        copy_history(seed / "history.db", history)
        shutil.copytree(seed / "reports", reports, dirs_exist_ok=True)
    reports.mkdir(parents=True, exist_ok=True)
    before = state(history, reports) if history.exists() else {"weeks": {}, "counts": {}, "report": {}}
    known = {r["id"] for r in Database(history)["crawls"].rows} if history.exists() else set()
    process = await scrapy_here("crawl", "rankings", f"-sORSTATS_DB={history}", f"-sORSTATS_REPORT_DIR={reports}",
                                *args)
    new = [r for r in Database(history)["crawls"].rows if r["id"] not in known]
    assert len(new) == 1, process.stderr[-3000:]
    crawl = new[0]
    checks = {c["name"]: c for c in json.loads(crawl["checks"])}
    return Run(process, crawl, checks, json.loads(crawl["stats"]), before, state(history, reports))


def serve(folder: Path, handler: type[ReplayHandler]) -> ReplayServer:
    server = ReplayServer(Snapshot(folder), port=0, handler=handler).start_background()
    server.arrivals = []  # (path, monotonic time) of each request, recorded by FaultHandler
    return server


class FaultHandler(ReplayHandler):
    """Replays the snapshot unless ``inject(path, attempt)`` answers (attempt 1 = first request of path)."""

    def inject(self, path: str, attempt: int) -> tuple[int, dict[str, str], bytes] | None:
        return None

    def respond(self, path: str) -> tuple[int, dict[str, str], bytes]:
        with self.server.lock:
            attempt = self.server.requests.count(path)
            self.server.arrivals.append((path, time.monotonic()))
        return self.inject(path, attempt) or super().respond(path)

    def body(self, path: str) -> bytes:
        return super().respond(path)[2]


async def build_world(tmp_path_factory) -> World:
    """The fault suite's world (tests/conftest.py's session fixture ``world``: built once per process
    and shared read-only by test_faults, test_faults_data and test_faults_network; each fault crawl
    copies its seed)."""
    root = tmp_path_factory.mktemp("faults")
    week_a = build_snapshot(root / "week-a", SnapshotSpec(captured=SEED_DAY - timedelta(days=7), name="week-a"))
    week_b = build_snapshot(root / "week-b")
    seeded = await crawl_history(root / "seed", "-a", f"snapshot={week_a}")
    assert seeded.process.returncode == EXIT_PUBLISHED, seeded.process.stderr[-3000:]
    server = serve(week_b, FaultHandler)
    try:
        clean = await crawl_history(root / "clean", f"-sOPENROUTER_BASE_URL={server.base_url}", seed=root / "seed")
    finally:
        server.shutdown()
        server.server_close()
    assert clean.process.returncode == EXIT_PUBLISHED and clean.crawl["status"] == "published"
    return World(root, week_b, root / "seed",
                 {n: c["result"] for n, c in clean.checks.items() if c["result"] != "pass"})


@pytest.fixture
def fault_crawl(world, tmp_path):
    """``await fault_crawl(handler, *scrapy_args)``: one crawl of week B through a faulty server."""
    servers: list[ReplayServer] = []

    async def run(handler: type[FaultHandler], *args: str) -> tuple[Run, ReplayServer]:
        server = serve(world.week_b, handler)
        servers.append(server)
        return await crawl_history(tmp_path / f"run{len(servers)}", f"-sOPENROUTER_BASE_URL={server.base_url}",
                                   FAST_RETRIES, *args, seed=world.seed), server

    yield run
    for server in servers:
        server.shutdown()
        server.server_close()


def assert_nothing_lost(run: Run) -> None:
    """Every week shown before is shown by the same crawl; no table lost rows; a rejected crawl
    leaves the report byte-identical."""
    for week, shown in run.before["weeks"].items():
        assert run.after["weeks"][week] == shown
    for table, count in run.before["counts"].items():
        assert run.after["counts"][table] >= count, table
    assert run.before["report"], "the seeded history has a rendered report"
    week = (run.crawl["week_start"], run.crawl["week_end"])
    if run.crawl["status"] == "rejected":
        assert run.after["report"] == run.before["report"]
        if week[1] is None:  # no source said which week: nothing to point at
            assert run.after["weeks"] == run.before["weeks"]
        else:  # a week seen only by rejected crawls stays inspectable, marked rejected
            assert run.after["weeks"][week] == (run.crawl["id"], "rejected")
    else:
        assert run.after["weeks"][week] == (run.crawl["id"], "published")


def assert_published(run: Run, world: World, flags: dict[str, str] | None = None) -> None:
    assert run.process.returncode == EXIT_PUBLISHED, run.process.stderr[-3000:]
    assert run.crawl["status"] == "published" and run.crawl["forced"] == 0
    assert run.changed(world.baseline) == (flags or {})
    assert_nothing_lost(run)


def assert_rejected(run: Run, fails: dict[str, str]) -> None:
    """Rejected, exit 3, and each named check failed with a message holding the given text."""
    assert run.process.returncode == EXIT_REJECTED, run.process.stderr[-3000:]
    assert run.crawl["status"] == "rejected"
    for name, text in fails.items():
        assert run.checks[name]["result"] == "fail" and text in run.checks[name]["message"], run.checks[name]
    assert "exit code 3" in run.process.stderr
    assert_nothing_lost(run)


def activity_of(path: str) -> bool:
    return path.startswith(ACTIVITY)


# --- transient faults: retried, published -------------------------------------------------------

class Transient500(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path) and attempt == 1:
            return 500, {"Content-Type": "text/plain"}, b"upstream error\n"
        return None


@pytest_twisted.ensureDeferred
async def test_transient_500s_are_retried_with_backoff_and_published(world, fault_crawl):
    run, server = await fault_crawl(Transient500)
    assert_published(run, world)
    activity = [p for p in server.requests if activity_of(p)]
    assert len(activity) == 2 * len(set(activity)) and len(set(activity)) == run.crawl["models_measured"]
    assert run.stats["retry/reason_count/500 Internal Server Error"] == len(set(activity))
    assert run.stats["orstats/retry/waits"] == len(set(activity))


class RateLimited(FaultHandler):
    """The first split request is told to come back in 1 s; the others are served."""

    def inject(self, path, attempt):
        if activity_of(path) and attempt == 1 and not getattr(self.server, "limited", None):
            self.server.limited = path
            return 429, {"Content-Type": "text/plain", "Retry-After": "1"}, b"slow down\n"
        return None


@pytest_twisted.ensureDeferred
async def test_429_waits_for_retry_after_without_holding_up_other_requests(world, fault_crawl):
    # One request at a time to the server: if the wait held the download slot, nothing else could
    # be fetched during it.
    run, server = await fault_crawl(RateLimited, '-sDOWNLOAD_SLOTS={"127.0.0.1": {"concurrency": 1}}')
    assert_published(run, world)
    times = [t for p, t in server.arrivals if p == server.limited]
    assert len(times) == 2 and times[1] - times[0] >= 1.0
    during = {p for p, t in server.arrivals if times[0] < t < times[1] and activity_of(p)}
    assert len(during) == run.crawl["models_measured"] - 1  # every other split was fetched meanwhile
    assert run.stats["orstats/retry/retry_after"] == 1


class Slow(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path) and SMALL in path and attempt == 1:
            time.sleep(1.5)  # longer than DOWNLOAD_TIMEOUT: the crawler gives up on this answer
        return None


@pytest_twisted.ensureDeferred
async def test_a_slow_response_times_out_and_is_retried(world, fault_crawl):
    run, server = await fault_crawl(Slow, "-sDOWNLOAD_TIMEOUT=0.5")
    assert_published(run, world)
    assert sum(activity_of(p) and SMALL in p for p in server.requests) == 2
    assert any("Timeout" in key for key in run.stats if key.startswith("retry/reason_count/"))


# --- one model-variant lost: the others are kept, the week published with a flag -----------------

class OneModelDown(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path) and SMALL in path:
            return 503, {"Content-Type": "text/plain"}, b"down\n"
        return None


@pytest_twisted.ensureDeferred
async def test_one_models_failure_keeps_the_others(world, fault_crawl, tmp_path):
    run, _ = await fault_crawl(OneModelDown)
    assert_published(run, world, {"structure_activity": "flag"})
    assert "HTTP 503" in run.checks["structure_activity"]["message"]
    fetches = {r["permaslug"]: r["status"] for r in Database(tmp_path / "run1" / "history.db").query(
        "select permaslug, status from activity_fetches where crawl_id = ? and selected = 1", [run.crawl["id"]])}
    assert fetches.pop("deepseek/deepseek-v3.2-20251201") == "failed"
    assert set(fetches.values()) == {"measured"} and len(fetches) == run.crawl["models_measured"]


class RetryAfterTooLong(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path) and SMALL in path:
            return 429, {"Content-Type": "text/plain", "Retry-After": "3600"}, b"come back in an hour\n"
        return None


@pytest_twisted.ensureDeferred
async def test_a_retry_after_beyond_the_cap_gives_up_instead_of_coming_back_early(world, fault_crawl):
    run, server = await fault_crawl(RetryAfterTooLong)
    assert_published(run, world, {"structure_activity": "flag"})
    assert sum(activity_of(p) and SMALL in p for p in server.requests) == 1
    assert run.stats["orstats/retry/retry_after_too_long"] == 1
    assert "HTTP 429" in run.checks["structure_activity"]["message"]


class TruncatedSplit(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path) and SMALL in path:
            return 200, {"Content-Type": "application/json"}, self.body(path)[:300]
        return None


@pytest_twisted.ensureDeferred
async def test_truncated_json_for_one_model_is_flagged_with_its_url(world, fault_crawl):
    run, _ = await fault_crawl(TruncatedSplit)
    assert_published(run, world, {"structure_activity": "flag"})
    message = run.checks["structure_activity"]["message"]
    assert "invalid or truncated JSON" in message and SMALL in message


class OneEmptySplit(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path) and SMALL in path:
            return 200, {"Content-Type": "application/json"}, b'{"data":{"analytics":[],"cachedAt":1770620400000}}'
        return None


@pytest_twisted.ensureDeferred
async def test_an_empty_analytics_list_for_one_model_is_flagged(world, fault_crawl):
    run, _ = await fault_crawl(OneEmptySplit)
    assert_published(run, world, {"structure_activity": "flag"})
    assert "'data.analytics': no complete day" in run.checks["structure_activity"]["message"]


class MarkupName(FaultHandler):
    NAME = 'Anthropic: Claude | *Sonnet* <script>alert("x")</script> `--> ]] ```mermaid'

    def inject(self, path, attempt):
        if path == CATALOGUE:
            payload = json.loads(self.body(path))
            payload["data"][0]["name"] = self.NAME
            return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()
        return None


@pytest_twisted.ensureDeferred
async def test_a_model_name_with_markup_is_stored_verbatim_and_published(world, fault_crawl, tmp_path):
    run, _ = await fault_crawl(MarkupName)
    assert_published(run, world)
    [name] = [r["name"] for r in Database(tmp_path / "run1" / "history.db").query(
        "select name from model_weeks where crawl_id = ? and permaslug = ?",
        [run.crawl["id"], SEED_MODELS[0].permaslug])]
    assert name == MarkupName.NAME.removeprefix("Anthropic: ")


# --- the site changed shape: rejected, exit 3 --------------------------------------------------

class TruncatedLeaderboard(FaultHandler):
    def inject(self, path, attempt):
        if path.startswith(LEADERBOARD):
            body = self.body(path)
            return 200, {"Content-Type": "application/json"}, body[: len(body) // 2]
        return None


@pytest_twisted.ensureDeferred
async def test_a_truncated_leaderboard_is_rejected_naming_its_url(world, fault_crawl):
    run, server = await fault_crawl(TruncatedLeaderboard)
    assert_rejected(run, {"structure_leaderboard": "invalid or truncated JSON"})
    assert f"{server.base_url}{LEADERBOARD}?view=week" in run.checks["structure_leaderboard"]["message"]


class RenamedField(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path):
            body = self.body(path).replace(b'"total_native_tokens_cached"', b'"native_tokens_cached"')
            return 200, {"Content-Type": "application/json"}, body
        return None


@pytest_twisted.ensureDeferred
async def test_a_renamed_field_is_rejected_naming_the_field(world, fault_crawl):
    run, _ = await fault_crawl(RenamedField)
    assert_rejected(run, {"structure_activity": "field 'total_native_tokens_cached'",
                          "split_coverage": "missing split (model-activity)"})


class EmptyAnalytics(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path):
            return 200, {"Content-Type": "application/json"}, b'{"data":{"analytics":[],"cachedAt":1770620400000}}'
        return None


@pytest_twisted.ensureDeferred
async def test_empty_analytics_everywhere_is_rejected(world, fault_crawl):
    run, _ = await fault_crawl(EmptyAnalytics)
    assert_rejected(run, {"structure_activity": "no complete day", "split_coverage": "hold at least 0.0%"})


class HtmlCatalogue(FaultHandler):
    def inject(self, path, attempt):
        if path.startswith(CATALOGUE):
            return 200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html><body>Just a moment...</body></html>"
        return None


@pytest_twisted.ensureDeferred
async def test_html_instead_of_json_is_rejected(world, fault_crawl):
    run, _ = await fault_crawl(HtmlCatalogue)
    assert_rejected(run, {"structure_prices": "HTML instead of JSON"})


class AlwaysFailing(FaultHandler):
    def inject(self, path, attempt):
        if activity_of(path):
            return 502, {"Content-Type": "text/plain"}, b"bad gateway\n"
        return None


@pytest_twisted.ensureDeferred
async def test_a_crawl_closed_by_the_timeout_guard_rail_is_rejected(world, fault_crawl):
    # The split requests are waiting to be retried when the guard rail closes the crawl: their first
    # answers came after it opened, so a retry a second later comes after its second.
    run, _ = await fault_crawl(AlwaysFailing, "-sCLOSESPIDER_TIMEOUT=1", "-sORSTATS_RETRY_BACKOFF_BASE=1")
    selected = run.stats["orstats/activity/selected"]
    assert_rejected(run, {"crawl_finished": "closespider_timeout",
                          "structure_activity": f"{selected} of the {selected} split requests never answered"})


# --- after a rejection: force, rerun ------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_force_publishes_a_rejected_week_marked_as_such_and_a_rerun_publishes_normally(world, fault_crawl,
                                                                                            tmp_path):
    forced, _ = await fault_crawl(EmptyAnalytics, "-a", "force=1")
    assert forced.process.returncode == EXIT_PUBLISHED
    assert forced.crawl["status"] == "published" and forced.crawl["forced"] == 1
    assert forced.checks["forced"]["result"] == "flag" and "split_coverage" in forced.checks["forced"]["message"]
    assert "FORCED by -a force=1" in forced.process.stderr
    assert forced.after["weeks"][WEEK_B] == (forced.crawl["id"], "published")

    # The same week again, healthy: a rerun is never skipped, and it takes the week over.
    server = serve(world.week_b, FaultHandler)
    try:
        rerun = await crawl_history(tmp_path / "run1", f"-sOPENROUTER_BASE_URL={server.base_url}")
    finally:
        server.shutdown()
        server.server_close()
    assert rerun.process.returncode == EXIT_PUBLISHED and rerun.crawl["forced"] == 0
    assert rerun.after["weeks"][WEEK_B] == (rerun.crawl["id"], "published")
    assert rerun.after["report"] != forced.after["report"]  # rendered again from the healthy crawl
    assert rerun.after["counts"]["crawls"] == forced.after["counts"]["crawls"] + 1


# --- done when: the real capture without model-activity -----------------------------------------

@pytest_twisted.ensureDeferred
async def test_real_capture_without_activity_is_rejected_and_the_report_kept(world, tmp_path):
    capture = shared_capture("openrouter-2026-08-22")
    run = await crawl_history(tmp_path / "real", "-a", f"snapshot={capture}", seed=world.seed)
    assert_rejected(run, {"split_coverage": "missing split (model-activity) for ",
                          "structure_activity": "HTTP 404"})
    assert run.after["weeks"][("2026-08-15", "2026-08-21")] == (run.crawl["id"], "rejected")
    assert "failed check split_coverage: measured splits hold at least 0.0%" in run.process.stderr
