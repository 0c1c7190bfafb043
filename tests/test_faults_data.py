"""Fault injection with poisoned data: `scrapy crawl rankings` against a loopback server replaying
the factory's week B with one answer changed (tests/test_faults.py's world: a history whose week A
is published, its report rendered). Each case asserts the exit code, the stored verdict, that week A
is still shown with the same rows, and that a rejected crawl leaves the report byte-identical.

Sonnet is the week's largest model-variant by list-price spend (its #1 by revenue), Kimi its largest
by tokens.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.commands.crawl import EXIT_PUBLISHED, EXIT_REJECTED
from tests import test_faults
from tests.factory import SEED_MODELS, usd
from tests.test_faults import ACTIVITY, CATALOGUE, LEADERBOARD, WEEK_B, FaultHandler, Run, assert_nothing_lost

fault_crawl = test_faults.fault_crawl

SONNET, KIMI = SEED_MODELS[0], SEED_MODELS[2]
WEEK_A = ("2026-01-26", "2026-02-01")
# Rows as readers see them (weekly_revenue), in a stable order.
SHOWN = "SELECT * FROM weekly_revenue WHERE week_start = ? AND week_end = ? ORDER BY permaslug, variant"


def activity_path(model: Any) -> str:
    return ACTIVITY + "?" + urlencode({"permaslug": model.permaslug, "variant": model.variant})


def poisoned(edit: Callable[[FaultHandler, str], bytes | None]) -> type[FaultHandler]:
    """A FaultHandler serving ``edit(handler, path)`` where it returns a body, the snapshot elsewhere."""
    class Poisoned(FaultHandler):
        def inject(self, path, attempt):
            body = edit(self, path)
            return None if body is None else (200, {"Content-Type": "application/json"}, body)
    return Poisoned


def json_edit(matches: Callable[[str], bool], change: Callable[[Any], None]) -> type[FaultHandler]:
    """Serve the snapshot's JSON with ``change(payload)`` applied on the paths ``matches`` accepts."""
    def edit(handler: FaultHandler, path: str) -> bytes | None:
        if not matches(path):
            return None
        payload = json.loads(handler.body(path))
        change(payload)
        return json.dumps(payload).encode()
    return poisoned(edit)


def history_of(run_folder: Path) -> Database:
    return Database(run_folder / "history.db")


def assert_week_a_unchanged(world: Any, run_folder: Path) -> None:
    """Week A is shown by the same crawl, row by row as before the crawl."""
    before = list(Database(world.seed / "history.db").query(SHOWN, WEEK_A))
    assert before and list(history_of(run_folder).query(SHOWN, WEEK_A)) == before


def assert_rejected_with(run: Run, world: Any, run_folder: Path, fails: dict[str, str],
                         flags: dict[str, str] | None = None) -> None:
    """Rejected, exit 3, each named check failed (or flagged) with a message holding the given text."""
    assert run.process.returncode == EXIT_REJECTED, run.process.stderr[-3000:]
    assert run.crawl["status"] == "rejected" and "exit code 3" in run.process.stderr
    for result, named in (("fail", fails), ("flag", flags or {})):
        for name, text in named.items():
            assert run.checks[name]["result"] == result and text in run.checks[name]["message"], run.checks[name]
    assert_nothing_lost(run)  # week A still shown, no table lost rows, the report's bytes unchanged
    assert_week_a_unchanged(world, run_folder)


def assert_published_with(run: Run, world: Any, run_folder: Path, changed: dict[str, str]) -> None:
    assert run.process.returncode == EXIT_PUBLISHED, run.process.stderr[-3000:]
    assert run.crawl["status"] == "published" and run.changed(world.baseline) == changed
    assert_nothing_lost(run)
    assert_week_a_unchanged(world, run_folder)


# --- prices ---------------------------------------------------------------------------------------

def reprice(model: Any, factor: float) -> type[FaultHandler]:
    def change(payload: Any) -> None:
        for entry in payload["data"]:
            if entry["id"] == model.public_id:
                entry["pricing"] = {kind: usd(float(value) * factor) for kind, value in entry["pricing"].items()}
    return json_edit(lambda path: path.startswith(CATALOGUE), change)


@pytest_twisted.ensureDeferred
async def test_the_top_models_price_times_1000_is_rejected_by_both_price_checks(world, fault_crawl, tmp_path):
    run, _ = await fault_crawl(reprice(SONNET, 1000))
    assert_rejected_with(run, world, tmp_path / "run1", {
        "price_bound": f"{SONNET.public_id} ({SONNET.permaslug}:standard) prompt $3000.00/M",
        "price_moves": f"{SONNET.permaslug}:standard prompt $3.00/M -> $3000.00/M (no effective price to confirm it)",
        # its unchanged effective price is not believed against such a list price: nothing confirms the move
        "effective_prices": f"{SONNET.permaslug}:standard"})
    assert f"{SONNET.permaslug}:standard completion $15.00/M -> $15000.00/M" in run.checks["price_moves"]["message"]


@pytest_twisted.ensureDeferred
async def test_the_top_models_price_times_9_is_rejected_naming_old_and_new_price(world, fault_crawl, tmp_path):
    run, _ = await fault_crawl(reprice(SONNET, 9))
    assert_rejected_with(run, world, tmp_path / "run1", {
        "price_moves": f"{SONNET.permaslug}:standard prompt $3.00/M -> $27.00/M (no effective price to confirm it)",
        "effective_prices": f"{SONNET.permaslug}:standard"})
    assert run.checks["price_bound"]["result"] == "pass"


# --- rows never vanish ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, why", [
    ("1e30", "'1e30' is not a count"),
    ("NaN", "'NaN' is not a count"),
    (-5, "-5 is negative"),
    (10**30, f"{10**30} is beyond SQLite's integer range"),
    (1e30, "1e+30 is beyond SQLite's integer range"),
])
@pytest_twisted.ensureDeferred
async def test_a_bad_token_count_on_the_top_row_keeps_the_row_unknown_and_rejects(world, fault_crawl, tmp_path,
                                                                             value, why):
    def change(payload: Any) -> None:
        for row in payload["data"]:
            if row["model_permaslug"] == SONNET.permaslug:
                row["total_prompt_tokens"] = value

    run, _ = await fault_crawl(json_edit(lambda path: path.startswith(LEADERBOARD), change))
    folder = tmp_path / "run1"
    # Its estimate is its tokens in week A (the factory's weeks grow 1.5 % a week).
    assert_rejected_with(
        run, world, folder, {"unknown_tokens": "1 ranked model-variants with unknown tokens (and revenue) hold about"},
        {"structure_leaderboard": f"field 'total_prompt_tokens': {why}: tokens and revenue of "
                                  f"{SONNET.permaslug}:standard unknown"})
    assert f"{SONNET.permaslug}:standard ~" in run.checks["unknown_tokens"]["message"]
    assert "(its published week 2026-01-26..2026-02-01)" in run.checks["unknown_tokens"]["message"]
    db = history_of(folder)
    [row] = db.query("SELECT * FROM model_weeks WHERE crawl_id = ? AND permaslug = ?",
                     [run.crawl["id"], SONNET.permaslug])
    assert row["total_tokens"] is row["prompt_tokens"] is row["upper_bound_usd"] is None
    assert row["rank"] == run.crawl["models_ranked"]  # after every row whose count is known
    [week] = db.query("SELECT * FROM weekly_totals WHERE week_end = ?", [WEEK_B[1]])
    assert week["total_tokens"] is None and week["unknown_total_tokens_models"] == 1  # n/a, never 0
    assert week["models"] == len(SEED_MODELS) and week["known_total_tokens"] == sum(m.total for m in SEED_MODELS[1:])
    shares = {a["author"]: (a["total_tokens"], a["token_share"]) for a in db.query(
        "SELECT * FROM author_weekly WHERE week_end = ?", [WEEK_B[1]])}
    assert shares["anthropic"] == (None, None)  # Sonnet's author: its tokens unknown
    assert shares["google"][0] == sum(m.total for m in SEED_MODELS if m.permaslug.startswith("google/"))
    assert {share for _, share in shares.values()} == {None}  # a share of an unknown week total is unknown
    [problem] = db.query("SELECT * FROM problems WHERE crawl_id = ? AND field = 'total_prompt_tokens'",
                         [run.crawl["id"]])
    assert problem["source"] == "leaderboard" and problem["url"].endswith(f"{LEADERBOARD}?view=week")
    assert problem["permaslug"] == SONNET.permaslug


# --- identity -------------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_an_activity_answer_about_another_model_variant_is_not_credited_to_the_one_asked(world, fault_crawl,
                                                                                        tmp_path):
    def edit(handler: FaultHandler, path: str) -> bytes | None:
        return handler.body(activity_path(KIMI)) if path == activity_path(SONNET) else None

    run, _ = await fault_crawl(poisoned(edit))
    folder = tmp_path / "run1"
    assert_rejected_with(run, world, folder, {
        "identity": f"field 'data.analytics[0].model_permaslug': asked for {SONNET.permaslug}:standard, "
                    f"found {KIMI.permaslug}:standard"})
    [fetch] = history_of(folder).query("SELECT status FROM activity_fetches WHERE crawl_id = ? AND permaslug = ?",
                                       [run.crawl["id"], SONNET.permaslug])
    assert fetch["status"] == "failed"  # its split unknown, not Kimi's tokens
    assert history_of(folder).execute("SELECT COUNT(*) FROM daily_activity WHERE crawl_id = ? AND permaslug = ?",
                                      [run.crawl["id"], SONNET.permaslug]).fetchone()[0] == 0


# --- duplicates -----------------------------------------------------------------------------------

def repeat_row(edit_copy: Callable[[dict[str, Any]], None]) -> type[FaultHandler]:
    def change(payload: Any) -> None:
        copy = dict(next(row for row in payload["data"] if row["model_permaslug"] == SONNET.permaslug))
        edit_copy(copy)
        payload["data"].append(copy)
    return json_edit(lambda path: path.startswith(LEADERBOARD), change)


@pytest_twisted.ensureDeferred
async def test_an_identical_duplicate_leaderboard_row_collapses_to_one(world, fault_crawl, tmp_path):
    run, _ = await fault_crawl(repeat_row(lambda copy: None))
    assert_published_with(run, world, tmp_path / "run1", {})
    assert run.checks["duplicates"]["message"] == "identical copies collapsed into one: leaderboard 1"
    assert run.stats["orstats/normalize/duplicates_collapsed/LeaderboardRow"] == 1
    assert run.crawl["models_ranked"] == len(SEED_MODELS)


@pytest_twisted.ensureDeferred
async def test_a_differing_duplicate_leaderboard_row_rejects_naming_the_key(world, fault_crawl, tmp_path):
    def double(copy: dict[str, Any]) -> None:
        copy["total_prompt_tokens"] *= 2

    run, _ = await fault_crawl(repeat_row(double))
    assert_rejected_with(run, world, tmp_path / "run1", {
        "duplicates": f"1 keys listed twice with different values: leaderboard "
                      f"{run.crawl['base_url']}{LEADERBOARD}?view=week field 'data[10]': {SONNET.permaslug}:standard "
                      f"listed again with different values (first at data[0])"})


# --- dates ----------------------------------------------------------------------------------------

SMALL = SEED_MODELS[5]  # 2.9 % of the week's list-price spend: its split can go unknown


@pytest_twisted.ensureDeferred
async def test_a_cached_at_after_the_crawls_day_stores_no_week_after_it(world, fault_crawl, tmp_path):
    cached_at = int((datetime.now(timezone.utc) + timedelta(days=400)).timestamp()) * 1000  # a year ahead

    def change(payload: Any) -> None:
        payload["data"]["cachedAt"] = cached_at

    run, _ = await fault_crawl(json_edit(lambda path: path == activity_path(SMALL), change))
    folder = tmp_path / "run1"
    # The window comes from the other answers' clocks; the answer with the bad one gives no split.
    assert_published_with(run, world, folder, {"structure_activity": "flag"})
    assert (run.crawl["week_start"], run.crawl["week_end"]) == WEEK_B
    future = datetime.fromtimestamp(cached_at / 1000, tz=timezone.utc)
    assert f"field 'data.cachedAt': {future.isoformat()} is after the crawl's day" in \
        run.checks["structure_activity"]["message"]
    db = history_of(folder)
    for table in ("weeks", "weekly_revenue", "weekly_totals", "monday_weeks"):
        assert db.execute(f"SELECT MAX(week_end) FROM {table}").fetchone()[0] <= WEEK_B[1], table
    assert db.execute("SELECT COUNT(*) FROM daily_activity WHERE crawl_id = ? AND permaslug = ?",
                      [run.crawl["id"], SMALL.permaslug]).fetchone()[0] == 0


# --- per-day validation ---------------------------------------------------------------------------

def edit_day(day: str, change: Callable[[dict[str, Any]], None]) -> type[FaultHandler]:
    def apply(payload: Any) -> None:
        change(next(row for row in payload["data"]["analytics"] if row["date"].startswith(day)))
    return json_edit(lambda path: path == activity_path(SONNET), apply)


@pytest_twisted.ensureDeferred
async def test_a_day_breaking_an_invariant_outside_the_week_keeps_the_weeks_split(world, fault_crawl, tmp_path):
    def more_cached_than_prompt(row: dict[str, Any]) -> None:
        row["total_native_tokens_cached"] = row["total_prompt_tokens"] + 1

    run, _ = await fault_crawl(edit_day("2026-01-16", more_cached_than_prompt))
    folder = tmp_path / "run1"
    assert_published_with(run, world, folder, {"structure_activity": "flag"})
    assert ("field 'total_native_tokens_cached': day 2026-01-16: cached_tokens" in
            run.checks["structure_activity"]["message"])
    db = history_of(folder)
    [row] = db.query("SELECT split_source FROM model_weeks WHERE crawl_id = ? AND permaslug = ?",
                     [run.crawl["id"], SONNET.permaslug])
    assert row["split_source"] == "activity"
    days = [r["day"] for r in db.query("SELECT day FROM daily_activity WHERE crawl_id = ? AND permaslug = ?",
                                       [run.crawl["id"], SONNET.permaslug])]
    assert "2026-01-16" not in days and len(days) == 29  # 31 days, less today's partial one and the bad one


@pytest_twisted.ensureDeferred
async def test_reasoning_above_completion_on_a_day_is_counted_and_the_split_kept(world, fault_crawl, tmp_path):
    def more_reasoning_than_completion(row: dict[str, Any]) -> None:
        row["total_native_tokens_reasoning"] = row["total_completion_tokens"] + 1

    run, _ = await fault_crawl(edit_day("2026-01-16", more_reasoning_than_completion))
    assert_published_with(run, world, tmp_path / "run1", {})
    assert run.stats["orstats/validate/activity/reasoning_above_completion"] == 1


@pytest_twisted.ensureDeferred
async def test_a_day_breaking_an_invariant_inside_the_week_makes_that_split_unknown(world, fault_crawl, tmp_path):
    def more_cached_than_prompt(row: dict[str, Any]) -> None:
        row["total_native_tokens_cached"] = row["total_prompt_tokens"] + 1

    run, _ = await fault_crawl(edit_day("2026-02-05", more_cached_than_prompt))
    # Sonnet holds 45 % of the week's list-price spend: without its split the coverage fails.
    assert_rejected_with(run, world, tmp_path / "run1", {"split_coverage": SONNET.permaslug})
