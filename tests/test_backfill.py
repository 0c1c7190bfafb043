"""The Monday-week series: measured weeks from daily activity, modeled chart weeks, dated prices, authors."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.history import monday_weeks
from orstats_crawler.history.price_history import PriceHistory
from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.report import format as fmt
from tests.conftest import crawl
from tests.factory import SEED_MODELS, SnapshotSpec, _chart_key, build_snapshot, chart, daily_rows, expected_effective
from tests.test_import_history import anchor_file, run_import, write
from tests.test_report import crawl_demo, section, table

SPLIT = ("prompt", "completion", "cached", "reasoning")
# The daily row's field of each part of the split (the model-activity schema).
DAY_FIELD = {"prompt": "total_prompt_tokens", "completion": "total_completion_tokens",
             "cached": "total_native_tokens_cached", "reasoning": "total_native_tokens_reasoning"}


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def complete_weeks(model, spec: SnapshotSpec) -> dict[str, dict[str, int]]:
    """The model's complete Monday weeks in its generated daily rows (today's partial day left out)."""
    weeks: dict[str, list[dict]] = defaultdict(list)
    for row in daily_rows(model, spec.captured, spec.history_days):
        day = date.fromisoformat(row["date"][:10])
        if day < spec.captured:
            weeks[monday_of(day).isoformat()].append(row)
    return {start: {f: sum(r[DAY_FIELD[f]] for r in rows) for f in SPLIT}
            for start, rows in weeks.items() if len(rows) == 7}


def monday_rows(path) -> dict[tuple[str, str, str], dict]:
    return {(r["week_start"], r["permaslug"], r["variant"]): r
            for r in Database(path).query("select * from monday_revenue")}


@pytest_twisted.ensureDeferred
async def test_a_crawl_measures_its_complete_monday_weeks_and_models_the_older_chart_weeks(demo_snapshot, history_path):
    spec = SnapshotSpec()
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot), top="all")
    rows = monday_rows(history_path)
    mix_weeks = {}
    for model in SEED_MODELS:
        expected = complete_weeks(model, spec)
        assert len(expected) == 4  # 30 complete days hold four Monday weeks
        for start, split in expected.items():
            row = rows[(start, model.permaslug, model.variant)]
            assert (row["basis"], row["source"]) == ("measured", "daily")
            assert [row[f"{f}_tokens"] for f in SPLIT] == [split[f] for f in SPLIT]
            assert row["week_end"] == (date.fromisoformat(start) + timedelta(days=6)).isoformat()
        mix_weeks[_chart_key(model)] = expected[min(expected)]  # older weeks take the earliest measured one
    # The crawl's own window is a Monday week here: its measured week is the seed week itself.
    sonnet = rows[("2026-02-02", SEED_MODELS[0].permaslug, "standard")]
    assert (sonnet["prompt_tokens"], sonnet["cached_tokens"]) == (SEED_MODELS[0].prompt, SEED_MODELS[0].cached)
    # Finished chart weeks older than the measured ones: modeled with the earliest measured week's mix.
    modeled = 0
    for week in chart(spec)["data"]["data"][:-5]:
        for key, tokens in week["ys"].items():
            if key == "Others":
                continue
            permaslug, _, variant = key.partition(":")
            row = rows[(week["x"], permaslug, variant or "standard")]
            mix = mix_weeks[key]
            prompt = round(tokens * mix["prompt"] / (mix["prompt"] + mix["completion"]))
            assert (row["basis"], row["source"], row["total_tokens"]) == ("modeled", "chart", tokens)
            assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, tokens - prompt)
            assert row["cached_tokens"] == round(prompt * mix["cached"] / mix["prompt"])
            assert row["mix_week_start"] == "2026-01-12" and row["revenue_list_usd"] > 0
            modeled += 1
    assert modeled == 9 * (52 - 5)
    # One crawl, one price observation (the day after its window): every week is priced after it.
    bases = {(r["price_basis"], r["price_observed_on"]) for r in rows.values() if r["variant"] != "free"}
    assert bases == {("after", "2026-02-09")}
    totals = {r["week_start"]: r for r in Database(history_path).query("select * from monday_totals")}
    assert len(totals) == 51  # the chart's finished weeks, the last four of them measured
    assert totals["2026-02-02"]["basis"] == "measured" and totals["2025-12-29"]["basis"] == "modeled"


@pytest_twisted.ensureDeferred
async def test_weeks_are_priced_with_the_prices_valid_in_them(tmp_path, history_path):
    """A crawl a week earlier saw another price: weeks it precedes keep theirs, its own week gets it."""
    earlier = replace(SEED_MODELS[0], pricing={**SEED_MODELS[0].pricing, "prompt": "0.000004"})
    spec = SnapshotSpec(models=[earlier, *SEED_MODELS[1:]], captured=date(2026, 2, 2), name="week-before")
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(build_snapshot(tmp_path / "before", spec)))
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(build_snapshot(tmp_path / "demo")))
    rows = monday_rows(history_path)
    sonnet = SEED_MODELS[0].permaslug
    in_week = rows[("2026-02-02", sonnet, "standard")]  # observed 2026-02-02, on or before 2026-02-08
    assert (in_week["price_basis"], in_week["price_observed_on"], in_week["prompt_price"]) == (
        "before", "2026-02-02", 4e-06)
    older = rows[("2026-01-19", sonnet, "standard")]  # nothing that early: the earliest observation after
    assert (older["price_basis"], older["price_observed_on"]) == ("after", "2026-02-02")
    # The latest crawl's daily rows win where both crawls measured the same week.
    assert in_week["prompt_tokens"] == SEED_MODELS[0].prompt
    # weekly_revenue keeps each crawl's own catalogue for its own window.
    shown = next(Database(history_path).query(
        "select prompt_price, price_basis, price_observed_on from weekly_revenue "
        "where permaslug = ? and week_end = '2026-02-08'",
        [sonnet]))
    assert shown == {"prompt_price": 3e-06, "price_basis": "crawl", "price_observed_on": "2026-02-09"}


def series_rows(path) -> list[dict]:
    return list(Database(path).query("select * from monday_weeks order by week_start, week_end, permaslug, variant"))


@pytest_twisted.ensureDeferred
async def test_folding_each_crawl_in_gives_what_a_rebuild_gives(tmp_path, history_path):
    """Crawls in any order (an older capture after a newer one), a price change, a Monday-window
    crawl stored again, imported weeks with an unknown split: after each one, the incrementally
    updated series equals the series rebuilt from the whole history."""

    def check():
        folded = series_rows(history_path)
        db = open_for_writing(str(history_path))
        with immediate(db):
            monday_weeks.rebuild(db)
        db.close()
        assert folded == series_rows(history_path)
        return folded

    cheaper = replace(SEED_MODELS[3], pricing={**SEED_MODELS[3].pricing, "prompt": "0.0000004"})
    specs = [SnapshotSpec(captured=date(2026, 2, 9), name="demo"),
             SnapshotSpec(models=[*SEED_MODELS[:3], cheaper, *SEED_MODELS[4:]], captured=date(2026, 1, 26),
                          name="older"),
             SnapshotSpec(captured=date(2026, 2, 16), name="next")]
    sizes = []
    for spec in specs:
        snapshot = build_snapshot(tmp_path / spec.name, spec)
        await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(snapshot), top="all")
        sizes.append(len(check()))
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(tmp_path / "demo"), top="all")  # the same week again
    check()
    for _ in range(2):  # stored twice under one id, as a rerun of a Scrapyd job is
        await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(tmp_path / "next"), top="all", _job="job-1")
        check()
    files = tmp_path / "files"
    run_import(history_path, write(files, anchor_file(date(2025, 12, 7))),
               write(files, anchor_file(date(2025, 12, 15), zero=True)))
    rows = check()
    assert sizes[0] < sizes[-1] < len(rows)
    assert {r["basis"] for r in rows} == {"measured", "modeled"}
    assert {r["source"] for r in rows} == {"daily", "chart", "import"}  # a Monday crawl's own rows: its daily weeks


def test_price_history_lookup_rules(tmp_path):
    db = open_for_writing(str(tmp_path / "h.db"))
    db["crawls"].insert_all([{"id": "a", "started_at": "2026-01-05T00:00:00"},
                             {"id": "b", "started_at": "2026-01-12T00:00:00"}])
    base = {"canonical_slug": "x/m", "variant": "standard", "completion_price": 2e-06, "cache_read_price": 1e-07,
            "is_free": 0}
    db["prices"].insert_all([
        {**base, "crawl_id": "a", "public_id": "x/m", "observed_on": "2026-01-05", "prompt_price": 1e-06},
        {**base, "crawl_id": "b", "public_id": "x/m", "observed_on": "2026-01-12", "prompt_price": 3e-06},
        {**base, "crawl_id": "b", "public_id": "~x/m-latest", "observed_on": "2026-01-12", "prompt_price": 9e-06},
        {**base, "crawl_id": "b", "public_id": "x/router", "canonical_slug": "x/router", "observed_on": "2026-01-12",
         "prompt_price": None},
    ])
    prices = PriceHistory(db)
    assert prices.at("x/m", "standard", "2026-01-01").price_basis == "after"
    assert prices.at("x/m", "standard", "2026-01-01").prompt_price == 1e-06
    between = prices.at("x/m", "standard", "2026-01-11")
    assert (between.prompt_price, between.price_observed_on) == (1e-06, "2026-01-05")
    assert prices.at("x/m", "standard", "2026-01-12").prompt_price == 3e-06  # the real id, not its alias
    assert prices.at("x/m", "free", "2026-01-12").price_basis == "free"
    assert prices.at("x/router", "standard", "2026-01-12").price_basis is None  # "-1": no price, not a price


@pytest_twisted.ensureDeferred
async def test_a_rejected_crawl_feeds_nothing(tmp_path, history_path):
    spec = SnapshotSpec(models=[replace(m, activity="missing") for m in SEED_MODELS])
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(build_snapshot(tmp_path / "s", spec)))
    assert result.status == "rejected"
    assert Database(history_path)["monday_weeks"].count == 0


@pytest_twisted.ensureDeferred
async def test_revenue_by_author_shares(demo_snapshot, history_path):
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot), top="all")
    db = Database(history_path)
    authors = {r["author"]: r for r in db.query("select * from author_weekly where week_end = '2026-02-08'")}
    week = list(db.query("select permaslug, total_tokens, revenue_list_usd from weekly_revenue"))
    tokens, dollars = sum(r["total_tokens"] for r in week), sum(r["revenue_list_usd"] for r in week)
    for author in {m.permaslug.split("/")[0] for m in SEED_MODELS}:
        mine = [r for r in week if r["permaslug"].startswith(author + "/")]
        assert authors[author]["models"] == len(mine)
        assert authors[author]["token_share"] == pytest.approx(sum(r["total_tokens"] for r in mine) / tokens)
        assert authors[author]["revenue_list_usd_share"] == pytest.approx(
            sum(r["revenue_list_usd"] for r in mine) / dollars)
    assert authors["anthropic"]["revenue_list_usd_share"] > authors["anthropic"]["token_share"]  # expensive tokens
    assert authors["arcee-ai"]["revenue_list_usd"] == 0 and authors["arcee-ai"]["token_share"] > 0
    monday = {r["author"] for r in db.query("select author from author_monday where week_start = '2025-06-02'")}
    assert monday and monday <= set(authors)


def test_real_capture_stores_51_chart_weeks_its_window_and_exact_monday_weeks(capture_2026_08_08):
    db = Database(capture_2026_08_08.history)
    chart_weeks = [r["week_start"] for r in db.query("select distinct week_start from chart_weeks order by 1")]
    assert len(chart_weeks) == 51 and chart_weeks[-1] == "2026-08-03"  # 2026-08-10 was still partial
    assert list(db.query("select week_start, week_end, status from weeks")) == [
        {"week_start": "2026-08-01", "week_end": "2026-08-07", "status": "published"}]
    measured = list(db.query("select * from monday_weeks where basis = 'measured'"))
    assert {r["week_start"] for r in measured} == {"2026-07-13", "2026-07-20", "2026-07-27"}
    charted = {(r["week_start"], r["key"]): r["tokens"] for r in db.query("select * from chart_weeks")}
    matched = 0
    for row in measured:  # the chart's figure of a measured week is the sum of its daily rows
        key = row["permaslug"] + ("" if row["variant"] == "standard" else ":" + row["variant"])
        if (row["week_start"], key) in charted:
            assert row["total_tokens"] == charted[(row["week_start"], key)]
            matched += 1
    assert matched >= 20
    later = list(db.query("select distinct basis from monday_weeks where week_start = '2026-08-03'"))
    assert "measured" not in {r["basis"] for r in later}  # its days end 2026-08-09, after the activity


@pytest_twisted.ensureDeferred
async def test_the_report_lists_revenue_by_author(tmp_path):
    text = await crawl_demo(tmp_path)
    rows = {row[0]: row for row in table(section(text, "Revenue by Author"))}
    revenue: dict[str, float] = defaultdict(float)
    tokens: dict[str, int] = defaultdict(int)
    for model in SEED_MODELS:
        author = model.permaslug.split("/")[0]
        revenue[author] += expected_effective(model)  # the best estimate: effective prices for every row
        tokens[author] += model.total
    assert list(rows) == sorted(revenue, key=lambda a: -revenue[a])  # largest revenue first
    for author, row in rows.items():
        assert row[1] == str(sum(1 for m in SEED_MODELS if m.permaslug.startswith(author + "/")))
        assert row[2:] == [fmt.tokens(tokens[author]), fmt.ratio(tokens[author], sum(tokens.values())),
                           fmt.usd(revenue[author]), fmt.ratio(revenue[author], sum(revenue.values()))]
