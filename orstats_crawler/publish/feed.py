"""The history as a Scrapy feed storage: ``FEEDS = {"history:///abs/history.db": {"format": "sqlite"}}``.

The `sqlite` exporter (exporters.py) writes the crawl's items into a temporary SQLite file of the
crawl; when the feed closes, ``store`` sends that file's items through the publish path
(publish/crawl.py), one write transaction: the week's rows, the quality gate's verdict on them (it
reads the history inside the same transaction), the raw responses and the Monday-week series. A
failure there goes through Scrapy's own path ("Error storing ... feed", ``feedexport/failed_count``):
no verdict is stored and `scrapy crawl` exits 1.

What the history keeps besides the items it learns from Scrapy's signals, from the start of the
crawl: every final response (``response_received``, the raw archive), every callback error
(``spider_error``) and every item a pipeline dropped (``item_dropped``), each a problem the gate
weighs. The history is opened, migrated and its write lock tried when the storage is created, as
the crawl starts: a history that cannot be written is a ``HistoryError`` and no request is sent.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from weakref import WeakKeyDictionary
from typing import IO, Any
from urllib.parse import unquote, urlparse

from scrapy import signals

from orstats_crawler import signals as orstats_signals
from orstats_crawler.exporters import read_items
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.publish.crawl import crawl_info, log_published, publish_crawl
from orstats_crawler.publish.crawl_items import CrawlItems
from orstats_crawler.items import ChartWeek, LeaderboardRow, ModelActivity, SourceProblem
from orstats_crawler.raw_responses import ArchivedResponse, archived
from orstats_crawler.sources import SPIDER
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.rankings import CHART, LEADERBOARD

SCHEME = "history"
# The histories each running crawler has already opened for writing: Scrapy builds a feed's storage
# once to learn its scheme is supported and again for the feed itself, and proving the history once,
# at the first, is enough.
_proven: WeakKeyDictionary[Any, set[Path]] = WeakKeyDictionary()


def history_feed_uri(db_path: str | Path) -> str:
    return f"{SCHEME}://" + Path(db_path).expanduser().resolve().as_posix()


class HistoryFeedStorage:
    def __init__(self, uri: str, crawler: Any, *, feed_options: dict[str, Any] | None = None):
        self.path = Path(unquote(urlparse(uri).path))
        self.crawler = crawler
        self.archive: list[ArchivedResponse] = []
        self.problems: list[SourceProblem] = []  # callback errors and dropped items, as they happen

    @classmethod
    def from_crawler(cls, crawler: Any, uri: str, *,
                     feed_options: dict[str, Any] | None = None) -> "HistoryFeedStorage":
        storage = cls(uri, crawler, feed_options=feed_options)
        proven = _proven.setdefault(crawler, set())
        if storage.path not in proven:
            open_for_writing(storage.path).close()  # fail now, before any request: HistoryError names the file
            proven.add(storage.path)
        crawler.signals.connect(storage.response_received, signal=signals.response_received)
        crawler.signals.connect(storage.spider_error, signal=signals.spider_error)
        crawler.signals.connect(storage.item_dropped, signal=signals.item_dropped)
        return storage

    # --- what the history learns from Scrapy's signals --------------------------------------------

    def response_received(self, response: Any, request: Any, spider: Any = None) -> None:
        self.archive.append(archived(response, request))

    def spider_error(self, failure: Any, response: Any, spider: Any = None) -> None:
        self.problems.append(SourceProblem(
            source=SPIDER, url=response.url, field=None,
            message=f"callback raised {failure.type.__name__}: {failure.getErrorMessage()}",
            permaslug=response.request.cb_kwargs.get("permaslug") if response.request else None,
            variant=response.request.cb_kwargs.get("variant") if response.request else None,
            status=response.status))

    def item_dropped(self, item: Any, response: Any, exception: Exception, spider: Any = None) -> None:
        self.problems.append(SourceProblem(
            source={LeaderboardRow: LEADERBOARD, ModelActivity: ACTIVITY, ChartWeek: CHART}.get(
                type(item), type(item).__name__),
            url=getattr(item, "source_url", "") or "", field=None,
            message=f"dropped by a pipeline: {exception}",
            permaslug=getattr(item, "permaslug", None), variant=getattr(item, "variant", None)))

    # --- the feed storage -------------------------------------------------------------------------

    def open(self, spider: Any) -> IO[bytes]:
        folder = self.crawler.settings.get("FEED_TEMPDIR") or None
        return tempfile.NamedTemporaryFile(prefix="orstats-crawl-", suffix=".sqlite", dir=folder)

    def store(self, file: IO[bytes]) -> None:
        try:
            verdict = self._merge(Path(file.name))
        finally:
            file.close()
        self.crawler.signals.send_catch_log(signal=orstats_signals.crawl_verdict, verdict=verdict)

    def _merge(self, crawl_file: Path) -> orstats_signals.StoredVerdict:
        """The crawl file's items, with the problems seen through the signals, through the publish path."""
        items = CrawlItems()
        for item in read_items(crawl_file):
            items.add(item)
        items.problems.extend(self.problems)
        info = crawl_info(self.crawler)
        published = publish_crawl(self.path, items, info, self.archive, self.crawler.settings, self.crawler.stats,
                                  finish_reason=self.crawler.stats.get_value("finish_reason"))
        log_published(self.path, info, published)
        summary = published.summary
        return orstats_signals.StoredVerdict(
            crawl_id=info.id, status=published.status, history=str(self.path),
            week_start=summary.week_start.isoformat() if summary.week_start else None,
            week_end=summary.week_end.isoformat() if summary.week_end else None,
            forced=info.forced, checks=published.verdict.checks)
