"""Decoders of the current era: good shapes, and bad input that must name source, URL and field."""

from __future__ import annotations

import json

import pytest

from orstats_crawler.items import ChartWeek, LeaderboardRow, ModelPrice, SourceProblem
from orstats_crawler.pricing import split_id
from orstats_crawler.sources import SourceError
from orstats_crawler.sources.activity import decode_activity
from orstats_crawler.sources.prices import decode_catalogue, variant_of
from orstats_crawler.sources.rankings import decode_chart, decode_leaderboard
from tests.factory import SEED_MODELS, SnapshotSpec, catalogue, chart, daily_rows, leaderboard

URL = "https://openrouter.ai/api/x"


def body(payload) -> bytes:
    return json.dumps(payload).encode()


def test_variant_of_public_ids():
    assert variant_of("anthropic/claude-opus-5:batch") == "batch"
    assert variant_of("arcee-ai/trinity:free") == "free"
    assert variant_of("openai/gpt-5") == "standard"
    # Chart and Data API keys and the earlier project's slugs are split the same way.
    assert split_id("x-ai/grok-4.1-fast:free") == ("x-ai/grok-4.1-fast", "free")
    assert split_id("openai/gpt-5") == ("openai/gpt-5", "standard")
    assert split_id("openai/gpt-5:") == ("openai/gpt-5", "standard")


def test_catalogue_in_both_envelopes():
    spec = SnapshotSpec()
    full = catalogue(spec)
    old = {"data": full["data"]}
    for payload in (full, old):
        items = list(decode_catalogue(body(payload), URL))
        assert [i.public_id for i in items] == [m["id"] for m in full["data"]]
        batch = next(i for i in items if i.public_id.endswith(":batch"))
        assert (batch.canonical_slug, batch.variant) == ("anthropic/claude-4.5-sonnet-20250929", "batch")


def test_catalogue_bad_entry_is_a_problem_and_the_rest_survive():
    payload = catalogue(SnapshotSpec())
    del payload["data"][1]["pricing"]
    items = list(decode_catalogue(body(payload), URL))
    problems = [i for i in items if isinstance(i, SourceProblem)]
    assert len(problems) == 1 and problems[0].field == "pricing" and problems[0].url == URL
    assert "data[1]" in problems[0].message
    assert sum(isinstance(i, ModelPrice) for i in items) == len(payload["data"]) - 1


@pytest.mark.parametrize("raw, message", [
    (b'{"data": [{"id": "a"', "truncated"),
    (b"<!DOCTYPE html><html>rate limited</html>", "HTML instead of JSON"),
])
def test_unreadable_bodies_name_the_source_and_url(raw, message):
    with pytest.raises(SourceError) as error:
        list(decode_catalogue(raw, URL))
    assert error.value.source == "prices" and error.value.url == URL
    assert message in str(error.value)


def test_leaderboard_zero_cached_column_means_not_provided():
    rows = list(decode_leaderboard(body(leaderboard(SnapshotSpec())), URL))
    assert all(isinstance(r, LeaderboardRow) for r in rows)
    assert all(r.cached_tokens is None and r.reasoning_tokens is None for r in rows)
    sonnet = rows[0]
    assert (sonnet.prompt_tokens, sonnet.completion_tokens) == (SEED_MODELS[0].prompt, SEED_MODELS[0].completion)


def test_leaderboard_with_a_split_keeps_it():
    payload = leaderboard(SnapshotSpec())
    payload["data"][0]["total_native_tokens_cached"] = 5
    rows = list(decode_leaderboard(body(payload), URL))
    assert rows[0].cached_tokens == 5 and rows[1].cached_tokens == 0


def test_leaderboard_renamed_field_names_it():
    payload = leaderboard(SnapshotSpec())
    payload["data"][2]["prompt_tokens"] = payload["data"][2].pop("total_prompt_tokens")
    items = list(decode_leaderboard(body(payload), URL))
    problem = next(i for i in items if isinstance(i, SourceProblem))
    assert (problem.source, problem.field, problem.url) == ("leaderboard", "total_prompt_tokens", URL)
    assert sum(isinstance(i, LeaderboardRow) for i in items) == len(payload["data"]) - 1


def test_leaderboard_changed_envelope():
    with pytest.raises(SourceError) as error:
        list(decode_leaderboard(body({"rows": []}), URL))
    assert error.value.field == "data"


def test_chart_weeks_and_cached_at():
    weeks = list(decode_chart(body(chart(SnapshotSpec())), URL))
    assert len(weeks) == 52 and all(isinstance(w, ChartWeek) for w in weeks)
    assert weeks[-1].week_start == "2026-02-09" and weeks[-1].fetched_at.date().isoformat() == "2026-02-09"
    assert "Others" in weeks[0].values


def test_activity_rows_and_missing_split_field():
    model = SEED_MODELS[0]
    rows = daily_rows(model, SnapshotSpec().captured, 31)
    item = decode_activity(body({"data": {"analytics": rows, "cachedAt": 1770616800000}}), URL,
                           model.permaslug, "standard")
    assert len(item.days) == 31 and item.days[0]["cached_tokens"] == rows[0]["total_native_tokens_cached"]
    assert item.fetched_at.date().isoformat() == "2026-02-09"
    del rows[3]["total_native_tokens_cached"]
    with pytest.raises(SourceError) as error:
        decode_activity(body({"data": {"analytics": rows}}), URL, model.permaslug, "standard")
    assert error.value.field == "total_native_tokens_cached" and "analytics[3]" in str(error.value)


def test_activity_null_analytics_is_a_shape_change():
    with pytest.raises(SourceError) as error:
        decode_activity(body({"data": {"analytics": None}}), URL, "a/b", "standard")
    assert error.value.field == "data.analytics"
