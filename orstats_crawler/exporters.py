"""The SQLite history as a Scrapy feed: `FEEDS = {"sqlite:///abs/history.db": {"format": "history"}}`.

- ``HistoryFeedAddon`` adds that feed (from ``ORSTATS_DB``) after the command line is applied:
  Scrapy's `-o`/`-O` replace the whole FEEDS setting, and a user's `-O items.jsonl` must not
  silently switch the history off.
- ``HistoryFeedStorage`` (scheme ``sqlite``) hands the exporter a ``HistorySink`` instead of a
  file, and listens for dropped items from the start of the crawl, so none goes unrecorded.
- ``HistoryItemExporter`` (format ``history``) buffers the crawl's items and, when the feed
  closes, runs the quality gate and writes everything in one transaction (history/store.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from scrapy import signals
from scrapy.exporters import BaseItemExporter

from orstats_crawler import quality
from orstats_crawler.history.schema import open_history
from orstats_crawler.history.store import CrawlItems, CrawlRecord, store_crawl, summarize_week
from orstats_crawler.items import ChartWeek, LeaderboardRow, ModelActivity, SourceProblem
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.rankings import CHART, LEADERBOARD

logger = logging.getLogger(__name__)

FORMAT = "history"
# The crawler stats that carry the stored verdict out (to `scrapy crawl`'s exit code and the report).
STATUS_STAT, ID_STAT = "orstats/crawl/status", "orstats/crawl/id"


def history_feed_uri(db_path: str) -> str:
    return "sqlite://" + Path(db_path).expanduser().resolve().as_posix()


class HistoryFeedAddon:
    def update_settings(self, settings: Any) -> None:
        db_path = settings.get("ORSTATS_DB")
        feeds = dict(settings.getdict("FEEDS"))
        if not db_path or any(options.get("format") == FORMAT for options in feeds.values()):
            return
        feeds[history_feed_uri(db_path)] = {"format": FORMAT, "store_empty": True}
        settings.set("FEEDS", feeds, priority=max(settings.getpriority("FEEDS") or 0, 20))


class HistorySink:
    """The 'file' of the history feed: where the history lives and what was dropped on the way."""

    def __init__(self, path: str):
        self.path = path
        self.dropped: list[SourceProblem] = []

    def close(self) -> None:  # the feed machinery closes files; nothing is held open between writes
        pass


class HistoryFeedStorage:
    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None):
        self.path = unquote(urlparse(uri).path)
        self.sink = HistorySink(self.path)

    @classmethod
    def from_crawler(cls, crawler: Any, uri: str, *, feed_options: dict[str, Any] | None = None) -> "HistoryFeedStorage":
        storage = cls(uri, feed_options=feed_options)
        crawler.signals.connect(storage.item_dropped, signal=signals.item_dropped)
        return storage

    def item_dropped(self, item: Any, response: Any, exception: Exception, spider: Any = None) -> None:
        self.sink.dropped.append(SourceProblem(
            source={LeaderboardRow: LEADERBOARD, ModelActivity: ACTIVITY, ChartWeek: CHART}.get(
                type(item), type(item).__name__),
            url=getattr(item, "source_url", "") or "",
            field=None,
            message=f"dropped by a pipeline: {exception}",
            permaslug=getattr(item, "permaslug", None),
            variant=getattr(item, "variant", None),
        ))

    def open(self, spider: Any) -> HistorySink:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return self.sink

    def store(self, file: Any) -> None:
        return None  # the exporter has written the crawl in finish_exporting


class HistoryItemExporter(BaseItemExporter):
    def __init__(self, file: HistorySink, crawler: Any = None, **kwargs: Any):
        super().__init__(dont_fail=True, **kwargs)
        self.sink = file
        self.crawler = crawler
        self.items = CrawlItems()

    @classmethod
    def from_crawler(cls, crawler: Any, file: HistorySink, **kwargs: Any) -> "HistoryItemExporter":
        return cls(file, crawler=crawler, **kwargs)

    def export_item(self, item: Any) -> None:
        self.items.add(item)

    def finish_exporting(self) -> None:
        spider, stats = self.crawler.spider, self.crawler.stats
        self.items.problems.extend(self.sink.dropped)
        record = CrawlRecord(
            id=getattr(spider, "crawl_id", None) or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
            started_at=getattr(spider, "started_at", None) or datetime.now(timezone.utc),
            base_url=self.crawler.settings.get("OPENROUTER_BASE_URL"),
            snapshot=str(Path(spider.snapshot).resolve()) if getattr(spider, "snapshot", None) else None,
            forced=bool(getattr(spider, "force", False)),
            finished_at=datetime.now(timezone.utc),
        )
        summary = summarize_week(self.items)
        db = open_history(self.sink.path)
        try:
            verdict = quality.evaluate(self.items, summary, db, self.crawler.settings, crawl_id=record.id,
                                       finish_reason=stats.get_value("finish_reason"), forced=record.forced)
            status = verdict.status(forced=record.forced)
            quality.record(verdict, stats)
            stats.set_value(ID_STAT, record.id)
            stats.set_value("orstats/crawl/forced", int(record.forced))
            if summary.week_end:
                stats.set_value("orstats/week_end", summary.week_end.isoformat())
            if summary.coverage is not None:
                stats.set_value("orstats/coverage/spend", round(summary.coverage, 4))
            if summary.token_coverage is not None:
                stats.set_value("orstats/coverage/tokens", round(summary.token_coverage, 4))
            record.stats = {k: v for k, v in stats.get_stats().items() if isinstance(k, str)}
            record.stats[STATUS_STAT] = status
            store_crawl(db, record, self.items, summary, status, verdict.checks, getattr(spider, "archive", ()))
        finally:
            db.close()
        # Only a stored verdict reaches the crawler stats: `scrapy crawl`'s exit code and the report
        # read it there, and must not act on a crawl the history does not hold.
        stats.set_value(STATUS_STAT, status)
        quality.log(verdict)
        forced = record.forced and not verdict.passed
        log = logger.error if status != "published" else logger.warning if forced else logger.info
        log("history %s: crawl %s %s%s (week %s..%s, %d model-variants, spend coverage %s, checks: %d pass, %d flag, "
            "%d fail)%s", self.sink.path, record.id, status.upper(), " (FORCED by -a force=1)" if forced else "",
            summary.week_start, summary.week_end, len(summary.rows),
            f"{summary.coverage:.1%}" if summary.coverage is not None else "unknown",
            *(len(verdict.named(result)) for result in (quality.PASS, quality.FLAG, quality.FAIL)),
            "".join(f"\n  failed check {c['name']}: {c['message']}" for c in verdict.named(quality.FAIL)))
