"""The quality gate wired into whole-engine crawls: two crawls into one history (last week, then this
week changed), the verdict stored in the crawls row and counted in the stats, the comparisons with
what the history holds (published crawls, stored chart weeks, published weeks' tokens). Each check's
own logic, result by result, is in tests/test_quality_checks.py. Also the pieces around the gate:
Retry-After, exit codes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Callable

import pytest
import pytest_twisted
from scrapy.utils.project import get_project_settings
from sqlite_utils import Database

from orstats_crawler.publish import quality, quality_moves
from orstats_crawler.arguments import UsageError
from orstats_crawler.commands.crawl import EXIT_ERROR, EXIT_PUBLISHED, EXIT_REJECTED, EXIT_USAGE, Outcome, exit_code
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.publish.crawl_items import CrawlItems
from orstats_crawler.publish.week_summary import WeekSummary
from orstats_crawler.items import ChartWeek, ModelPrice
from orstats_crawler.middlewares.retry import retry_after_seconds
from orstats_crawler.pricing import PriceCatalogue
from orstats_crawler.report.format import tokens
from orstats_crawler.signals import StoredVerdict
from tests.conftest import crawl
from tests.factory import SEED_DAY, SEED_MODELS, SnapshotSpec, build_snapshot, usd, with_models

LAST_WEEK = SnapshotSpec(captured=SEED_DAY - timedelta(days=7), name="last-week")
CHART = "model-rankings-chart"
URL = "https://openrouter.ai/api/v1/models"


async def crawl_week(tmp_path: Path, history: Path, name: str, spec: SnapshotSpec | None = None,
                     mutate: Callable[[str, Any], Any] | None = None, **args: str) -> tuple[str, dict[str, dict]]:
    """Crawl a factory snapshot into ``history``; (status, checks by name) as stored in its crawls row."""
    snapshot = build_snapshot(tmp_path / name, spec, mutate=mutate)
    result = await crawl({"ORSTATS_DB": str(history), "ORSTATS_REPORT_DIR": str(tmp_path / "reports")},
                         snapshot=str(snapshot), **args)
    row = Database(history)["crawls"].get(result.crawl_id)
    assert row["status"] == result.status
    checks = {c["name"]: c for c in json.loads(row["checks"])}
    for name, check in checks.items():  # every check is counted in the stats under its name
        assert result.stats[f"orstats/check/{name}"] == check["result"]
    return row["status"], checks


async def after_last_week(tmp_path: Path, history: Path, **this_week: Any) -> tuple[str, dict[str, dict]]:
    status, _ = await crawl_week(tmp_path, history, "last-week", LAST_WEEK)
    assert status == "published"
    return await crawl_week(tmp_path, history, "this-week", **this_week)


@pytest_twisted.ensureDeferred
async def test_a_clean_week_after_last_week_passes_every_comparison(tmp_path, history_path):
    status, checks = await after_last_week(tmp_path, history_path)
    assert status == "published"
    for name in ("model_count", "leaderboard_totals", "chart_totals", "chart_history", "price_moves", "split_bounds"):
        assert checks[name]["result"] == "pass", checks[name]
    assert "10 ranked model-variants, 100% of the 10" in checks["model_count"]["message"]
    # 51 finished weeks each time, one week apart: 50 in common, unchanged.
    assert "50 finished chart weeks seen before (tolerance 2%), all unchanged" in checks["chart_history"]["message"]


def repriced(index: int, **prices: float) -> dict[str, Any]:
    """The seed model's catalogue prices with some multiplied: ``repriced(0, prompt=1 / 20)``."""
    pricing = dict(SEED_MODELS[index].pricing)
    for kind, factor in prices.items():
        pricing[kind] = usd(float(pricing[kind]) * factor)
    return {"pricing": pricing}


@pytest_twisted.ensureDeferred
async def test_a_large_price_move_no_effective_price_confirms_rejects_naming_old_and_new(tmp_path, history_path):
    # Sonnet's prompt price cut 20x: its effective input price (the cache discount unchanged) moves 5x.
    # Opus listed free: no effective price at all (the site prices no traffic at 0).
    sonnet, opus = SEED_MODELS[0], SEED_MODELS[1]
    models = with_models((0, repriced(0, prompt=1 / 20)), (1, {"pricing": {"prompt": "0", "completion": "0"}}))
    status, checks = await after_last_week(tmp_path, history_path, spec=SnapshotSpec(models=models))
    assert status == "rejected"
    check = checks["price_moves"]
    assert check["result"] == "fail" and "2 list prices no effective price confirms" in check["message"]
    # Sonnet's cut is one its traffic has not fully followed yet: it pays 4.5x the new list price as
    # paid, within what a material row pays against its list price (ORSTATS_EFFECTIVE_MAX_OVER_LIST),
    # like GLM 5.2's real cut on 2026-08-08, so it is confirmed (not in the failure)
    assert f"{sonnet.permaslug}:standard prompt" not in check["message"]
    assert checks["effective_prices"]["result"] == "pass"
    assert f"{opus.permaslug}:standard prompt $5.00/M -> $0.00/M (no effective price to confirm it)" in check["message"]
    assert f"{opus.permaslug}:standard completion $25.00/M -> $0.00/M" in check["message"]


@pytest.mark.parametrize("index, confirmed_by", [
    # Sonnet's traffic was priced last week too: its effective price's move is compared with the list price's.
    (0, "completion $15.00/M -> $60.00/M (effective $15.00/M -> $60.00/M)"),
    # Grok's was not (the site priced none of its traffic): this week's is compared with its list price.
    (7, "completion $0.5000/M -> $2.00/M (its traffic paid $2.00/M)"),
])
@pytest_twisted.ensureDeferred
async def test_a_price_move_its_effective_price_confirms_is_flagged_for_review(tmp_path, history_path, index,
                                                                              confirmed_by):
    last_week = replace(LAST_WEEK, models=with_models((7, {"effective": (0.0, 0.0, 0.0)})))
    status, _ = await crawl_week(tmp_path, history_path, "last-week", last_week)
    assert status == "published"
    # Completion 4x: what the traffic paid for output (the factory's figure) 4x too.
    models = with_models((index, repriced(index, completion=4)))
    status, checks = await crawl_week(tmp_path, history_path, "this-week", SnapshotSpec(models=models))
    assert status == "published"
    check = checks["price_moves"]
    assert check["result"] == "flag" and "1 to review" in check["message"]
    assert f"{SEED_MODELS[index].permaslug}:standard {confirmed_by}" in check["message"]


@pytest_twisted.ensureDeferred
async def test_a_new_model_priced_far_from_what_its_traffic_paid_rejects(tmp_path, history_path):
    # A model-variant last week did not rank, listed at 10x what its traffic paid this week.
    new = replace(SEED_MODELS[4], permaslug="lab/new-20260201", public_id="lab/new", name="Lab: New",
                  effective=(0.03, 0.25, 0.0))
    status, checks = await after_last_week(tmp_path, history_path, spec=SnapshotSpec(models=[*SEED_MODELS, new]))
    assert status == "rejected"
    # its traffic paying a tenth of its list price is not believed: the row falls back to list, and
    # as it holds a material share of the spend the week is rejected
    assert checks["effective_prices"]["result"] == "fail"
    assert ("lab/new-20260201:standard 3.43%: effective prompt $0.0300/M is 0.1x its list price as paid $0.3000/M "
            "(believed from 0.5x to 10x)") in checks["effective_prices"]["message"]


@pytest_twisted.ensureDeferred
async def test_price_moves_and_model_count_skip_without_a_published_crawl(tmp_path, history_path):
    status, checks = await crawl_week(tmp_path, history_path, "first")
    assert status == "published"
    assert checks["price_moves"] == {"name": "price_moves", "result": "skip",
                                     "message": "no published crawl to compare list prices with"}
    assert checks["model_count"]["result"] == "skip" and checks["chart_history"]["result"] == "skip"
    assert checks["price_bound"]["result"] == "pass"


@pytest_twisted.ensureDeferred
async def test_a_ranked_paid_model_without_a_price_is_flagged(tmp_path, history_path):
    status, checks = await crawl_week(tmp_path, history_path, "unpriced",
                                      SnapshotSpec(models=with_models((8, {"in_catalogue": False}))))
    assert status == "published"
    assert checks["prices_missing"]["result"] == "flag"
    assert "1 ranked model-variants without a usable price" in checks["prices_missing"]["message"]
    assert SEED_MODELS[8].permaslug in checks["prices_missing"]["message"]


def edit_chart(week_index: int, edit: Callable[[dict[str, int]], None]) -> Callable[[str, Any], Any]:
    def mutate(url: str, payload: Any) -> Any:
        if CHART in url:
            edit(payload["data"]["data"][week_index]["ys"])
        return payload
    return mutate


@pytest_twisted.ensureDeferred
async def test_a_finished_chart_week_whose_total_changed_rejects_and_the_stored_week_stays(tmp_path, history_path):
    def double(ys: dict[str, int]) -> None:
        for key in ys:
            ys[key] *= 2

    status, checks = await crawl_week(tmp_path, history_path, "last-week", LAST_WEEK)
    db = Database(history_path)
    stored = list(db.query("select * from chart_weeks order by week_start, key"))
    status, checks = await crawl_week(tmp_path, history_path, "this-week", mutate=edit_chart(40, double))
    assert status == "rejected"
    assert checks["chart_history"]["result"] == "fail" and "1 week totals changed" in checks["chart_history"]["message"]
    # The rejected crawl's chart does not overwrite what published crawls stored.
    rows = list(db.query("select * from chart_weeks order by week_start, key"))
    assert [r for r in rows if r["week_start"] <= stored[-1]["week_start"]] == stored


@pytest_twisted.ensureDeferred
async def test_token_coverage_below_its_minimum_rejects(tmp_path, history_path):
    snapshot = build_snapshot(tmp_path / "s")
    result = await crawl({"ORSTATS_DB": str(history_path), "ORSTATS_REPORT_DIR": str(tmp_path / "r"),
                          "ORSTATS_MIN_TOKEN_COVERAGE": 0.95}, snapshot=str(snapshot))
    assert result.status == "rejected"
    assert result.stats["orstats/check/token_coverage"] == "fail"
    assert result.stats["orstats/check/split_coverage"] == "pass"
    assert result.stats["orstats/checks/fail"] == 1


URL_CHART = "https://openrouter.ai/api/frontend/v1/rankings/model-rankings-chart"
COMPUTED = datetime(2026, 2, 9, 6, tzinfo=timezone.utc)


def week_row(permaslug: str, total: int | None) -> dict[str, Any]:
    return {"permaslug": permaslug, "variant": "standard", "total_tokens": total, "week_end": "2026-02-08"}


@pytest_twisted.ensureDeferred
async def test_unknown_tokens_are_weighed_by_their_published_week_else_by_the_chart(tmp_path, history_path):
    await crawl_week(tmp_path, history_path, "last-week", LAST_WEEK)  # publishes Sonnet's week A
    db = open_for_writing(history_path)
    # The chart's newest finished week names x/charted; the one after it is partial and not used.
    chart = [ChartWeek(date(2026, 1, 26), {"x/charted": 500, "y/named": 100, "Others": 10**6}, URL_CHART, "current",
                       COMPUTED),
             ChartWeek(date(2026, 2, 2), {"x/charted": 1}, URL_CHART, "current", COMPUTED)]
    sonnet = SEED_MODELS[0]
    rows = [week_row("a/known", 10**6), week_row(sonnet.permaslug, None), week_row("x/charted", None),
            week_row("z/unnamed", None)]
    summary = WeekSummary(date(2026, 2, 2), date(2026, 2, 8), rows, 1.0, 1.0, 0)
    verdict = quality.Verdict()
    quality.check_unknown_tokens(verdict, summary, CrawlItems(chart=chart), db, 0.01)
    share = (sonnet.total + 600) / (10**6 + sonnet.total + 600)
    assert verdict.checks == [{"name": "unknown_tokens", "result": "fail", "message":
                               f"3 ranked model-variants with unknown tokens (and revenue) hold about {share:.2%} of "
                               f"the week's tokens (maximum 1%): {sonnet.permaslug}:standard ~{tokens(sonnet.total)} "
                               "(its published week 2026-01-26..2026-02-01); x/charted:standard ~500 (chart week of "
                               "2026-01-26); z/unnamed:standard ~100 (at most the smallest value the chart names in "
                               "the week of 2026-01-26)"}]
    # Below the maximum: published, flagged. With nothing to estimate from: its weight is not bounded.
    for chart_weeks, result, words in ((chart, "flag", "hold about 0.01%"), ([], "fail", "1 with nothing to estimate "
                                                                                           "them from")):
        verdict = quality.Verdict()
        small = WeekSummary(date(2026, 2, 2), date(2026, 2, 8), [rows[0], rows[3]], 1.0, 1.0, 0)
        quality.check_unknown_tokens(verdict, small, CrawlItems(chart=chart_weeks), db, 0.01)
        assert verdict.checks[0]["result"] == result and words in verdict.checks[0]["message"], verdict.checks


def test_price_moves_compare_with_the_entry_the_earlier_crawl_priced_rows_with(tmp_path):
    """Two ids of one (canonical_slug, variant), listed highest id first: the crawl priced its rows
    with the lowest id's entry (PriceCatalogue), and the next crawl compares with that one."""
    entries = [("~x/m-latest", "0.000009"), ("x/m", "0.000001")]
    catalogue = PriceCatalogue()
    for public_id, price in entries:
        catalogue.add(ModelPrice(public_id, "x/m-2026", "standard", public_id,
                                 {"prompt": price, "completion": price}, URL))
    db = open_for_writing(str(tmp_path / "h.db"))
    db["crawls"].insert({"id": "earlier", "week_end": "2026-02-01", "started_at": "2026-02-02T00:00:00+00:00",
                         "status": "published", "models_ranked": 1})
    db["prices"].insert_all({"crawl_id": "earlier", "observed_on": "2026-02-02", "public_id": public_id,
                             "canonical_slug": "x/m-2026", "variant": "standard", "prompt_price": float(price),
                             "completion_price": float(price)} for public_id, price in entries)
    previous = quality.previous_published(db, "this", date(2026, 2, 8))
    assert previous["id"] == "earlier"
    assert (quality_moves.published_prices(db, "earlier")[("x/m-2026", "standard")]["prompt_price"]
            == catalogue.price_for("x/m-2026", "standard").prompt == 1e-06)


def test_comparisons_use_the_latest_published_crawl_whatever_the_crawl_found():
    """A crawl that found no week still compares with the latest published crawl; a crawl of an
    older week with the nearest later one; rejected crawls are never the comparison."""
    db = Database(memory=True)
    db["crawls"].insert_all([
        {"id": "a", "week_end": "2026-02-01", "started_at": "1", "status": "published", "models_ranked": 10},
        {"id": "b", "week_end": "2026-02-08", "started_at": "2", "status": "published", "models_ranked": 9},
        {"id": "c", "week_end": "2026-02-15", "started_at": "3", "status": "rejected", "models_ranked": 1},
    ])
    assert quality.previous_published(db, "x", None)["id"] == "b"
    assert quality.previous_published(db, "x", date(2026, 2, 9))["id"] == "b"
    assert quality.previous_published(db, "x", date(2026, 2, 7))["id"] == "a"
    assert quality.previous_published(db, "x", date(2026, 1, 1))["id"] == "a"
    assert quality.previous_published(db, "b", date(2026, 2, 8))["id"] == "a"
    verdict = quality.Verdict()
    quality.check_model_count(verdict, WeekSummary(None, None, [], None, None, 0),
                              quality.previous_published(db, "x", None), 0.5)
    assert verdict.checks == [{"name": "model_count", "result": "fail", "message":
                               "0 ranked model-variants, 0% of the 9 of published crawl b (week ending 2026-02-08; "
                               "minimum 50%)"}]


def test_the_gate_on_an_empty_crawl_names_what_is_missing(tmp_path):
    db = open_for_writing(str(tmp_path / "h.db"))
    verdict = quality.evaluate(CrawlItems(), WeekSummary(None, None, [], None, None, 0), db, get_project_settings(),
                               finish_reason="shutdown")
    failed = {c["name"] for c in verdict.named(quality.FAIL)}
    assert {"crawl_finished", "structure_prices", "structure_leaderboard", "structure_week", "split_coverage"} <= failed
    assert verdict.status() == "rejected" and verdict.status(forced=True) == "published"


def test_retry_after_in_seconds_or_as_an_http_date():
    now = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(b"120", now) == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert retry_after_seconds("Sat, 22 Aug 2026 11:00:00 GMT", now) == 0  # already past: no wait
    assert retry_after_seconds(b"soon", now) is None and retry_after_seconds(None, now) is None


def verdict_of(status: str) -> StoredVerdict:
    return StoredVerdict("c1", status, "h.db", "2026-08-01", "2026-08-07", False)


@pytest.mark.parametrize("outcome, history, expected", [
    (Outcome(verdict=verdict_of("published"), finish_reason="finished"), True, EXIT_PUBLISHED),
    (Outcome(verdict=verdict_of("rejected"), finish_reason="finished"), True, EXIT_REJECTED),
    (Outcome(finish_reason="finished"), True, EXIT_ERROR),  # the history feed failed to store a verdict
    (Outcome(finish_reason="finished"), False, EXIT_PUBLISHED),  # no history, no gate
    (Outcome(finish_reason="closespider_timeout"), False, EXIT_ERROR),
    (Outcome(start_error=RuntimeError("no reactor")), True, EXIT_ERROR),
    (Outcome(start_error=UsageError("-a top='x'")), True, EXIT_USAGE),
])
def test_exit_codes(outcome, history, expected):
    assert exit_code(outcome, history)[0] == expected
