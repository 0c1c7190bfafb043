"""Scrapy extensions of the project.

``ReportExtension`` renders the markdown report once the feeds are closed (``feed_exporter_closed``:
by then the history feed has written the crawl and its verdict). It renders only a published crawl:
a rejected one leaves the report folder exactly as it was, so readers keep the last good week.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from orstats_crawler.exporters import STATUS_STAT
from orstats_crawler.history.store import PUBLISHED
from orstats_crawler.report.data import method
from orstats_crawler.report.render import write_reports

logger = logging.getLogger(__name__)


class ReportExtension:
    def __init__(self, crawler: Any, db_path: str, report_dir: str, method_key: str, table_rows: int):
        self.crawler = crawler
        # Resolved now: a crawl run by Scrapyd has its own working directory.
        self.db_path = Path(db_path).expanduser().resolve()
        self.report_dir = Path(report_dir).expanduser().resolve()
        self.method_key = method_key
        self.table_rows = table_rows

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ReportExtension":
        settings = crawler.settings
        if not settings.get("ORSTATS_DB") or not settings.get("ORSTATS_REPORT_DIR"):
            raise NotConfigured("no history (ORSTATS_DB) or no report folder (ORSTATS_REPORT_DIR)")
        method_key = settings.get("ORSTATS_REVENUE_METHOD", "list")
        method(method_key)  # a misspelt method fails at start-up, not after the crawl
        extension = cls(crawler, settings.get("ORSTATS_DB"), settings.get("ORSTATS_REPORT_DIR"), method_key,
                        settings.getint("ORSTATS_REPORT_TABLE_ROWS", 50))
        crawler.signals.connect(extension.feed_exporter_closed, signal=signals.feed_exporter_closed)
        return extension

    def feed_exporter_closed(self) -> None:
        status = self.crawler.stats.get_value(STATUS_STAT)
        if status != PUBLISHED:
            logger.warning("report not rendered: the crawl's status is %s (%s); %s is unchanged",
                           status or "unknown", STATUS_STAT, self.report_dir)
            return
        rendered = write_reports(self.db_path, self.report_dir, self.method_key, self.table_rows)
        if rendered is None:
            logger.warning("report not rendered: %s has no published week", self.db_path)
            return
        self.crawler.stats.set_value("orstats/report/path", str(rendered.readme))
        logger.info("report written to %s (week %s..%s, %d weekly pages in %s)", rendered.readme,
                    rendered.latest.week.week_start, rendered.latest.week.week_end, len(rendered.weekly),
                    rendered.readme.parent / "weekly")
