"""Effective prices: the decoder on real and made bodies, and revenue_effective_usd through whole crawls."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted
from scrapy.http import Request
from sqlite_utils import Database

from orstats_crawler.items import ActivityPlan, EffectivePrice, LeaderboardRow
from orstats_crawler.report import format as fmt
from orstats_crawler.report.data import method
from orstats_crawler.snapshots.reader import Snapshot
from orstats_crawler.sources import SourceError
from orstats_crawler.sources.effective import NO_DATA, PRICED, ZERO, decode_effective
from tests.conftest import crawl, shared_capture
from tests.factory import (SEED_MODELS, SnapshotSpec, build_snapshot, effective_pricing, effective_prices,
                           effective_url, expected_effective, expected_revenues)
from tests.test_report import after, crawl_demo, display, section, summary, table
from tests.test_spider import _released, make_spider

SONNET_46 = "anthropic/claude-4.6-sonnet-20260217"
URL = "https://openrouter.ai/api/frontend/v1/stats/effective-pricing?permaslug=a%2Fb&variant=standard&shape=v7&range=1w"


def capture_body(capture: Path, permaslug: str, variant: str) -> tuple[str, bytes]:
    snapshot = Snapshot(capture)
    url = effective_url(replace(SEED_MODELS[0], permaslug=permaslug, variant=variant))
    entry = snapshot.lookup(url)
    assert entry is not None, url
    return entry.url, snapshot.body(entry)


# --- the decoder -----------------------------------------------------------------------------------

def test_real_bodies_priced_batch_and_empty():
    capture = shared_capture("openrouter-2026-08-08")
    url, body = capture_body(capture, SONNET_46, "standard")
    raw = json.loads(body)["data"]
    sonnet = decode_effective(body, url, SONNET_46, "standard")
    assert sonnet.status == PRICED
    assert (sonnet.weighted_input_price, sonnet.weighted_output_price, sonnet.cache_hit_rate) == (
        raw["weightedInputPrice"], raw["weightedOutputPrice"], raw["weightedCacheHitRate"])
    assert sonnet.providers == len(raw["providerSummaries"]) > 1
    assert sonnet.provider_tokens == sum(p["totalTokens"] for p in raw["providerSummaries"])
    # :batch answers 0 with a provider: not a price.
    url, body = capture_body(capture, SONNET_46, "batch")
    batch = decode_effective(body, url, SONNET_46, "batch")
    assert batch.status == ZERO and batch.providers >= 1
    assert batch.weighted_input_price is None and batch.weighted_output_price is None and batch.cache_hit_rate is None


def test_every_real_body_decodes_and_zero_is_never_a_price():
    capture = shared_capture("openrouter-2026-08-08")
    snapshot = Snapshot(capture)
    entries = [e for e in snapshot.entries.values() if "/stats/effective-pricing" in e.url]
    assert len(entries) == 902
    statuses = set()
    for entry in entries:
        raw = json.loads(snapshot.body(entry))["data"]
        query = parse_qs(urlsplit(entry.url).query)
        item = decode_effective(snapshot.body(entry), entry.url, query["permaslug"][0], query["variant"][0])
        statuses.add(item.status)
        has_price = bool(raw["weightedInputPrice"] or raw["weightedOutputPrice"])
        assert (item.status == PRICED) == has_price, entry.url
        if item.status == NO_DATA:
            assert not raw["providerSummaries"] and item.weighted_input_price is None
        if item.status == PRICED:  # one side at 0 is a real price (embeddings, image models)
            assert item.weighted_input_price == raw["weightedInputPrice"]
            assert item.weighted_output_price == raw["weightedOutputPrice"]
    assert statuses == {PRICED, ZERO, NO_DATA}


def test_made_body_roundtrips_and_free_or_batch_is_zero():
    model = SEED_MODELS[0]
    item = decode_effective(json.dumps(effective_pricing(model)), effective_url(model), model.permaslug, "standard")
    assert isinstance(item, EffectivePrice) and item.status == PRICED
    assert (item.weighted_input_price, item.weighted_output_price, item.cache_hit_rate) == effective_prices(model)
    free = SEED_MODELS[-1]
    assert free.variant == "free"
    assert decode_effective(json.dumps(effective_pricing(free)), effective_url(free), free.permaslug,
                            "free").status == ZERO


def test_an_answer_whose_url_asks_for_another_model_variant_is_an_identity_error():
    """The body names no model: a redirect to another model-variant's URL is what can be seen."""
    model = SEED_MODELS[0]
    with pytest.raises(SourceError) as caught:
        decode_effective(json.dumps(effective_pricing(model)), effective_url(SEED_MODELS[1]), model.permaslug,
                         "standard")
    assert (caught.value.field, caught.value.kind) == ("url", "identity")
    assert caught.value.message == (f"asked for {model.permaslug}:standard, the answer is for "
                                    f"{SEED_MODELS[1].permaslug}:standard")


@pytest.mark.parametrize("change, field, words", [
    ({"weightedInputPrice": None}, "data.weightedInputPrice", "not a non-negative number"),
    ({"weightedOutputPrice": "1.5"}, "data.weightedOutputPrice", "not a non-negative number"),
    ({"weightedCacheHitRate": -0.1}, "data.weightedCacheHitRate", "not a non-negative number"),
    ({"providerSummaries": {}}, "data.providerSummaries", "expected a list"),
])
def test_bad_values_name_the_source_url_and_field(change, field, words):
    payload = effective_pricing(SEED_MODELS[0])
    payload["data"].update(change)
    with pytest.raises(SourceError) as caught:
        decode_effective(json.dumps(payload), URL, "a/b", "standard")
    assert (caught.value.source, caught.value.url, caught.value.field) == ("effective", URL, field)
    assert words in caught.value.message


def test_missing_field_and_html_are_source_errors():
    payload = effective_pricing(SEED_MODELS[0])
    del payload["data"]["weightedOutputPrice"]
    with pytest.raises(SourceError, match="weightedOutputPrice"):
        decode_effective(json.dumps(payload), URL, "a/b", "standard")
    with pytest.raises(SourceError, match="HTML instead of JSON"):
        decode_effective(b"<html>blocked</html>", URL, "a/b", "standard")


# --- whole crawls ------------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_demo_crawl_fills_revenue_effective(demo_snapshot, history_path):
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot), top="all")
    assert len(result.of(EffectivePrice)) == sum(m.variant != "free" for m in SEED_MODELS)  # a free one needs none
    db = Database(history_path)
    rows = {r["permaslug"]: r for r in db.query("select * from weekly_revenue")}
    for model in SEED_MODELS:
        row = rows[model.permaslug]
        assert row["revenue_effective_usd"] == pytest.approx(expected_effective(model), rel=1e-9), model.permaslug
        if model.variant != "free":
            # The factory's traffic pays 10 % over the cache-discounted list price on input.
            assert row["revenue_effective_usd"] > row["revenue_list_usd"]
    stored = {r["status"] for r in db.query("select status from effective_prices")}
    assert stored == {PRICED}  # the free model is not asked: its revenue is 0 by the free rule


@pytest_twisted.ensureDeferred
async def test_effective_is_known_where_the_split_is_not(tmp_path, history_path):
    models = list(SEED_MODELS)
    models[0] = replace(models[0], activity="missing")  # no split: list revenue unknown
    models[1] = replace(models[1], effective=(0.0, 0.0, 0.0))  # no effective price: NULL, not 0
    snapshot = build_snapshot(tmp_path / "s", SnapshotSpec(models=models))
    await crawl({"ORSTATS_DB": str(history_path), "ORSTATS_MIN_SPEND_COVERAGE": 0, "ORSTATS_REVENUE_METHOD": "list"},
                snapshot=str(snapshot), top="all")
    rows = {r["permaslug"]: r for r in Database(history_path).query("select * from weekly_revenue")}
    # The best estimate needs no split where the effective price is known.
    assert rows[models[0].permaslug]["best_basis"] == "effective"
    assert rows[models[0].permaslug]["revenue_best_usd"] == rows[models[0].permaslug]["revenue_effective_usd"]
    unsplit = rows[models[0].permaslug]
    assert unsplit["split_source"] is None and unsplit["revenue_list_usd"] is None
    # The leaderboard's prompt/completion times the effective prices: known without the split.
    assert unsplit["revenue_effective_usd"] == pytest.approx(expected_effective(models[0]), rel=1e-9)
    assert rows[models[1].permaslug]["revenue_effective_usd"] is None
    assert rows[models[1].permaslug]["revenue_list_usd"] is not None
    # The report lists it among the unknown ones, with what it paid at effective prices.
    text = (history_path.parent / "reports" / "README.md").read_text(encoding="utf-8")
    [listed] = table(after(section(text, "Model Breakdown"), "<details><summary>1 without an estimate"))
    assert listed[1].startswith("[Claude Sonnet 4.5]")
    assert listed[3:] == ["token split not measured", "$3.00 / $15.00",
                          fmt.usd(unsplit["revenue_high_usd"]), fmt.usd(expected_effective(models[0]))]


@pytest_twisted.ensureDeferred
async def test_setting_switches_effective_prices_off(demo_snapshot, history_path):
    result = await crawl({"ORSTATS_DB": str(history_path), "ORSTATS_EFFECTIVE_PRICES": False},
                         snapshot=str(demo_snapshot), top="all")
    assert result.of(EffectivePrice) == []
    db = Database(history_path)
    assert db["effective_prices"].count == 0
    assert all(r["revenue_effective_usd"] is None or r["is_free"] for r in db.query("select * from weekly_revenue"))
    assert db["model_weeks"].count == len(SEED_MODELS)


@pytest_twisted.ensureDeferred
async def test_capture_2026_08_08_fills_revenue_effective_for_every_measured_priced_variant(history_path):
    capture = shared_capture("openrouter-2026-08-08")
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(capture), top="all")
    db = Database(history_path)
    rows = list(db.query("""
        select r.*, e.status as effective_status, e.rejected_because from weekly_revenue r
        left join effective_prices e using (crawl_id, permaslug, variant)"""))
    measured = [r for r in rows if r["split_source"] == "activity"]
    priced = [r for r in measured if r["effective_status"] == PRICED]
    assert len(priced) > 300
    # Every one the gate believed: a clean real week has no effective price to refuse.
    assert [(r["permaslug"], r["rejected_because"]) for r in priced if r["rejected_because"] is not None] == []
    assert all(r["revenue_effective_usd"] is not None for r in priced if r["rejected_because"] is None)
    # :batch reports 0: unknown, never $0 (unless the variant is free).
    batch = [r for r in measured if r["variant"] == "batch"]
    assert batch and all(r["revenue_effective_usd"] is None for r in batch)
    # Sonnet 4.6, 2026-08-01..07, recomputed here from the capture's own files.
    sonnet = next(r for r in measured if r["permaslug"] == SONNET_46 and r["variant"] == "standard")
    url, body = capture_body(capture, SONNET_46, "standard")
    prices = json.loads(body)["data"]
    activity_url = url.replace("effective-pricing", "model-activity").split("&shape=")[0]
    snapshot = Snapshot(capture)
    days = json.loads(snapshot.body(snapshot.lookup(activity_url)))["data"]["analytics"]
    week = [d for d in days if date(2026, 8, 1) <= date.fromisoformat(d["date"][:10]) <= date(2026, 8, 7)]
    expected = (sum(d["total_prompt_tokens"] for d in week) * prices["weightedInputPrice"]
                + sum(d["total_completion_tokens"] for d in week) * prices["weightedOutputPrice"]) / 1e6
    assert sonnet["revenue_effective_usd"] == pytest.approx(expected, rel=1e-9)
    assert sonnet["revenue_effective_usd"] == pytest.approx(1.17e6, rel=0.01)  # the anchor
    assert sonnet["revenue_list_usd"] == pytest.approx(1.00e6, rel=0.01)


# --- the spider: one effective-pricing request per ranked paid model-variant -------------------------

@pytest_twisted.ensureDeferred
async def test_spider_asks_effective_prices_for_every_ranked_paid_model_variant(tmp_path):
    released = await _released(make_spider(tmp_path))
    plan = next(i for i in released if isinstance(i, ActivityPlan))
    requests = [i for i in released if isinstance(i, Request)]
    ranked = [(r.permaslug, r.variant) for r in released if isinstance(r, LeaderboardRow)]
    asked = [(r.cb_kwargs["permaslug"], r.cb_kwargs["variant"]) for r in requests if r.meta["source"] == "effective"]
    assert asked == [key for key in ranked if key[1] != "free"]  # no split needed, so no selection
    selected = [(c["permaslug"], c["variant"]) for c in plan.candidates if c["selected"]]
    assert 0 < len(selected) < len(asked)  # while the splits are chosen by spend, in waves
    splits = [r for r in requests if r.meta["source"] == "activity"]
    assert min(r.priority for r in splits) > max(r.priority for r in requests if r.meta["source"] == "effective")
    effective = next(r for r in requests if r.meta["source"] == "effective")
    assert urlsplit(effective.url).path == "/api/frontend/v1/stats/effective-pricing"
    assert {k: v[0] for k, v in parse_qs(urlsplit(effective.url).query).items()} == {
        "permaslug": asked[0][0], "variant": asked[0][1], "shape": "v7", "range": "1w"}
    assert effective.errback.__name__ == "source_failed"
    # Switched off: split requests only.
    spider = make_spider(tmp_path)
    spider.settings.frozen = False
    spider.settings.set("ORSTATS_EFFECTIVE_PRICES", False)
    released = await _released(spider)
    assert not any(isinstance(i, Request) and i.meta["source"] == "effective" for i in released)


# --- the report: a third method, and list vs effective in the methodology ----------------------------

@pytest_twisted.ensureDeferred
async def test_report_effective_method_and_list_vs_effective_table(tmp_path):
    text = await crawl_demo(tmp_path, ORSTATS_REVENUE_METHOD="effective")
    total = sum(expected_effective(m) for m in SEED_MODELS)
    listed = sum(expected_revenues(m)[0] for m in SEED_MODELS)
    assert summary(text)["Estimated weekly revenue"].startswith(
        f"**{fmt.usd(total)}** (effective prices, what the traffic paid), range {fmt.usd(listed)} to ")
    methodology = section(text, "Methodology")
    compared = {row[0]: row for row in table(after(methodology, "| Estimate |"))}
    assert compared["Effective prices (the headline)"][1:3] == [fmt.usd(total), "10 of 10"]
    assert compared["List prices, cached tokens counted once"][1] == fmt.usd(listed)
    assert "prompt × effective input price + completion × effective output price" in \
        compared["Effective prices (the headline)"][3]
    rows = table(after(methodology, "<summary>List vs effective prices"))
    paid = sorted((m for m in SEED_MODELS if m.variant != "free"), key=lambda m: -expected_revenues(m)[0])
    assert len(rows) == len(paid) == 9  # the free model-variant is 0 either way: not compared
    for row, model in zip(rows, paid):
        listed, effective = expected_revenues(model)[0], expected_effective(model)
        assert row == [display(model), fmt.usd(listed), fmt.usd(effective), fmt.ratio(effective, listed)]


def test_unknown_method_names_the_effective_one():
    with pytest.raises(ValueError, match="list, seed, effective"):
        method("actual")


@pytest_twisted.ensureDeferred
async def test_effective_headline_names_a_missing_effective_price_as_the_reason(tmp_path, history_path):
    models = list(SEED_MODELS)
    models[1] = replace(models[1], effective=(0.0, 0.0, 0.0))  # answers 0, like :batch: not a price
    snapshot = build_snapshot(tmp_path / "s", SnapshotSpec(models=models))
    await crawl({"ORSTATS_DB": str(history_path), "ORSTATS_REVENUE_METHOD": "effective"},
                snapshot=str(snapshot), top="all")
    text = (history_path.parent / "reports" / "README.md").read_text(encoding="utf-8")
    [row] = table(after(section(text, "Model Breakdown"), "<details><summary>1 without an estimate"))
    opus = models[1]
    high = opus.prompt * float(opus.pricing["prompt"]) + opus.completion * float(opus.pricing["completion"])
    assert row == [row[0], row[1], fmt.tokens(opus.total), "no effective price", "$5.00 / $25.00", fmt.usd(high)]
    assert row[1].startswith("[Claude Opus 4.5]")  # its effective revenue, n/a, goes without a column
    compared = {r[0]: r for r in table(after(section(text, "Methodology"), "| Estimate |"))}
    assert compared["Effective prices (the headline)"][2] == "9 of 10"
