"""The history feed storage (publish/feed.py) through whole `scrapy crawl` runs: the crawl's own
SQLite feed file beside the history, a history write that fails after the crawl (Scrapy's "Error
storing" path, exit 1, nothing half-written), and a history that cannot be written at all (the
spider is closed before any request)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.commands.crawl import EXIT_ERROR, EXIT_PUBLISHED
from orstats_crawler.exporters import read_items, table_name
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.history.migrations import migrations
from orstats_crawler.items import ITEM_TYPES, LeaderboardRow, ModelPrice
from tests.conftest import crawl, scrapy_here


@pytest_twisted.ensureDeferred
async def test_a_crawl_feed_of_its_own_is_a_standalone_sqlite_file_of_the_crawl(tmp_path, demo_snapshot):
    history, one = tmp_path / "data" / "history.db", tmp_path / "one.sqlite"
    done = await scrapy_here("crawl", "rankings", "-O", str(one), "-a", f"snapshot={demo_snapshot}",
                             f"-sORSTATS_DB={history}")
    assert done.returncode == EXIT_PUBLISHED, done.stderr[-2000:]
    assert "Stored sqlite feed" in done.stderr and f"in: {one}" in done.stderr
    with sqlite3.connect(one) as db:  # a SQLite file with one table per kind of item
        tables = {name for (name,) in db.execute("select name from sqlite_master where type = 'table'")}
    assert tables == {table_name(t) for t in ITEM_TYPES}
    items = Counter(type(item) for item in read_items(one))
    stored = Database(history)
    [crawl_row] = list(stored["crawls"].rows)
    assert items[LeaderboardRow] == crawl_row["models_ranked"] == 10
    assert items[ModelPrice] == stored["prices"].count


@pytest_twisted.ensureDeferred
async def test_the_sqlite_feed_gives_back_the_items_as_scraped(tmp_path, demo_snapshot):
    feed = tmp_path / "items.sqlite"
    result = await crawl({"FEEDS": {str(feed): {"format": "sqlite"}}, "ORSTATS_DB": ""}, snapshot=str(demo_snapshot),
                         top="all")
    back = list(read_items(feed))
    for kind in ITEM_TYPES:  # same items, same order, every field of every type equal
        assert [i for i in back if type(i) is kind] == result.of(kind), kind.__name__
    assert len(back) == len(result.items) > 0


def fail_every_crawl_write(history: Path) -> None:
    """A history that opens, migrates and takes its write lock, but refuses the crawl's first row,
    as a disk that fills up during the crawl would."""
    db = open_for_writing(history)
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON crawls "
               "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    db.close()


@pytest_twisted.ensureDeferred
async def test_a_history_write_that_fails_is_scrapys_error_storing_and_exit_1(tmp_path, demo_snapshot):
    history, reports = tmp_path / "history.db", tmp_path / "reports"
    fail_every_crawl_write(history)
    done = await scrapy_here("crawl", "rankings", "-a", f"snapshot={demo_snapshot}", f"-sORSTATS_DB={history}",
                             f"-sORSTATS_REPORT_DIR={reports}")
    assert done.returncode == EXIT_ERROR
    assert "Error storing sqlite feed" in done.stderr and f"history://{history}" in done.stderr
    assert "'feedexport/failed_count/HistoryFeedStorage': 1" in done.stderr
    assert "database or disk is full" in done.stderr
    assert "exit code 1: no verdict was stored" in done.stderr
    db = Database(history)
    assert db["crawls"].count == 0 and db["model_weeks"].count == 0 and db["responses"].count == 0  # all or nothing
    assert not reports.exists()


@pytest_twisted.ensureDeferred
async def test_a_history_that_cannot_be_written_stops_the_crawl_before_any_request(tmp_path, demo_snapshot,
                                                                                    replay_server):
    server = replay_server(demo_snapshot)
    done = await scrapy_here("crawl", "rankings", "-sORSTATS_DB=/proc/nope/history.db",
                             f"-sOPENROUTER_BASE_URL={server.base_url}", f"-sORSTATS_REPORT_DIR={tmp_path / 'reports'}")
    assert done.returncode == EXIT_ERROR
    assert server.requests == []  # not even robots.txt
    named = [line for line in done.stderr.splitlines() if "history file /proc/nope/history.db" in line]
    assert len(named) == 1 and "exit code 1: the crawl could not start" in named[0]
    assert "cannot be opened for writing" in named[0] and "Traceback" not in done.stderr


def test_migrations_are_applied_in_the_order_of_their_names_and_all_of_them_are_registered():
    from orstats_crawler.history import migrations as module

    registered = [m.name for m in module.migrations._migrations]
    defined = sorted(name for name in vars(module) if name.startswith("m") and name[1:4].isdigit())
    assert registered == defined  # every migration function is registered, in name order


def test_a_new_history_holds_what_every_migration_leaves_in_an_empty_file(tmp_path):
    # open_for_writing copies it into a new file instead of running every migration there again.
    open_for_writing(tmp_path / "first" / "history.db").close()  # the copy is made by now
    before = str(datetime.now(timezone.utc))
    new = open_for_writing(tmp_path / "new" / "history.db")
    migrated = Database(tmp_path / "migrated.db")
    migrations.apply(migrated)
    migrated.close()
    migrated = open_for_writing(tmp_path / "migrated.db")  # not empty: only its views are added
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    assert list(new.execute(schema)) == list(migrated.execute(schema))
    assert len([row for row in new.execute(schema) if row[0] == "table"]) > 20
    record = "SELECT id, migration_set, name FROM _sqlite_migrations ORDER BY id"
    assert list(new.execute(record)) == list(migrated.execute(record))
    assert not migrations.pending(new)
    applied = {at for (at,) in new.execute("SELECT applied_at FROM _sqlite_migrations")}
    assert min(applied) >= before  # when this file was made, not when the copied schema was
