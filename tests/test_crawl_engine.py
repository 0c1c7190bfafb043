"""Whole-engine crawls: snapshot replay, a loopback HTTP server, reruns, the user's own feeds."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.items import ActivityPlan, LeaderboardRow, ModelActivity, ModelPrice
from tests.conftest import crawl, run_scrapy
from tests.factory import SEED_MODELS, SnapshotSpec, build_snapshot, with_models


def seed_expected(model) -> tuple[float, float]:
    """(list, seed) revenue of a seed model computed here, independently of the SQL view."""
    p, c, r = (float(model.pricing.get(k, model.pricing["prompt"])) for k in ("prompt", "completion", "input_cache_read"))
    if model.variant == "free":
        return 0.0, 0.0
    return ((model.prompt - model.cached) * p + model.cached * r + model.completion * c,
            model.prompt * p + model.completion * c + model.cached * r)


@pytest_twisted.ensureDeferred
async def test_demo_snapshot_crawl_stores_the_seed_week(demo_snapshot, history_path):
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot), top="all")
    assert len(result.of(ModelPrice)) == len(SEED_MODELS) + 2
    assert len(result.of(LeaderboardRow)) == len(SEED_MODELS)
    assert len(result.of(ModelActivity)) == len(SEED_MODELS)  # top=all: every model-variant, free ones too
    assert result.stats["orstats/crawl/status"] == "published"
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
        expected_list, expected_seed = seed_expected(model)
        assert row["revenue_list_usd"] == pytest.approx(expected_list, rel=1e-9)
        assert row["revenue_seed_usd"] == pytest.approx(expected_seed, rel=1e-9)
    # The seed README's headline, recomputed from the history with its own formula: $6.25M.
    total_seed = sum(r["revenue_seed_usd"] for r in rows.values())
    assert round(total_seed / 1e6, 2) == 6.25
