"""``SnapshotReplayMiddleware``: with ``ORSTATS_SNAPSHOT`` (`-a snapshot=PATH`) every request of the
crawl is answered from that snapshot folder, a URL missing from it as 404, with no network at all.
A snapshot that cannot be read is a ``SnapshotError`` as the crawl starts: no request is sent.
"""

from __future__ import annotations

import logging
from email.utils import format_datetime
from typing import Any

from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from orstats_crawler.snapshots.reader import Snapshot

logger = logging.getLogger(__name__)


class SnapshotReplayMiddleware:
    def __init__(self, crawler: Any, snapshot: Snapshot):
        self.crawler = crawler
        self.snapshot = snapshot
        captured = snapshot.captured
        self.date = format_datetime(captured, usegmt=True) if captured else None  # every answer's Date

    @classmethod
    def from_crawler(cls, crawler: Any) -> "SnapshotReplayMiddleware":
        folder = crawler.settings.get("ORSTATS_SNAPSHOT")
        if not folder:
            # Off is the usual case, not a warning: a NotConfigured with a message is logged as one.
            logger.debug("no snapshot to replay (ORSTATS_SNAPSHOT, -a snapshot=PATH): off")
            raise NotConfigured
        snapshot = Snapshot(folder)  # SnapshotError names the folder and why
        logger.info("replaying snapshot %s (%d URLs), no network", folder, len(snapshot.entries))
        return cls(crawler, snapshot)

    def process_request(self, request: Any) -> Response:
        snapshot = self.snapshot
        entry = snapshot.lookup(request.url)
        stats = self.crawler.stats
        headers = Headers({"Date": self.date} if self.date else {})
        if entry is None:
            stats.inc_value("orstats/snapshot/missing")
            return Response(request.url, status=404, headers=headers, body=b"", request=request)
        stats.inc_value("orstats/snapshot/replayed")
        headers["Content-Type"] = entry.content_type
        body = snapshot.body(entry)
        # Headers, not a dict: Scrapy picks the class by the Content-Type it finds there (as for a
        # network answer), instead of guessing from a scan of the whole body.
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return cls(request.url, status=entry.status, headers=headers, body=body, request=request)
