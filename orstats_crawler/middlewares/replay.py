"""``SnapshotReplayMiddleware``: with ``ORSTATS_SNAPSHOT`` (`-a snapshot=PATH`) every request of the
crawl is answered from that snapshot folder, a URL missing from it as 404, with no network at all.
A snapshot that cannot be read closes the spider before any request is sent.
"""

from __future__ import annotations

import logging
from email.utils import format_datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.responsetypes import responsetypes

from orstats_crawler.snapshots.reader import Snapshot, SnapshotError

logger = logging.getLogger(__name__)

UNAVAILABLE = "snapshot_unavailable"  # the finish reason of a crawl whose snapshot cannot be read


class SnapshotReplayMiddleware:
    def __init__(self, crawler: Any, folder: str):
        self.crawler = crawler
        self.folder = folder
        self.snapshot: Snapshot | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> "SnapshotReplayMiddleware":
        folder = crawler.settings.get("ORSTATS_SNAPSHOT")
        if not folder:
            raise NotConfigured("no snapshot to replay (ORSTATS_SNAPSHOT, -a snapshot=PATH)")
        middleware = cls(crawler, folder)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self, spider: Any) -> None:
        try:
            self.snapshot = Snapshot(self.folder)
        except SnapshotError as error:
            logger.error("%s; no request sent", error)
            raise CloseSpider(UNAVAILABLE) from None
        logger.info("replaying snapshot %s (%d URLs), no network", self.folder, len(self.snapshot.entries))

    def process_request(self, request: Any) -> Response:
        snapshot = self.snapshot
        if snapshot is None:  # never reached: the spider is closed before any request
            raise CloseSpider(UNAVAILABLE)
        entry = snapshot.lookup(request.url)
        stats = self.crawler.stats
        headers = {"Date": format_datetime(snapshot.captured, usegmt=True)} if snapshot.captured else {}
        if entry is None:
            stats.inc_value("orstats/snapshot/missing")
            return Response(request.url, status=404, headers=headers, body=b"", request=request)
        stats.inc_value("orstats/snapshot/replayed")
        headers["Content-Type"] = entry.content_type
        body = snapshot.body(entry)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return cls(request.url, status=entry.status, headers=headers, body=body, request=request)
