"""Decoders of the current era: good shapes, and bad input that must name source, URL and field."""

from __future__ import annotations

import json
from dataclasses import replace

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


# --- the model-variant asked for ------------------------------------------------------------------

ACTIVITY_URL = "https://openrouter.ai/api/frontend/v1/stats/model-activity?permaslug={}&variant={}"


@pytest.mark.parametrize("other, field, found", [
    (SEED_MODELS[2], "model_permaslug", f"{SEED_MODELS[2].permaslug}:standard"),  # another model's rows
    (replace(SEED_MODELS[0], variant="batch"), "variant", f"{SEED_MODELS[0].permaslug}:batch"),  # another variant
])
def test_activity_rows_of_another_model_variant_are_an_identity_error(other, field, found):
    asked = SEED_MODELS[0]
    rows = daily_rows(other, SnapshotSpec().captured, 31)
    with pytest.raises(SourceError) as error:
        decode_activity(body({"data": {"analytics": rows}}), URL, asked.permaslug, "standard")
    assert (error.value.field, error.value.kind) == (f"data.analytics[0].{field}", "identity")
    assert error.value.message == f"asked for {asked.permaslug}:standard, found {found}"


def test_an_activity_answer_redirected_to_another_model_variant_is_an_identity_error():
    model = SEED_MODELS[0]
    rows = daily_rows(model, SnapshotSpec().captured, 31)
    redirected = ACTIVITY_URL.format("x%2Fother", "standard")
    with pytest.raises(SourceError) as error:
        decode_activity(body({"data": {"analytics": rows}}), redirected, model.permaslug, "standard")
    assert (error.value.field, error.value.kind) == ("url", "identity")
    assert error.value.message == f"asked for {model.permaslug}:standard, the answer is for x/other:standard"
    asked = ACTIVITY_URL.format(model.permaslug.replace("/", "%2F"), "standard")
    assert len(decode_activity(body({"data": {"analytics": rows}}), asked, model.permaslug, "standard").days) == 31


# --- keys listed twice --------------------------------------------------------------------------

def duplicate_problems(items) -> list[tuple[str, str]]:
    return [(i.field, i.message) for i in items if isinstance(i, SourceProblem) and i.extra.get("kind") == "duplicate"]


def test_a_leaderboard_row_listed_twice_is_kept_once():
    payload = leaderboard(SnapshotSpec())
    first = payload["data"][0]
    payload["data"] += [dict(first), dict(first), {**first, "total_prompt_tokens": 1}]
    items = list(decode_leaderboard(body(payload), URL))
    rows = [i for i in items if isinstance(i, LeaderboardRow)]
    assert len(rows) == len(SEED_MODELS) and rows[0].duplicates == 2
    assert rows[0].prompt_tokens == first["total_prompt_tokens"]  # the first one
    assert duplicate_problems(items) == [("data[12]", f"{first['model_permaslug']}:standard listed again with "
                                                      "different values (first at data[0])")]


def test_a_catalogue_id_listed_twice_is_kept_once():
    payload = catalogue(SnapshotSpec())
    entry = payload["data"][0]
    payload["data"] += [dict(entry), {**entry, "pricing": {"prompt": "1", "completion": "1"}}]
    items = list(decode_catalogue(body(payload), URL))
    prices = [i for i in items if isinstance(i, ModelPrice)]
    assert [p.public_id for p in prices].count(entry["id"]) == 1 and prices[0].duplicates == 1
    last = len(payload["data"]) - 1
    assert duplicate_problems(items) == [(f"data[{last}]", f"id {entry['id']} listed again with different values "
                                                           "(first at data[0])")]


def test_a_chart_week_or_key_listed_twice_is_kept_once():
    payload = chart(SnapshotSpec())
    weeks = payload["data"]["data"]
    weeks[2]["ys"] = {"MARK": 0, **weeks[2]["ys"]}
    weeks += [dict(weeks[0]), {**weeks[1], "ys": {"a/b": 1}}]
    raw = json.dumps(payload).replace('"MARK": 0', '"a/b": 5, "a/b": 5')  # one key twice in a week's ys
    items = list(decode_chart(raw.encode(), URL))
    kept = [i for i in items if isinstance(i, ChartWeek)]
    assert len(kept) == 52 and kept[0].duplicates == 1 and kept[2].duplicates == 1 and kept[2].values["a/b"] == 5
    assert duplicate_problems(items) == [("data[53]", f"week {weeks[1]['x']} listed again with different values "
                                                      "(first at data[1])")]
    raw = raw.replace('"a/b": 5, "a/b": 5', '"a/b": 5, "a/b": 6')
    problem = next(i for i in decode_chart(raw.encode(), URL) if isinstance(i, SourceProblem))
    assert (problem.field, problem.extra) == ("data[2].ys", {"kind": "duplicate"})
    assert problem.message == f"week {weeks[2]['x']}: key listed twice with different values: a/b = 5 and 6"


def test_a_day_listed_twice_in_an_activity_answer_is_kept_once():
    model = SEED_MODELS[0]
    rows = daily_rows(model, SnapshotSpec().captured, 31)
    rows += [dict(rows[3]), {**rows[4], "total_prompt_tokens": 1}]
    item = decode_activity(body({"data": {"analytics": rows}}), URL, model.permaslug, "standard")
    assert len(item.days) == 31 and item.duplicate_days == 1
    assert [(p["field"], p["message"], p["extra"], p["permaslug"]) for p in item.problems] == [
        ("data.analytics[32]", f"day {rows[4]['date']} listed again with different values (first at "
                               "data.analytics[4])", {"kind": "duplicate", "key": f"day {rows[4]['date']}"},
         model.permaslug)]


@pytest.mark.parametrize("field, value", [("model_permaslug", 10**30), ("variant", 7), ("variant_permaslug", [1])])
def test_a_leaderboard_name_that_is_not_a_string_is_a_problem_naming_field_and_value(field, value):
    payload = leaderboard(SnapshotSpec())
    payload["data"][1][field] = value
    items = list(decode_leaderboard(body(payload), URL))
    [problem] = [i for i in items if isinstance(i, SourceProblem)]
    assert (problem.field, problem.message) == (f"data[1].{field}", f"{value!r} is not a string")
    assert sum(isinstance(i, LeaderboardRow) for i in items) == len(SEED_MODELS) - 1
