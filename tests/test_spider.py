"""The spider's callbacks on hand-made responses: what each yields, and when split requests go out."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import pytest_twisted
from scrapy.http import Request, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.settings import Settings
from twisted.python.failure import Failure

from orstats_crawler import arguments, weeks
from orstats_crawler.items import ActivityPlan, LeaderboardRow, ModelActivity, ModelPrice, SourceProblem
from orstats_crawler.spiders.rankings import RankingsSpider
from tests.conftest import project_crawler
from tests.factory import SEED_MODELS, SnapshotSpec, catalogue, daily_rows, leaderboard


def make_spider(folder: Path, **args) -> RankingsSpider:
    """A spider outside the engine: get_crawler freezes the settings, so the arguments go into them
    first, as RankingsSpider.from_crawler puts them in a real crawl. Its history goes under ``folder``."""
    crawler = project_crawler(folder, OPENROUTER_BASE_URL="http://site.test",
                              **arguments.as_settings(args, Settings()))
    spider = RankingsSpider(**args)
    spider._set_crawler(crawler)
    return spider


async def start_requests(spider) -> list[Request]:
    return [request async for request in spider.start()]


def respond(request: Request, payload, status: int = 200) -> TextResponse:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return TextResponse(request.url, body=body, status=status, request=request,
                        headers={"Content-Type": "application/json"})


def call(request: Request, response: TextResponse) -> list:
    return list(request.callback(response, **request.cb_kwargs))


def fail(request: Request, status: int) -> list:
    response = TextResponse(request.url, body=b"", status=status, request=request)
    failure = Failure(HttpError(response))
    failure.request = request
    return list(request.errback(failure))


@pytest_twisted.ensureDeferred
async def test_start_requests_prices_leaderboard_chart(tmp_path):
    spider = make_spider(tmp_path)
    requests = await start_requests(spider)
    assert [r.url for r in requests] == [
        "http://site.test/api/v1/models",
        "http://site.test/api/v1/models?output_modalities=all",
        "http://site.test/api/frontend/v1/rankings/models?view=week",
        "http://site.test/api/frontend/v1/rankings/model-rankings-chart",
    ]


async def _released(spider, models_payload=None):
    requests = await start_requests(spider)
    spec = SnapshotSpec()
    out = call(requests[0], respond(requests[0], models_payload or catalogue(spec)))
    out += fail(requests[1], 404)
    out += call(requests[2], respond(requests[2], leaderboard(spec)))
    return out


@pytest_twisted.ensureDeferred
async def test_split_requests_wait_for_prices_and_leaderboard_then_rank_by_spend(tmp_path):
    spider = make_spider(tmp_path)
    requests = await start_requests(spider)
    spec = SnapshotSpec()
    first = call(requests[0], respond(requests[0], catalogue(spec)))
    assert all(isinstance(i, ModelPrice) for i in first)
    assert not any(isinstance(i, Request) for i in first)  # still waiting for the other sources
    leaderboard_out = call(requests[2], respond(requests[2], leaderboard(spec)))
    assert leaderboard_out == []  # rows are held until every price source has answered
    released = fail(requests[1], 404)
    problem = released[0]
    assert isinstance(problem, SourceProblem) and problem.status == 404 and problem.source == "prices"
    rows = [i for i in released if isinstance(i, LeaderboardRow)]
    plan = next(i for i in released if isinstance(i, ActivityPlan))
    split = [i for i in released if isinstance(i, Request) and i.meta["source"] == "activity"]
    assert len(rows) == len(SEED_MODELS)
    # Ordered by list-price spend upper bound: Sonnet 4.5 and Opus 4.5 first though Kimi has most tokens.
    assert [c["permaslug"] for c in plan.candidates[:2]] == [SEED_MODELS[0].permaslug, SEED_MODELS[1].permaslug]
    # The first wave: nothing measured yet, so no spend is guaranteed; the next wave waits for its answers.
    assert plan.selection == "coverage:0.95" and plan.planned_spend_coverage is None
    assert len(split) == sum(c["selected"] for c in plan.candidates) < len(SEED_MODELS)
    assert "permaslug=anthropic%2Fclaude-4.5-sonnet-20250929&variant=standard" in split[0].url
    assert spider.crawler.stats.get_value("orstats/activity/selected") == len(split)


@pytest_twisted.ensureDeferred
async def test_top_all_and_top_n(tmp_path):
    for top, expected in (("all", len(SEED_MODELS)), ("3", 3)):
        released = await _released(make_spider(tmp_path, top=top))
        assert sum(isinstance(i, Request) and i.meta["source"] == "activity" for i in released) == expected


def test_top_argument_validation():
    assert arguments.top(None) is None and arguments.top("ALL") == arguments.ALL and arguments.top("5") == 5
    for bad in ("0", "-3", "abc", "1.5"):
        with pytest.raises(arguments.UsageError, match="top"):
            arguments.top(bad)


@pytest_twisted.ensureDeferred
async def test_leaderboard_failure_still_releases_with_nothing_to_measure(tmp_path):
    spider = make_spider(tmp_path)
    requests = await start_requests(spider)
    call(requests[0], respond(requests[0], catalogue(SnapshotSpec())))
    call(requests[1], respond(requests[1], b"<html>blocked</html>"))
    out = fail(requests[2], 500)
    # The legacy `/rankings` page is asked in its place, under the same barrier: no release yet.
    [page] = [i for i in out if isinstance(i, Request)]
    assert page.url == "http://site.test/rankings" and not any(isinstance(i, ActivityPlan) for i in out)
    out = fail(page, 404)
    plan = next(i for i in out if isinstance(i, ActivityPlan))
    assert plan.candidates == [] and not any(isinstance(i, Request) for i in out)


@pytest_twisted.ensureDeferred
async def test_activity_callback_and_its_failures_keep_the_model_identity(tmp_path):
    released = await _released(make_spider(tmp_path, top="all"))
    request = next(i for i in released if isinstance(i, Request))
    model = SEED_MODELS[0]
    rows = daily_rows(model, SnapshotSpec().captured, 31)
    [item] = call(request, respond(request, {"data": {"analytics": rows, "cachedAt": 1770616800000}}))
    assert isinstance(item, ModelActivity) and item.permaslug == model.permaslug and len(item.days) == 31
    [truncated] = call(request, respond(request, b'{"data": {"analytics": [{"date"'))
    assert isinstance(truncated, SourceProblem) and truncated.permaslug == model.permaslug
    assert truncated.source == "activity" and "truncated" in truncated.message
    [missing] = fail(request, 404)
    assert (missing.permaslug, missing.variant, missing.status, missing.url) == (
        model.permaslug, "standard", 404, request.url)


def test_crawl_window_rules():
    assert weeks.crawl_window([date(2026, 8, 8), date(2026, 8, 7)], []) == (date(2026, 8, 1), date(2026, 8, 7))
    assert weeks.crawl_window([], [date(2026, 8, 21), None, date(2026, 8, 19)]) == (
        date(2026, 8, 15), date(2026, 8, 21))
    assert weeks.crawl_window([], [None]) is None
    computed = datetime(2026, 8, 12, 17, tzinfo=timezone.utc)
    assert weeks.chart_week_finished(date(2026, 8, 3), date(2026, 8, 10), computed)
    assert not weeks.chart_week_finished(date(2026, 8, 10), date(2026, 8, 10), computed)
    assert not weeks.chart_week_finished(date(2026, 8, 3), date(2026, 8, 10), datetime(2026, 8, 9, tzinfo=timezone.utc))
