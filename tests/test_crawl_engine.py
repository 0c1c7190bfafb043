"""Whole-engine crawls: snapshot replay, a loopback HTTP server, reruns, the user's own feeds."""

from __future__ import annotations

import json
from dataclasses import replace as dc_replace

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.items import LeaderboardRow, ModelActivity, ModelPrice
from tests.conftest import crawl, scrapy_here, shared_capture
from tests.factory import SEED_MODELS, SnapshotSpec, build_snapshot, expected_revenues, with_models


@pytest_twisted.ensureDeferred
async def test_demo_snapshot_crawl_stores_the_seed_week(demo_snapshot, history_path):
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot), top="all")
    # Both catalogues merged: text models, extras, one media model.
    assert len(result.of(ModelPrice)) == len(SEED_MODELS) + 3
    assert len(result.of(LeaderboardRow)) == len(SEED_MODELS)
    assert len(result.of(ModelActivity)) == len(SEED_MODELS)  # top=all: every model-variant, free ones too
    assert result.status == "published"
    rows = {r["permaslug"]: r for r in Database(history_path).query("select * from weekly_revenue")}
    assert len(rows) == len(SEED_MODELS)
    for model in SEED_MODELS:
        row = rows[model.permaslug]
        assert (row["week_start"], row["week_end"]) == ("2026-02-02", "2026-02-08")
        assert (row["prompt_tokens"], row["completion_tokens"]) == (model.prompt, model.completion)
        if model.variant == "free":
            assert row["revenue_list_usd"] == 0 and row["is_free"] == 1
            continue
        assert (row["cached_tokens"], row["reasoning_tokens"]) == (model.cached, model.reasoning)
        expected_list, expected_seed = expected_revenues(model)
        assert row["revenue_list_usd"] == pytest.approx(expected_list, rel=1e-9)
        assert row["revenue_seed_usd"] == pytest.approx(expected_seed, rel=1e-9)
    # The seed README's headline, recomputed from the history with its own formula: $6.25M.
    total_seed = sum(r["revenue_seed_usd"] for r in rows.values())
    assert round(total_seed / 1e6, 2) == 6.25


# --- the real 2026-08-08 capture, checked against an independent computation -------------------

def independent_week(capture, permaslug: str, variant: str, start="2026-08-01", end="2026-08-07"):
    """Sum a model-variant's captured daily rows and price them, reading the raw files directly."""
    manifest = json.loads((capture / "manifest.json").read_text())
    files = {e["url"]: e["file"] for e in manifest["entries"]}
    activity_url = next(u for u in files if "model-activity" in u and f"permaslug={permaslug.replace('/', '%2F')}&" in u
                        and u.endswith(f"variant={variant}"))
    rows = json.loads((capture / files[activity_url]).read_text())["data"]["analytics"]
    window = [r for r in rows if start <= r["date"][:10] <= end]
    sums = {k: sum(r[k] for r in window) for k in ("total_prompt_tokens", "total_completion_tokens",
                                                    "total_native_tokens_cached", "total_native_tokens_reasoning")}
    models = json.loads((capture / files["https://openrouter.ai/api/v1/models"]).read_text())["data"]
    suffix = "" if variant == "standard" else f":{variant}"
    entry = next(m for m in models if m["canonical_slug"] == permaslug and m["id"].endswith(suffix)
                 and (suffix or ":" not in m["id"]))
    p = float(entry["pricing"]["prompt"])
    c = float(entry["pricing"]["completion"])
    r = float(entry["pricing"].get("input_cache_read", p))
    prompt, completion, cached = (sums["total_prompt_tokens"], sums["total_completion_tokens"],
                                  sums["total_native_tokens_cached"])
    return sums, (prompt - cached) * p + cached * r + completion * c


def test_capture_2026_08_08_matches_an_independent_computation(capture_2026_08_08):
    capture, result = shared_capture("openrouter-2026-08-08"), capture_2026_08_08
    assert result.stats["orstats/coverage/spend"] >= 0.95
    db = Database(result.history)
    rows = list(db.query("select * from weekly_revenue where split_source = 'activity'"))
    assert len(rows) >= 40
    for row in rows:
        assert (row["week_start"], row["week_end"]) == ("2026-08-01", "2026-08-07")
        if row["price_status"] != "listed":
            continue
        sums, revenue = independent_week(capture, row["permaslug"], row["variant"])
        assert row["prompt_tokens"] == sums["total_prompt_tokens"]
        assert row["completion_tokens"] == sums["total_completion_tokens"]
        assert row["cached_tokens"] == sums["total_native_tokens_cached"]
        assert row["reasoning_tokens"] == sums["total_native_tokens_reasoning"]
        assert row["revenue_list_usd"] == pytest.approx(revenue, rel=1e-9)
    sonnet = next(r for r in rows
                  if r["permaslug"] == "anthropic/claude-4.6-sonnet-20260217" and r["variant"] == "standard")
    assert round(sonnet["prompt_tokens"] / 1e9, 2) == 812.45 and round(sonnet["completion_tokens"] / 1e9, 2) == 14.33
    assert round(sonnet["cached_tokens"] / 1e9, 2) == 612.72
    assert round(sonnet["revenue_list_usd"] / 1e6, 3) == 0.998
    # Unmeasured paid rows are unknown, never zero; the crawls row records the coverage reached.
    unmeasured = list(db.query("select * from weekly_revenue where split_source is null and is_free = 0"))
    assert unmeasured and all(r["revenue_list_usd"] is None for r in unmeasured)
    crawl_row = next(db.query("select * from crawls"))
    assert crawl_row["spend_coverage"] == pytest.approx(result.stats["orstats/coverage/spend"], abs=1e-4)
    assert crawl_row["coverage"] == pytest.approx(result.stats["orstats/coverage/upper_bound"], abs=1e-4)
    assert crawl_row["era"] == "current"
    # The raw archive holds every response, so the week can be recomputed later.
    archived = db.execute("select count(*) from responses").fetchone()[0]
    assert archived == result.stats["downloader/response_count"]


@pytest_twisted.ensureDeferred
async def test_capture_2026_08_22_without_activity_stores_unknown_not_zero(history_path):
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(shared_capture("openrouter-2026-08-22")))
    db = Database(history_path)
    rows = list(db.query("select * from weekly_revenue"))
    assert len(rows) == 543
    assert {(r["week_start"], r["week_end"]) for r in rows} == {("2026-08-15", "2026-08-21")}
    paid = [r for r in rows if not r["is_free"]]
    assert paid and all(r["revenue_list_usd"] is None and r["cached_tokens"] is None for r in paid)
    assert all(r["prompt_tokens"] > 0 or r["completion_tokens"] >= 0 for r in rows)
    assert result.status == "rejected"  # the week's split is missing
    failed = db.execute("select count(*) from activity_fetches where status = 'failed'").fetchone()[0]
    assert failed == result.stats["orstats/activity/selected"]


# --- reruns, the user's own feeds, record and replay ---------------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_loopback_http_server_gives_the_same_week_as_the_snapshot(demo_snapshot, tmp_path, replay_server):
    server = replay_server(demo_snapshot)
    via_http, via_snapshot = tmp_path / "http.db", tmp_path / "snapshot.db"
    await crawl({"ORSTATS_DB": str(via_http), "OPENROUTER_BASE_URL": server.base_url})
    await crawl({"ORSTATS_DB": str(via_snapshot)}, snapshot=str(demo_snapshot))
    columns = "week_end, permaslug, variant, prompt_tokens, completion_tokens, cached_tokens, revenue_list_usd"
    query = f"select {columns} from weekly_revenue order by permaslug, variant"
    rows = list(Database(via_http).query(query))
    assert rows == list(Database(via_snapshot).query(query)) and len(rows) == len(SEED_MODELS)
    assert any("model-activity" in path for path in server.requests)
    assert "/robots.txt" in server.requests  # robots.txt obeyed (the replay answers it 404: all allowed)


@pytest_twisted.ensureDeferred
async def test_rerun_of_a_week_leaves_one_week(demo_snapshot, history_path):
    first = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot), top="all")
    second = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot), top="all")
    db = Database(history_path)
    assert db.execute("select count(*) from weekly_revenue").fetchone()[0] == len(SEED_MODELS)
    assert db.execute("select count(distinct week_end) from weekly_revenue").fetchone()[0] == 1
    assert db.execute("select crawl_id from weeks").fetchone()[0] == second.crawl_id
    # Each crawl keeps its own rows underneath.
    assert db.execute("select count(*) from crawls").fetchone()[0] == 2
    assert db.execute("select count(*) from model_weeks").fetchone()[0] == 2 * len(SEED_MODELS)
    assert first.crawl_id != second.crawl_id


@pytest_twisted.ensureDeferred
async def test_user_feed_on_the_command_line_keeps_the_history(demo_snapshot, tmp_path):
    db, items = tmp_path / "h.db", tmp_path / "items.jsonl"
    done = await scrapy_here("crawl", "rankings", "-a", f"snapshot={demo_snapshot}", "-a", "top=all",
                             "-O", str(items), "-s", f"ORSTATS_DB={db}", "-s", f"ORSTATS_REPORT_DIR={tmp_path / 'r'}")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in items.read_text().splitlines()]
    assert sum("days" in line for line in lines) == len(SEED_MODELS)
    assert Database(db).execute("select count(*) from weekly_revenue").fetchone()[0] == len(SEED_MODELS)


@pytest_twisted.ensureDeferred
async def test_recorded_crawl_replays_identically(demo_snapshot, tmp_path, replay_server):
    server = replay_server(demo_snapshot)
    recorded = tmp_path / "recorded"
    await crawl({"ORSTATS_DB": str(tmp_path / "live.db"), "OPENROUTER_BASE_URL": server.base_url},
                record=str(recorded), top="all")
    assert (recorded / "manifest.json").is_file()
    await crawl({"ORSTATS_DB": str(tmp_path / "replay.db"), "OPENROUTER_BASE_URL": "http://elsewhere.invalid"},
                snapshot=str(recorded), top="all")
    query = "select * from weekly_revenue order by permaslug"
    live = [{k: v for k, v in r.items() if k != "crawl_id"} for r in Database(tmp_path / "live.db").query(query)]
    replay = [{k: v for k, v in r.items() if k != "crawl_id"} for r in Database(tmp_path / "replay.db").query(query)]
    assert live == replay and len(live) == len(SEED_MODELS)


# --- bad input: the crawl goes on, the affected model-variant is unknown, the log names it --------

@pytest_twisted.ensureDeferred
async def test_bad_inputs_make_one_model_unknown_and_lose_nothing_else(tmp_path, history_path, caplog):
    models = with_models(
        (0, {"activity": "missing"}),  # Sonnet 4.5: 404
        (1, {"activity": "empty"}),  # Opus 4.5: empty analytics list
        (2, {"pricing": {"prompt": "-1", "completion": "-1"}}),  # Kimi: "-1" is not a price
    )
    models.append(dc_replace(SEED_MODELS[3], variant="thinking", public_id="google/gemini-3-flash-preview:thinking"))
    models[-1] = dc_replace(models[-1], in_catalogue=False)  # a variant the catalogue does not know

    def mutate(url, payload):
        if "gemini-2.5-flash&" in url:  # truncated body
            return json.dumps(payload).encode()[:200]
        if "deepseek" in url and "model-activity" in url:  # a renamed field
            for row in payload["data"]["analytics"]:
                row["cached_tokens"] = row.pop("total_native_tokens_cached")
        return payload

    snapshot = build_snapshot(tmp_path / "bad", SnapshotSpec(models=models), mutate=mutate)
    result = await crawl({"ORSTATS_DB": str(history_path), "ORSTATS_MIN_SPEND_COVERAGE": 0},
                         snapshot=str(snapshot), top="all")
    db = Database(history_path)
    rows = {(r["permaslug"], r["variant"]): r for r in db.query("select * from weekly_revenue")}
    assert len(rows) == len(models)
    unknown = {
        (SEED_MODELS[0].permaslug, "standard"), (SEED_MODELS[1].permaslug, "standard"),
        (SEED_MODELS[2].permaslug, "standard"), (SEED_MODELS[4].permaslug, "standard"),
        (SEED_MODELS[5].permaslug, "standard"), (SEED_MODELS[3].permaslug, "thinking"),
    }
    for key, row in rows.items():
        if key in unknown:
            assert row["revenue_list_usd"] is None and row["revenue_seed_usd"] is None, key
        else:
            assert row["revenue_list_usd"] is not None, key
    problems = list(db.query("select source, url, field, message, status from problems"))
    assert any(p["status"] == 404 and "claude-4.5-sonnet" in p["url"] for p in problems)
    assert any(p["field"] == "total_native_tokens_cached" and "deepseek" in p["url"] for p in problems)
    assert any("truncated" in p["message"] and "gemini-2.5-flash" in p["url"] for p in problems)
    fetches = {r["permaslug"]: r["status"] for r in db.query("select * from activity_fetches")}
    assert fetches[SEED_MODELS[1].permaslug] == "empty" and fetches[SEED_MODELS[0].permaslug] == "failed"
    assert result.stats["orstats/price/invalid"] == 4 and result.stats["orstats/price/rows/missing"] == 1
    assert result.stats["orstats/normalize/activity/empty"] == 1
    assert "claude-4.5-opus-20251124" in caplog.text and "data.analytics" in caplog.text
