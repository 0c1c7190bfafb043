"""Legacy-era pages: the `/rankings` page and model pages, decoded and crawled through the real engine."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.items import ActivityPlan, ChartWeek, LeaderboardRow, ModelActivity, SourceProblem
from orstats_crawler.sources import SourceError
from orstats_crawler.sources.legacy import decode_model_page, decode_rankings_page, model_page_path
from tests.conftest import ROOT, crawl, scrapy_here, shared_capture
from tests.factory import SEED_MODELS, SnapshotSpec, expected_revenues
from tests.legacy_factory import (LEGACY_SAMPLE_FOLDER, build_legacy_snapshot, encode_flight, flight_payload,
                                  model_page, rankings_page_rows)

PAGE_URL = "https://openrouter.ai/rankings"
LEGACY_SAMPLE = ROOT / LEGACY_SAMPLE_FOLDER


def test_real_rankings_page_gives_344_rows_with_their_split_and_the_52_week_chart():
    body = (shared_capture("openrouter-2025-11-07-rankings-page") / "rankings.html").read_bytes()
    items = list(decode_rankings_page(body, PAGE_URL))
    rows = [i for i in items if isinstance(i, LeaderboardRow)]
    weeks = [i for i in items if isinstance(i, ChartWeek)]
    assert not [i for i in items if isinstance(i, SourceProblem)]
    assert len(rows) == 344 and {r.era for r in rows} == {"legacy"}
    assert all(r.cached_tokens is not None and r.reasoning_tokens is not None for r in rows)
    assert len(weeks) == 52 and weeks[0].week_start == "2024-11-11" and weeks[-1].week_start == "2025-11-03"


def test_generated_rankings_page_with_and_without_the_split():
    spec = SnapshotSpec()
    for with_split in (True, False):
        html = encode_flight(flight_payload(rankings_page_rows(spec, with_split)), chunk_size=211)
        items = list(decode_rankings_page(html, PAGE_URL))
        rows = {r.permaslug: r for r in items if isinstance(r, LeaderboardRow)}
        assert len(rows) == len(spec.models) and len([i for i in items if isinstance(i, ChartWeek)]) == 52
        for model in spec.models:
            row = rows[model.permaslug]
            assert (row.prompt_tokens, row.completion_tokens) == (model.prompt, model.completion)
            # A page whose cached column is 0 everywhere is not giving the split: unknown, not 0.
            expected = (model.cached, model.reasoning) if with_split else (None, None)
            assert (row.cached_tokens, row.reasoning_tokens) == expected


def test_a_page_without_the_chart_still_gives_its_rows_and_says_the_chart_is_missing():
    rows = [(i, v) for i, v in rankings_page_rows(SnapshotSpec()) if i != "4e"]
    items = list(decode_rankings_page(encode_flight(flight_payload(rows)), PAGE_URL))
    [missing] = [i for i in items if isinstance(i, SourceProblem)]
    assert (missing.source, missing.url) == ("chart", PAGE_URL) and "weekly model chart" in missing.message
    assert len([i for i in items if isinstance(i, LeaderboardRow)]) == len(SEED_MODELS)
    no_board = [(i, v) for i, v in rankings_page_rows(SnapshotSpec()) if i != "4f"]
    with pytest.raises(SourceError) as error:
        list(decode_rankings_page(encode_flight(flight_payload(no_board)), PAGE_URL))
    assert (error.value.source, error.value.field) == ("leaderboard", "rankingData")


def test_model_page_gives_the_daily_split_of_its_own_model_only():
    model, other = SEED_MODELS[0], SEED_MODELS[1]
    captured = date(2026, 2, 9)
    url = "https://openrouter.ai/" + model.public_id
    activity = decode_model_page(model_page(model, captured, related=other), url, model.permaslug, "standard",
                                 datetime(2026, 2, 9, 12, tzinfo=timezone.utc))
    assert isinstance(activity, ModelActivity) and len(activity.days) == 90
    window = [d for d in activity.days if "2026-02-02" <= d["date"][:10] <= "2026-02-08"]
    assert sum(d["prompt_tokens"] for d in window) == model.prompt
    assert sum(d["cached_tokens"] for d in window) == model.cached
    assert sum(d["reasoning_tokens"] for d in window) == model.reasoning
    with pytest.raises(SourceError) as wrong:
        decode_model_page(model_page(other, captured), url, model.permaslug, "standard")
    assert (wrong.value.source, wrong.value.field, wrong.value.url) == ("activity", "model.permaslug", url)
    with pytest.raises(SourceError, match="no `model` \\+ `analytics` block"):
        decode_model_page(encode_flight(flight_payload(rankings_page_rows(SnapshotSpec()))), url,
                          model.permaslug, "standard")


def test_model_page_path_is_the_public_id_else_the_permaslug():
    assert model_page_path("anthropic/claude-4.5-sonnet-20250929", "standard",
                           "anthropic/claude-sonnet-4.5") == "/anthropic/claude-sonnet-4.5"
    assert model_page_path("x-ai/grok-4.1-fast", "free", None) == "/x-ai/grok-4.1-fast:free"


def measured_rows(history_path) -> dict[str, dict]:
    return {r["permaslug"]: r for r in Database(history_path).query("select * from weekly_revenue")}


@pytest_twisted.ensureDeferred
async def test_crawl_of_a_legacy_site_takes_the_split_from_the_page(tmp_path, history_path):
    folder = build_legacy_snapshot(tmp_path / "legacy", with_split=True, model_pages=False)
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(folder))
    assert len(result.of(ActivityPlan)) == 1 and not result.of(ModelActivity)
    rows = measured_rows(history_path)
    assert len(rows) == len(SEED_MODELS) and {r["split_source"] for r in rows.values()} == {"leaderboard"}
    for model in SEED_MODELS:
        expected_list, expected_seed = expected_revenues(model)
        assert rows[model.permaslug]["revenue_list_usd"] == pytest.approx(expected_list, rel=1e-9)
        assert rows[model.permaslug]["revenue_seed_usd"] == pytest.approx(expected_seed, rel=1e-9)
    db = Database(history_path)
    crawl_row = next(db.query("select era, status, week_start, week_end from crawls"))
    assert crawl_row == {"era": "legacy", "status": "published", "week_start": "2026-02-02", "week_end": "2026-02-08"}
    assert next(db.query("select count(distinct week_start) n from chart_weeks"))["n"] == 51
    # No split was asked for, so no plan bounded these rows' spend: the store bounds them the same way.
    bounds = {r["permaslug"]: r["upper_bound_usd"]
              for r in db.query("select permaslug, upper_bound_usd from model_weeks")}
    for model in SEED_MODELS:
        expected = model.prompt * float(model.pricing["prompt"]) + model.completion * float(model.pricing["completion"])
        assert bounds[model.permaslug] == pytest.approx(expected, rel=1e-12)


@pytest_twisted.ensureDeferred
async def test_crawl_of_a_legacy_site_without_the_split_reads_the_model_pages(tmp_path, history_path):
    folder = build_legacy_snapshot(tmp_path / "legacy", with_split=False)
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(folder), top="all")
    fetched = {a.source_url for a in result.of(ModelActivity)}
    assert fetched == {f"https://openrouter.ai/{m.public_id}" for m in SEED_MODELS}
    rows = measured_rows(history_path)
    for model in SEED_MODELS:
        row = rows[model.permaslug]
        assert row["split_source"] == "activity"
        assert (row["prompt_tokens"], row["completion_tokens"]) == (model.prompt, model.completion)
        assert (row["cached_tokens"], row["reasoning_tokens"]) == (model.cached, model.reasoning)
        assert row["revenue_list_usd"] == pytest.approx(expected_revenues(model)[0], rel=1e-9)


@pytest_twisted.ensureDeferred
async def test_a_page_served_for_the_json_leaderboard_falls_back_once(tmp_path, history_path):
    """An archive answering the JSON URL with HTML: a SourceError, then the `/rankings` page; the
    leaderboard barrier is released once (one plan, each row once)."""
    folder = build_legacy_snapshot(tmp_path / "legacy", with_split=True, model_pages=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    page = next(e for e in manifest["entries"] if e["url"].endswith("/rankings"))
    manifest["entries"].append({**page, "url": "https://openrouter.ai/api/frontend/v1/rankings/models?view=week"})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(folder))
    assert len(result.of(ActivityPlan)) == 1
    assert len(result.of(LeaderboardRow)) == len(SEED_MODELS)
    [html_problem] = [p for p in result.of(SourceProblem) if p.source == "leaderboard"]
    assert "HTML instead of JSON" in html_problem.message


@pytest_twisted.ensureDeferred
async def test_when_the_page_fails_too_the_crawl_still_ends_with_one_plan(demo_snapshot, history_path):
    manifest = json.loads((demo_snapshot / "manifest.json").read_text())
    manifest["entries"] = [e for e in manifest["entries"] if "rankings/models" not in e["url"]]
    (demo_snapshot / "manifest.json").write_text(json.dumps(manifest))
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot))
    assert len(result.of(ActivityPlan)) == 1 and not result.of(LeaderboardRow)
    failed = {(p.source, p.url.rsplit("/", 1)[-1], p.status) for p in result.of(SourceProblem)}
    assert ("leaderboard", "models?view=week", 404) in failed and ("leaderboard_page", "rankings", 404) in failed
    assert result.status == "rejected"


@pytest_twisted.ensureDeferred
async def test_scrapy_crawl_of_the_real_page_stores_its_week_with_the_leaderboard_split(tmp_path):
    capture = shared_capture("openrouter-2025-11-07-rankings-page")
    db_path = tmp_path / "history.db"
    run = await scrapy_here("crawl", "rankings", "-a", f"snapshot={capture}", "-s", f"ORSTATS_DB={db_path}",
                            "-s", f"ORSTATS_REPORT_DIR={tmp_path / 'reports'}")
    assert db_path.is_file(), run.stderr[-2000:]
    db = Database(db_path)
    crawl_row = next(db.query("select era, week_start, week_end, models_ranked from crawls"))
    assert crawl_row == {"era": "legacy", "week_start": "2025-11-01", "week_end": "2025-11-07", "models_ranked": 344}
    split = next(db.query("select count(*) n, sum(split_source = 'leaderboard') from_board, "
                          "sum(cached_tokens > 0) cached, sum(reasoning_tokens > 0) reasoning from model_weeks"))
    assert split["n"] == split["from_board"] == 344 and split["cached"] > 100 and split["reasoning"] > 50


@pytest_twisted.ensureDeferred
async def test_scrapy_crawl_of_the_legacy_sample_publishes_its_week_with_the_model_pages_split(tmp_path):
    """demo/snapshot-legacy-2025-11-08 (tests/legacy_factory.py), as the README replays it: the real
    page's week, a catalogue that capture lacks, the split from the model pages of the selection."""
    db_path = tmp_path / "history.db"
    run = await scrapy_here("crawl", "rankings", "-a", f"snapshot={LEGACY_SAMPLE}", "-s", f"ORSTATS_DB={db_path}",
                            "-s", f"ORSTATS_REPORT_DIR={tmp_path / 'reports'}")
    assert run.returncode == 0, run.stderr[-2000:]
    db = Database(db_path)
    crawl_row = next(db.query("select era, status, week_start, week_end, models_ranked from crawls"))
    assert crawl_row == {"era": "legacy", "status": "published", "week_start": "2025-11-01",
                         "week_end": "2025-11-07", "models_ranked": len(SEED_MODELS)}
    rows = measured_rows(db_path)
    measured = [m for m in SEED_MODELS if rows[m.permaslug]["split_source"] == "activity"]
    assert 0 < len(measured) < len(SEED_MODELS)  # the default selection: enough of the spend, not all
    for model in measured:
        assert rows[model.permaslug]["cached_tokens"] == model.cached
        assert rows[model.permaslug]["revenue_list_usd"] == pytest.approx(expected_revenues(model)[0], rel=1e-9)
    assert (tmp_path / "reports" / "README.md").is_file()
