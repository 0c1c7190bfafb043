"""The feeds: the `sqlite` feed of a crawl's items (any storage), the history feed (how it joins FEEDS,
what it writes for good, empty and repeated crawls, how a failed write is reported)."""

from __future__ import annotations

import filecmp

import pytest_twisted
from scrapy.settings import Settings
from sqlite_utils import Database

from orstats_crawler.addons import HistoryAddon
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.publish.feed import history_feed_uri
from orstats_crawler.history.records import CrawlRow
from orstats_crawler.history.writer import publish_week
from tests.conftest import ROOT, crawl
from tests.factory import SEED_MODELS, SnapshotSpec, build_snapshot


def feeds_after_addon(feeds: dict, db: str = "data/h.db", priority: str = "cmdline") -> dict:
    settings = Settings({"ORSTATS_DB": db})
    settings.set("FEEDS", feeds, priority=priority)
    HistoryAddon().update_settings(settings)
    return settings.getdict("FEEDS")


def test_addon_adds_the_history_beside_a_user_feed():
    feeds = feeds_after_addon({"items.jsonl": {"format": "jsonlines", "overwrite": True}})
    assert feeds["items.jsonl"]["format"] == "jsonlines"
    assert feeds[history_feed_uri("data/h.db")] == {"format": "sqlite", "store_empty": True}
    uri = history_feed_uri("data/h.db")
    assert uri.startswith("history:///") and uri.endswith("/data/h.db")


def test_addon_keeps_an_explicit_history_feed_and_can_be_switched_off():
    mine = {"history:///elsewhere.db": {"format": "sqlite"}}
    assert feeds_after_addon(mine) == mine
    assert feeds_after_addon({}, db="") == {}


@pytest_twisted.ensureDeferred
async def test_crawl_with_no_usable_source_is_recorded_as_rejected(tmp_path, history_path):
    snapshot = build_snapshot(tmp_path / "s", SnapshotSpec(with_leaderboard=False, with_chart=False))
    result = await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(snapshot))
    db = Database(history_path)
    [row] = list(db.query("select * from crawls"))
    assert row["status"] == "rejected" and result.status == "rejected"
    assert "leaderboard" in row["checks"] and db.execute("select count(*) from weeks").fetchone()[0] == 0
    # Both catalogues merged: text models, extras, one media model.
    assert db.execute("select count(*) from prices").fetchone()[0] == len(SEED_MODELS) + 3


def test_open_history_is_idempotent_and_ready_for_concurrent_writers(tmp_path):
    path = str(tmp_path / "h.db")
    open_for_writing(path).close()
    db = open_for_writing(path)
    assert db.journal_mode == "wal"
    assert {"crawls", "weeks", "model_weeks", "daily_activity", "prices", "responses"} <= set(db.table_names())
    assert "weekly_revenue" in db.view_names()


def test_shipped_demo_snapshot_is_what_the_factory_builds(tmp_path):
    built = build_snapshot(tmp_path / "demo")
    shipped = ROOT / "demo" / "snapshot-2026-02-09"
    files = sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(built, shipped, files, shallow=False)
    assert mismatch == [] and errors == [], "regenerate: python -m tests.factory demo/snapshot-2026-02-09"


def test_week_pointer_prefers_the_latest_published_crawl(tmp_path):
    db = open_for_writing(str(tmp_path / "h.db"))
    for crawl_id in ("a", "b", "c", "d"):
        db["crawls"].insert({"id": crawl_id, "status": "x", "era": "current"})

    def shown():
        return db.execute("select crawl_id, status from weeks").fetchone()

    def publish(crawl_id: str, status: str) -> None:
        publish_week(db, CrawlRow(crawl_id, "", None, status, "current", None, None, "2026-08-01", "2026-08-07",
                                  None, None, None, None, 0, 0, 0, 0, "[]", "{}"))

    publish("a", "rejected")
    assert shown() == ("a", "rejected")  # only rejected crawls: the latest stays inspectable
    publish("b", "published")
    assert shown() == ("b", "published")
    publish("c", "rejected")
    assert shown() == ("b", "published")  # a rejected crawl never hides a published week
    publish("d", "published")
    assert shown() == ("d", "published")
    assert db.execute("select count(*) from weeks").fetchone()[0] == 1


@pytest_twisted.ensureDeferred
async def test_prices_of_a_crawl_without_a_week_are_dated_by_the_sources_not_today(tmp_path, history_path):
    snapshot = build_snapshot(tmp_path / "s", SnapshotSpec(with_leaderboard=False))
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(snapshot))
    days = {row["observed_on"] for row in Database(history_path).query("select observed_on from prices")}
    assert days == {"2026-02-09"}  # the chart's cachedAt: the capture day, not the day the test ran
