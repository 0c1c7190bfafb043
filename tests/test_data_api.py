"""The official Data API, end to end against a fake one on loopback: the key path (sent only there,
stored and logged nowhere), 401, 429 with Retry-After, the daily quota, the per-crawl budget, the
weekly views and the modeled revenue of backfilled weeks.

The fake answers in the documented shape (docs/SOURCES.md section 6) with figures made here: the
factory's seed models, every day, plus an `other` row.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted
from scrapy.settings import Settings
from sqlite_utils import Database

from orstats_crawler.credentials import KEY_ENV
from orstats_crawler.middlewares.data_api import STATS
from orstats_crawler.sources import data_api
from orstats_crawler.history.views import DATASET_CITATION
from orstats_crawler.items import RankingsDaily
from orstats_crawler.snapshots.server import ReplayHandler
from orstats_crawler.sources import SourceError
from orstats_crawler.sources.data_api import decode_rankings_daily
from tests.conftest import crawl
from tests.factory import SEED_MODELS, SnapshotSpec, build_snapshot

KEY = "sk-or-v1-test-0123456789abcdef"
AS_OF = "2026-02-09T02:00:00Z"
FIRST_DAY = date(2025, 1, 1)
OTHER_SHARE = 0.3  # the long tail's tokens, as a share of the named models'


def dataset_key(model) -> str:
    return model.permaslug + ("" if model.variant == "standard" else f":{model.variant}")


def daily_tokens(model, day: date) -> int:
    """The fake dataset's figure for one model-variant and day: a seventh of its seed week, varying by day."""
    return model.total // 7 * (100 + day.toordinal() % 5) // 100


def other_tokens(day: date) -> int:
    return int(sum(daily_tokens(m, day) for m in SEED_MODELS) * OTHER_SHARE)


def rankings_daily(start: date, end: date) -> dict:
    """A rankings-daily answer in the documented shape: per day the models by tokens, then `other`."""
    rows = []
    day = start
    while day <= end:
        for model in sorted(SEED_MODELS, key=lambda m: -daily_tokens(m, day)):
            rows.append({"date": day.isoformat(), "model_permaslug": dataset_key(model),
                         "total_tokens": str(daily_tokens(model, day))})
        rows.append({"date": day.isoformat(), "model_permaslug": "other", "total_tokens": str(other_tokens(day))})
        day += timedelta(days=1)
    return {"data": rows, "meta": {"as_of": AS_OF, "start_date": start.isoformat(), "end_date": end.isoformat(),
                                   "version": "v1"}}


@dataclass
class FakeDataApi:
    """What the fake Data API does; the handler asks it for every request under data_api.PATH."""

    key: str = KEY
    rate_limited: int = 0  # this many 429s with a short Retry-After before answering
    quota: int | None = None  # answers allowed today; then 429 with a day-long Retry-After
    retry_after: str = "1"
    answered: int = 0
    calls: list[tuple[str, float]] = field(default_factory=list)  # (path, time)
    authorizations: list[tuple[str, str | None]] = field(default_factory=list)  # every request: (path, header)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.calls.append((path, time.monotonic()))
            if authorization != f"Bearer {self.key}":
                return 401, {"Content-Type": "application/json"}, b'{"error":{"code":401,"message":"Invalid API key"}}'
            if self.rate_limited:
                self.rate_limited -= 1
                return self._too_many(self.retry_after)
            if self.quota is not None and self.answered >= self.quota:
                return self._too_many(str(24 * 3600))
            self.answered += 1
        query = parse_qs(urlsplit(path).query)
        start = max(FIRST_DAY, date.fromisoformat(query["start_date"][0]))
        end = date.fromisoformat(query["end_date"][0])
        if (end - start).days > 366:
            return 400, {"Content-Type": "application/json"}, b'{"error":{"code":400,"message":"window too wide"}}'
        return 200, {"Content-Type": "application/json"}, json.dumps(rankings_daily(start, end)).encode()

    @staticmethod
    def _too_many(retry_after: str) -> tuple[int, dict[str, str], bytes]:
        return 429, {"Content-Type": "application/json", "Retry-After": retry_after}, b'{"error":{"code":429}}'


class DataApiHandler(ReplayHandler):
    """The replayed snapshot, plus the Data API answered by ``server.fake``."""

    def respond(self, path: str) -> tuple[int, dict[str, str], bytes]:
        fake: FakeDataApi = self.server.fake
        authorization = self.headers.get("Authorization")
        with fake.lock:
            fake.authorizations.append((path, authorization))
        if urlsplit(path).path == data_api.PATH:
            return fake.answer(path, authorization)
        return super().respond(path)


@pytest.fixture
def data_api_site(demo_snapshot, replay_server):
    """A loopback site: the demo snapshot plus a fake Data API (configure ``server.fake``)."""
    server = replay_server(demo_snapshot, handler=DataApiHandler)
    server.fake = FakeDataApi()
    return server


def settings_for(server, history: Path, **extra) -> dict:
    return {"ORSTATS_DB": str(history), "OPENROUTER_BASE_URL": server.base_url,
            "ORSTATS_DATA_API_INTERVAL": 0.05, **extra}


def last_days(today: date, windows: int, span: int) -> tuple[str, int]:
    """ORSTATS_DATA_API_START and WINDOW_DAYS giving exactly `windows` windows of `span` days up to yesterday."""
    return (today - timedelta(days=windows * span)).isoformat(), span


def data_api_calls(server) -> list[str]:
    return [path for path, _ in server.fake.calls]


def assert_key_nowhere(key: str, history: Path, caplog, result) -> None:
    assert key not in caplog.text
    assert key not in json.dumps(result.stats, default=str)
    assert key.encode() not in history.read_bytes()
    for suffix in ("-wal", "-shm"):
        side = history.with_name(history.name + suffix)
        if side.exists():
            assert key.encode() not in side.read_bytes()


# --- the decoder -------------------------------------------------------------------------------------

def test_decode_documented_shape():
    url = "https://openrouter.ai/api/v1/datasets/rankings-daily?start_date=2026-02-02&end_date=2026-02-08"
    item = decode_rankings_daily(json.dumps(rankings_daily(date(2026, 2, 2), date(2026, 2, 8))), url)
    assert isinstance(item, RankingsDaily) and item.as_of == AS_OF
    assert len(item.rows) == 7 * (len(SEED_MODELS) + 1)
    first = item.rows[0]
    assert first["day"] == date(2026, 2, 2) and isinstance(first["total_tokens"], int)
    assert sum(r["key"] == "other" for r in item.rows) == 7


@pytest.mark.parametrize("change, field", [
    (lambda p: p["data"][3].update(total_tokens="12x"), "data[3].total_tokens"),
    (lambda p: p["data"][0].pop("model_permaslug"), "model_permaslug"),
    (lambda p: p["data"][1].update(date="yesterday"), "data[1].date"),
    (lambda p: p["meta"].pop("as_of"), "as_of"),
    (lambda p: p.pop("meta"), "meta"),
])
def test_decode_names_the_field(change, field):
    url = "http://127.0.0.1/api/v1/datasets/rankings-daily"
    payload = rankings_daily(date(2026, 2, 2), date(2026, 2, 3))
    change(payload)
    with pytest.raises(SourceError) as caught:
        decode_rankings_daily(json.dumps(payload), url)
    assert (caught.value.source, caught.value.url, caught.value.field) == ("data_api", url, field)


def test_windows_cover_the_range_newest_first_and_stop_at_yesterday():
    settings = Settings({"ORSTATS_DATA_API_START": "2025-01-01", "ORSTATS_DATA_API_WINDOW_DAYS": 366})
    spans = list(data_api.windows(settings, date(2026, 8, 8)))
    assert spans[0][1] == date(2026, 8, 7) and spans[-1][0] == date(2025, 1, 1)
    assert all((end - start).days + 1 <= 366 for start, end in spans)
    assert all(newer[0] - older[1] == timedelta(days=1) for newer, older in zip(spans, spans[1:]))
    assert len(spans) == 2


# --- the key path, end to end ------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_without_a_key_nothing_is_asked(data_api_site, history_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    result = await crawl(settings_for(data_api_site, history_path), top="all")
    assert result.status == "published"
    assert data_api_calls(data_api_site) == []
    assert not any(k.startswith(STATS) for k in result.stats)
    assert Database(history_path)["dataset_daily"].count == 0


@pytest_twisted.ensureDeferred
async def test_key_path_stores_days_weeks_coverage_and_citation(data_api_site, history_path, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, KEY)
    data_api_site.fake.rate_limited = 1  # the first call is told to wait a second
    start, span = last_days(date.today(), 2, 30)
    result = await crawl(settings_for(data_api_site, history_path, ORSTATS_DATA_API_START=start,
                                      ORSTATS_DATA_API_WINDOW_DAYS=span), top="all")
    assert result.status == "published"
    calls = data_api_site.fake.calls
    assert len(calls) == 3  # two windows, one of them asked twice
    first, again = [when for path, when in calls if path == calls[0][0]]  # the rate-limited one, asked again
    assert again - first >= 0.9  # after its Retry-After: 1
    assert result.stats[f"{STATS}/rate_limited"] == 1
    # The key went to the Data API only, and is stored and logged nowhere.
    sent = [(path, auth) for path, auth in data_api_site.fake.authorizations if auth]
    assert sent and all(urlsplit(path).path == data_api.PATH and auth == f"Bearer {KEY}" for path, auth in sent)
    assert_key_nowhere(KEY, history_path, caplog, result)

    db = Database(history_path)
    days = 2 * span
    assert db["dataset_daily"].count == days * (len(SEED_MODELS) + 1)
    free = next(m for m in SEED_MODELS if m.variant == "free")
    row = next(db.query("select * from dataset_daily where key = ? limit 1", [dataset_key(free)]))
    assert (row["permaslug"], row["variant"], row["as_of"]) == (free.permaslug, "free", AS_OF)
    # Weekly totals and coverage, recomputed here from the fake's own figures.
    complete = list(db.query("select * from dataset_weeks where complete order by week_start"))
    assert complete
    for week in complete:
        week_days = [date.fromisoformat(week["week_start"]) + timedelta(days=i) for i in range(7)]
        assert date.fromisoformat(week["week_start"]).weekday() == 0
        named = sum(daily_tokens(m, d) for m in SEED_MODELS for d in week_days)
        other = sum(other_tokens(d) for d in week_days)
        assert (week["total_tokens"], week["other_tokens"]) == (named + other, other)
        assert week["coverage"] == pytest.approx(1 - other / (named + other))
        assert (week["citation"] == f"{DATASET_CITATION}{AS_OF}"
                == "Source: OpenRouter (openrouter.ai/rankings), as of " + AS_OF)


@pytest_twisted.ensureDeferred
async def test_key_stays_out_of_an_http_cache(data_api_site, history_path, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    cache = tmp_path / "httpcache"
    start, span = last_days(date.today(), 1, 7)
    await crawl(settings_for(data_api_site, history_path, ORSTATS_DATA_API_START=start,
                             ORSTATS_DATA_API_WINDOW_DAYS=span, HTTPCACHE_ENABLED=True, HTTPCACHE_DIR=str(cache)),
                top="all")
    assert len(data_api_site.fake.calls) == 1 and Database(history_path)["dataset_daily"].count
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files  # the cache did store the crawl's other responses
    assert not any(KEY.encode() in p.read_bytes() for p in files)


@pytest_twisted.ensureDeferred
async def test_wrong_key_is_refused_once_and_the_crawl_goes_on(data_api_site, history_path, monkeypatch, caplog):
    wrong = "sk-or-v1-wrong-key-fedcba9876543210"
    monkeypatch.setenv(KEY_ENV, wrong)
    start, span = last_days(date.today(), 3, 10)
    result = await crawl(settings_for(data_api_site, history_path, ORSTATS_DATA_API_START=start,
                                      ORSTATS_DATA_API_WINDOW_DAYS=span), top="all")
    assert result.status == "published"  # the week does not depend on the Data API
    assert len(data_api_site.fake.calls) == 1  # refused once: the other windows are not asked
    db = Database(history_path)
    problems = list(db.query("select * from problems where source = 'data_api' order by id"))
    assert len(problems) == 3
    assert "HTTP 401" in problems[0]["message"] and KEY_ENV in problems[0]["message"]
    assert all("not fetched" in p["message"] and "HTTP 401" in p["message"] for p in problems[1:])
    assert all(data_api.PATH in p["url"] for p in problems)
    assert db["dataset_daily"].count == 0
    assert "HTTP 401" in result.stats[f"{STATS}/stopped"]
    assert_key_nowhere(wrong, history_path, caplog, result)


@pytest_twisted.ensureDeferred
async def test_daily_quota_stops_the_data_api_cleanly(data_api_site, history_path, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, KEY)
    data_api_site.fake.quota = 1
    start, span = last_days(date.today(), 3, 10)
    result = await crawl(settings_for(data_api_site, history_path, ORSTATS_DATA_API_START=start,
                                      ORSTATS_DATA_API_WINDOW_DAYS=span), top="all")
    assert result.status == "published"
    assert len(data_api_site.fake.calls) == 2  # one answer, one 429 for the day, nothing after
    db = Database(history_path)
    assert db["dataset_daily"].count == span * (len(SEED_MODELS) + 1)  # the newest window is kept
    newest = db.execute("select max(day) from dataset_daily").fetchone()[0]
    assert newest == (date.today() - timedelta(days=1)).isoformat()
    messages = [p["message"] for p in db.query("select message from problems where source = 'data_api'")]
    assert len(messages) == 2 and all("daily quota" in m for m in messages)
    assert "daily quota" in caplog.text and "no further Data API request" in caplog.text
    assert_key_nowhere(KEY, history_path, caplog, result)


@pytest_twisted.ensureDeferred
async def test_per_crawl_budget_is_respected(data_api_site, history_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    start, span = last_days(date.today(), 4, 5)
    result = await crawl(settings_for(data_api_site, history_path, ORSTATS_DATA_API_START=start,
                                      ORSTATS_DATA_API_WINDOW_DAYS=span, ORSTATS_DATA_API_MAX_REQUESTS=2), top="all")
    assert len(data_api_site.fake.calls) == 2
    assert result.stats[f"{STATS}/requests"] == 2 and result.stats[f"{STATS}/skipped"] == 2
    skipped = list(Database(history_path).query("select message from problems where source = 'data_api'"))
    assert len(skipped) == 2 and all("ORSTATS_DATA_API_MAX_REQUESTS" in p["message"] for p in skipped)


def list_revenue(model, row) -> float:
    """A series row's list-price revenue at the model's catalogue prices (the demo's, valid all along)."""
    if model.variant == "free":
        return 0.0
    p, c = float(model.pricing["prompt"]), float(model.pricing["completion"])
    r = float(model.pricing.get("input_cache_read", model.pricing["prompt"]))
    return (row["prompt_tokens"] - row["cached_tokens"]) * p + row["cached_tokens"] * r + row["completion_tokens"] * c


# --- backfilled weeks: the Monday-week series takes the Data API's totals, modeled ---------------------

@pytest_twisted.ensureDeferred
async def test_data_api_weeks_feed_the_monday_series_as_modeled(tmp_path, monkeypatch, replay_server):
    """The demo crawl measures the Monday weeks 2026-01-12 .. 2026-02-02 from its daily activity; the
    Data API's other weeks (from 2025-12-29, chart weeks included) become modeled rows of the series:
    its totals, the split shares of the nearest measured week, the prices valid in the week."""
    monkeypatch.setenv(KEY_ENV, KEY)
    server = replay_server(build_snapshot(tmp_path / "s", SnapshotSpec()), handler=DataApiHandler)
    server.fake = FakeDataApi()
    history = tmp_path / "h.db"
    await crawl(settings_for(server, history, ORSTATS_DATA_API_START="2025-12-29"), top="all")
    db = Database(history)
    series = {(r["week_start"], r["permaslug"], r["variant"]): r for r in db.query("select * from monday_revenue")}
    measured_weeks = ["2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02"]
    for model in SEED_MODELS:
        for week in measured_weeks:
            assert series[(week, model.permaslug, model.variant)]["basis"] == "measured"
        # Before the activity: the Data API's total wins over the chart's; after it: only the Data API.
        for week, mix in (("2025-12-29", "2026-01-12"), ("2026-01-05", "2026-01-12"), ("2026-02-09", "2026-02-02"),
                          ("2026-03-02", "2026-02-02")):
            row = series[(week, model.permaslug, model.variant)]
            days = [date.fromisoformat(week) + timedelta(days=i) for i in range(7)]
            assert (row["source"], row["basis"], row["mix_week_start"]) == ("data_api", "modeled", mix), (week, model)
            assert row["total_tokens"] == sum(daily_tokens(model, d) for d in days)
            basis = series[(mix, model.permaslug, model.variant)]
            assert row["prompt_tokens"] == round(row["total_tokens"] * basis["prompt_tokens"] / basis["total_tokens"])
            assert row["revenue_list_usd"] == pytest.approx(list_revenue(model, row), rel=1e-9)
    # The comparable series prices those volumes: the week before the activity is modeled, every seed
    # model-variant's Data API tokens at its $/token of its nearest measured week.
    [estimate] = db.query("select * from monday_series where week_start = '2025-12-29'")
    volumes = [r for key, r in series.items() if key[0] == "2025-12-29" and r["source"] == "data_api"]
    assert (estimate["basis"], estimate["measured_tokens"]) == ("modeled", 0)
    assert estimate["modeled_tokens"] == sum(r["total_tokens"] for r in volumes if r["revenue_list_usd"] is not None)
    assert estimate["modeled_usd"] > 0 and estimate["total_source"] == "chart"
    # The Data API's weekly coverage is there for the same weeks, with its citation.
    week = next(db.query("select * from dataset_weeks where week_start = '2026-02-09'"))
    assert week["complete"] and week["citation"] == f"{DATASET_CITATION}{AS_OF}"
    assert "dataset_weekly_revenue" not in db.view_names()


@pytest_twisted.ensureDeferred
async def test_report_prints_the_required_citation_only_with_data_api_data(data_api_site, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    start, span = last_days(date.today(), 1, 14)
    history = tmp_path / "with" / "history.db"
    await crawl(settings_for(data_api_site, history, ORSTATS_DATA_API_START=start, ORSTATS_DATA_API_WINDOW_DAYS=span),
                top="all")
    text = (history.parent / "reports" / "README.md").read_text(encoding="utf-8")
    assert f"Source: OpenRouter (openrouter.ai/rankings), as of {AS_OF}." in text
    monkeypatch.delenv(KEY_ENV)
    without = tmp_path / "without" / "history.db"
    await crawl(settings_for(data_api_site, without), top="all")
    text = (without.parent / "reports" / "README.md").read_text(encoding="utf-8")
    assert "Data API" not in text and AS_OF not in text
