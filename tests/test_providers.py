"""Who served the traffic: provider summaries decoded, stored by the crawl and backfilled from the raw
archive; revenue by provider; the effective input price weighted to the week; OpenRouter's own take.
Whole crawls of made snapshots, and of the real 2026-08-08 capture where ../shared has it, checked
against figures computed here from the raw bodies."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.history.formulas import EFFECTIVE_DOUBT
from orstats_crawler.sources.effective import decode_effective
from tests import capture_oracle
from tests.conftest import crawl, shared_capture
from tests.factory import (SEED_MODELS, SnapshotSpec, build_snapshot, effective_pricing, effective_prices,
                           effective_url)
from tests.test_crawl_revenue import assert_provider_totals_kept, assert_the_providers_chart_is_unchanged
from tests.test_report import section, summary, table

TERRA = "openai/gpt-5.6-terra-20260709"
FEE = 0.055  # ORSTATS_PLATFORM_FEE


def body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


# --- the decoder ---------------------------------------------------------------------------------------

def test_real_provider_summaries_decode_as_the_source_lists_them():
    capture = shared_capture("openrouter-2026-08-08")
    raw = json.loads((capture / "api/frontend/v1/stats/effective-pricing/"
                                "openai__gpt-5.6-terra-20260709__standard.json").read_bytes())
    url = effective_url(replace(SEED_MODELS[0], permaslug=TERRA))
    price = decode_effective(json.dumps(raw), url, TERRA, "standard")
    assert price.problems == []
    ours = ("endpoint_id", "provider_slug", "provider_name", "effective_input_price", "effective_output_price",
            "cache_hit_rate", "total_tokens")
    theirs = ("endpointId", "providerSlug", "providerName", "effectiveInputPrice", "effectiveOutputPrice",
              "cacheHitRate", "totalTokens")
    assert [[p[k] for k in ours] for p in price.provider_summaries] == [
        [p[k] for k in theirs] for p in raw["data"]["providerSummaries"]]
    assert {p["provider_slug"] for p in price.provider_summaries} == {"openai", "azure", "amazon-bedrock"}


def test_a_bad_provider_value_is_unknown_and_a_summary_without_a_name_is_left_out_with_a_problem():
    model = SEED_MODELS[0]
    payload = effective_pricing(model)
    good = payload["data"]["providerSummaries"][0]
    payload["data"]["providerSummaries"] = [
        {**good, "effectiveInputPrice": -1, "totalTokens": "1e30"},
        {**good, "endpointId": None},
        "not an object",
    ]
    price = decode_effective(body(payload), effective_url(model), model.permaslug, model.variant)
    [kept] = price.provider_summaries
    assert kept["effective_input_price"] is None and kept["total_tokens"] is None
    assert kept["effective_output_price"] == good["effectiveOutputPrice"]
    fields = [p["field"] for p in price.problems]
    assert fields == ["data.providerSummaries[0].effectiveInputPrice", "data.providerSummaries[0].totalTokens",
                      "data.providerSummaries[1]", "data.providerSummaries[2]"]
    assert all(p["url"] == effective_url(model) and p["permaslug"] == model.permaslug for p in price.problems)
    assert price.weighted_input_price == good["effectiveInputPrice"]  # the model-variant's price is kept


# --- the crawl: stored, shared among providers, backfilled ------------------------------------------------

# Sonnet served by two providers, one 10 % below its weighted prices and one 20 % above (the weighted
# price lies between its providers', as the gate requires); every other model-variant by its author only.
SONNET = SEED_MODELS[0]
_IN, _OUT, _ = effective_prices(SONNET)
PROVIDERS = [("anthropic", "Anthropic", _IN * 0.9, _OUT * 0.9, 0.70, 700),
             ("amazon-bedrock", "Amazon Bedrock (EU)", _IN * 1.2, _OUT * 1.2, 0.60, 300)]


def two_providers(url: str, payload):
    if url != effective_url(SONNET):
        return payload
    payload["data"]["providerSummaries"] = [
        {"endpointId": f"e-{slug}", "providerName": name, "providerSlug": slug, "effectiveInputPrice": price_in,
         "effectiveOutputPrice": price_out, "cacheHitRate": hit, "totalTokens": tokens}
        for slug, name, price_in, price_out, hit, tokens in PROVIDERS]
    return payload


async def crawl_two_providers(tmp_path: Path, **settings: str) -> Path:
    snapshot = build_snapshot(tmp_path / "snapshot", mutate=two_providers)
    history = tmp_path / "data" / "history.db"
    result = await crawl({"ORSTATS_DB": str(history), **settings}, snapshot=str(snapshot), top="all")
    assert result.status == "published"
    return history


@pytest_twisted.ensureDeferred
async def test_each_model_variants_best_estimate_is_shared_among_its_providers_by_their_spend(tmp_path):
    history = await crawl_two_providers(tmp_path)
    db = Database(history)
    stored = list(db.query("select * from provider_summaries where permaslug = ? order by endpoint_id",
                           [SONNET.permaslug]))
    assert [(r["provider_slug"], r["total_tokens"]) for r in stored] == [("amazon-bedrock", 300), ("anthropic", 700)]
    [week] = db.query("select * from weekly_revenue where permaslug = ?", [SONNET.permaslug])
    # Each provider's weight: its sample tokens x (the week's prompt x its input price + completion x its output).
    weight = {slug: tokens * (SONNET.prompt * price_in + SONNET.completion * price_out)
              for slug, _, price_in, price_out, _, tokens in PROVIDERS}
    shares = {slug: w / sum(weight.values()) for slug, w in weight.items()}
    rows = {r["provider_slug"]: r for r in db.query(
        "select * from provider_model_weekly where permaslug = ?", [SONNET.permaslug])}
    assert set(rows) == set(shares)
    for slug, share in shares.items():
        assert rows[slug]["revenue_share"] == pytest.approx(share, rel=1e-12)
        assert rows[slug]["revenue_best_usd"] == pytest.approx(week["revenue_best_usd"] * share, rel=1e-12)
        assert rows[slug]["revenue_best_low_usd"] == pytest.approx(week["revenue_best_low_usd"] * share, rel=1e-12)
    assert rows["anthropic"]["tokens"] == pytest.approx(week["total_tokens"] * 0.7, rel=1e-12)
    assert rows["amazon-bedrock"]["provider_name"] == "Amazon Bedrock (EU)"  # its only name

    # Per provider and week: the sums, and together the week's best estimate of the rows with summaries.
    [totals] = db.query("select * from weekly_totals")
    providers = list(db.query("select * from provider_weekly"))
    assert sum(p["revenue_best_usd"] for p in providers) == pytest.approx(totals["revenue_best_usd"], rel=1e-9)
    assert sum(p["revenue_share"] for p in providers) == pytest.approx(1, rel=1e-9)
    anthropic = next(p for p in providers if p["provider_slug"] == "anthropic")
    authored = [m for m in SEED_MODELS if m.public_id.startswith("anthropic/") and m is not SONNET
                and effective_prices(m)[0]]
    assert anthropic["models"] == len(authored) + 1
    assert anthropic["revenue_best_usd"] == pytest.approx(
        rows["anthropic"]["revenue_best_usd"] + sum(r["revenue_best_usd"] for r in db.query(
            "select revenue_best_usd from weekly_revenue where permaslug in ({})".format(
                ", ".join("?" * len(authored))), [m.permaslug for m in authored])), rel=1e-9)
    # OpenRouter's take: the best estimate x the fee the crawl stored.
    assert totals["platform_fee"] == FEE
    assert totals["openrouter_take_usd"] == pytest.approx(totals["revenue_best_usd"] * FEE, rel=1e-12)
    assert totals["openrouter_take_low_usd"] == pytest.approx(totals["revenue_best_low_usd"] * FEE, rel=1e-12)



@pytest_twisted.ensureDeferred
async def test_a_history_stored_before_provider_summaries_gets_them_from_its_raw_answers(tmp_path):
    history = await crawl_two_providers(tmp_path)
    columns = "crawl_id, permaslug, variant, endpoint_id, provider_slug, provider_name, effective_input_price, " \
              "effective_output_price, cache_hit_rate, total_tokens"
    db = Database(history)
    live = list(db.query(f"select {columns} from provider_summaries order by 1, 2, 3, 4"))
    assert len(live) == len({(r["permaslug"], r["variant"]) for r in live}) + 1 > 2  # Sonnet's second provider
    # As the history was before migration m701: no table, the migration not applied.
    db.execute("drop table provider_summaries")
    db.execute("delete from _sqlite_migrations where name = 'm701_provider_summaries'")
    db.conn.commit()
    db.close()
    migrated = open_for_writing(history)
    assert list(migrated.query(f"select {columns} from provider_summaries order by 1, 2, 3, 4")) == live
    assert migrated.execute("select count(*) from provider_weekly").fetchone()[0] > 0


@pytest_twisted.ensureDeferred
async def test_the_effective_input_price_is_weighted_to_the_weeks_cached_share(tmp_path):
    # The sample read 40 % of Sonnet's prompt tokens from cache; the week's split says 64.7 %.
    sample_hit = 0.40
    sonnet = replace(SONNET, effective=(2.0, 15.0, sample_hit))
    models = [sonnet, *SEED_MODELS[1:]]
    snapshot = build_snapshot(tmp_path / "snapshot", SnapshotSpec(models=models))
    history = tmp_path / "history.db"
    result = await crawl({"ORSTATS_DB": str(history)}, snapshot=str(snapshot), top="all")
    assert result.status == "published"
    [row] = Database(history).query("select * from weekly_revenue where permaslug = ?", [sonnet.permaslug])
    p, r = float(sonnet.pricing["prompt"]), float(sonnet.pricing["input_cache_read"])
    week_share = sonnet.cached / sonnet.prompt
    adjusted = 2.0 * (p - week_share * (p - r)) / (p - sample_hit * (p - r))
    assert adjusted < 2.0  # more cache in the week than in the sample: cheaper
    assert row["effective_input_price"] == 2.0 and row["effective_input_price_week"] == pytest.approx(adjusted)
    sample = (sonnet.prompt * 2.0 + sonnet.completion * 15.0) / 1e6
    week = (sonnet.prompt * adjusted + sonnet.completion * 15.0) / 1e6
    assert row["revenue_effective_usd"] == pytest.approx(sample, rel=1e-12)
    assert row["revenue_effective_week_usd"] == pytest.approx(week, rel=1e-12)
    assert row["revenue_best_usd"] == pytest.approx(week, rel=1e-12) and row["best_basis"] == "effective"
    # The band is the effective figure's doubt around it (formulas.EFFECTIVE_DOUBT).
    assert row["revenue_best_low_usd"] == pytest.approx(week * (1 - EFFECTIVE_DOUBT), rel=1e-12)
    assert row["revenue_best_high_usd"] == pytest.approx(week * (1 + EFFECTIVE_DOUBT), rel=1e-12)


@pytest_twisted.ensureDeferred
async def test_the_report_has_revenue_by_provider_and_openrouters_take_at_the_fee_setting(tmp_path):
    history = await crawl_two_providers(tmp_path, ORSTATS_PLATFORM_FEE="0.05")
    text = (history.parent / "reports" / "README.md").read_text(encoding="utf-8")
    db = Database(history)
    [totals] = db.query("select * from weekly_totals")
    assert totals["platform_fee"] == 0.05
    take = summary(text)["OpenRouter's own take"]
    assert take.startswith(f"about ${totals['revenue_best_usd'] * 0.05 / 1e3:.1f}K") and "5.0% fee" in take
    assert "BYOK traffic and discounts unknown" in take
    providers = list(db.query("select * from provider_weekly order by revenue_best_usd desc"))
    shown = section(text, "Revenue by Provider")
    rows = table(shown)
    assert [row[0] for row in rows] == [p["provider_name"] for p in providers][:10]
    assert rows[0][5] == str(providers[0]["models"]) and rows[0][6] == "–"  # no week before
    assert "```mermaid" in shown and "xychart-beta horizontal" in shown



# --- the real 2026-08-08 capture ----------------------------------------------------------------------

def test_capture_2026_08_08_revenue_by_provider_adds_up_to_the_weeks_best_estimate(capture_2026_08_08):
    capture = shared_capture("openrouter-2026-08-08")
    db = Database(capture_2026_08_08.history)
    providers = list(db.query("select * from provider_weekly"))
    slugs = {r[0] for r in db.execute("select distinct provider_slug from provider_summaries")}
    assert len(providers) == len(slugs) > 50 and {p["provider_slug"] for p in providers} == slugs
    [with_summaries] = db.execute("""
        select sum(r.revenue_best_usd) from weekly_revenue r where exists (select 1 from provider_summaries s
        where s.crawl_id = r.crawl_id and s.permaslug = r.permaslug and s.variant = r.variant)""").fetchone()
    assert sum(p["revenue_best_usd"] or 0 for p in providers) == pytest.approx(with_summaries, rel=0.005)
    [totals] = db.query("select * from weekly_totals")
    assert with_summaries == pytest.approx(totals["revenue_best_usd"], rel=0.005)  # nearly every dollar has them
    assert totals["openrouter_take_usd"] == pytest.approx(totals["revenue_best_usd"] * FEE, rel=1e-12)

    # GPT-5.6 Terra's providers, from its raw effective-pricing body and its raw daily split.
    rows = {r.key: r for r in capture_oracle.leaderboard_rows(capture_oracle.Capture(capture))}
    split = rows[(TERRA, "standard")].split
    raw = json.loads((capture / "api/frontend/v1/stats/effective-pricing/"
                                "openai__gpt-5.6-terra-20260709__standard.json").read_bytes())["data"]
    weight: dict[str, float] = {}
    for p in raw["providerSummaries"]:
        weight[p["providerSlug"]] = weight.get(p["providerSlug"], 0.0) + p["totalTokens"] * (
            split.prompt * p["effectiveInputPrice"] + split.completion * p["effectiveOutputPrice"])
    shares = {r["provider_slug"]: r["revenue_share"] for r in db.query(
        "select * from provider_model_weekly where permaslug = ? and variant = 'standard'", [TERRA])}
    assert shares == pytest.approx({slug: w / sum(weight.values()) for slug, w in weight.items()}, rel=1e-9)


def test_capture_2026_08_08_providers_chart_draws_what_its_endpoint_rows_sum_to(capture_2026_08_08):
    db = Database(capture_2026_08_08.history)
    # Endpoints with no revenue (unknown or zero) are real here: the totals and the chart leave them out.
    assert db.execute("select count(*) from crawl_provider_revenue where not revenue_best_usd > 0").fetchone()[0]
    assert_provider_totals_kept(db)
    # More than 8 providers: the chart names 8 and sums the others.
    assert db.execute("select count(*) from provider_totals_weekly").fetchone()[0] > 9
    assert_the_providers_chart_is_unchanged(db)
