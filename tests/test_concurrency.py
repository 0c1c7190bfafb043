"""Two crawls at once into one history (two Scrapyd jobs, or cron and a manual rerun): each is
written whole, in its own transaction, and readers see one week, not two."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

from sqlite_utils import Database

from orstats_crawler.commands.crawl import EXIT_PUBLISHED
from tests.conftest import run_scrapy
from tests.factory import SEED_MODELS


def test_two_concurrent_crawls_of_one_week_neither_corrupt_nor_duplicate(demo_snapshot, replay_server, tmp_path):
    # Latency on every response keeps both crawls in flight together (checked below, not assumed).
    server = replay_server(demo_snapshot, latency_ms=150)
    history = tmp_path / "history.db"

    def one_crawl(name: str):
        return run_scrapy("crawl", "rankings", f"-sOPENROUTER_BASE_URL={server.base_url}", f"-sORSTATS_DB={history}",
                          f"-sORSTATS_REPORT_DIR={tmp_path / name}", "-a", "top=all", timeout=120)

    with ThreadPoolExecutor(2) as pool:
        processes = list(pool.map(one_crawl, ["reports-1", "reports-2"]))
    for process in processes:
        assert process.returncode == EXIT_PUBLISHED, process.stderr[-3000:]

    with sqlite3.connect(history) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    db = Database(history)
    crawls = list(db.query("select id, started_at, finished_at, status, models_ranked, models_measured from crawls"))
    assert len(crawls) == 2 and {c["status"] for c in crawls} == {"published"}
    assert max(c["started_at"] for c in crawls) < min(c["finished_at"] for c in crawls), "the crawls overlapped"
    for c in crawls:  # each crawl's rows are all there, once
        assert c["models_ranked"] == c["models_measured"] == len(SEED_MODELS)
        for table, rows in (("model_weeks", len(SEED_MODELS)), ("activity_fetches", len(SEED_MODELS)),
                            ("daily_activity", len(SEED_MODELS) * 30)):
            assert db[table].count_where("crawl_id = ?", [c["id"]]) == rows, table
    [week] = list(db.query("select * from weeks"))
    assert week["crawl_id"] in {c["id"] for c in crawls} and week["status"] == "published"
    assert db["weekly_revenue"].count == len(SEED_MODELS)  # readers see one week, not two
    chart = list(db.query("select week_start, key, count(*) n from chart_weeks group by week_start, key having n > 1"))
    assert chart == [] and db["chart_weeks"].count == 51 * 10
