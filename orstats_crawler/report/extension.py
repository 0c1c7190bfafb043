"""``ReportExtension``: renders the markdown report once a crawl is stored and published.

It learns the verdict from the history feed's ``crawl_verdict`` signal and renders when the feeds
are closed (``feed_exporter_closed``), only for a published crawl: a rejected one leaves the report
folder exactly as it was, so readers keep the last good week.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from orstats_crawler import signals as orstats_signals
from orstats_crawler.history.writer import PUBLISHED
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
        self.verdict: orstats_signals.StoredVerdict | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ReportExtension":
        settings = crawler.settings
        if not settings.get("ORSTATS_DB") or not settings.get("ORSTATS_REPORT_DIR"):
            raise NotConfigured("no history (ORSTATS_DB) or no report folder (ORSTATS_REPORT_DIR)")
        method_key = settings.get("ORSTATS_REVENUE_METHOD")
        method(method_key)  # a misspelt method fails at start-up, not after the crawl
        extension = cls(crawler, settings.get("ORSTATS_DB"), settings.get("ORSTATS_REPORT_DIR"), method_key,
                        settings.getint("ORSTATS_REPORT_TABLE_ROWS"))
        crawler.signals.connect(extension.crawl_verdict, signal=orstats_signals.crawl_verdict)
        crawler.signals.connect(extension.feed_exporter_closed, signal=signals.feed_exporter_closed)
        return extension

    def crawl_verdict(self, verdict: orstats_signals.StoredVerdict) -> None:
        self.verdict = verdict

    def feed_exporter_closed(self) -> None:
        verdict = self.verdict
        if verdict is None or verdict.status != PUBLISHED:
            logger.warning("report not rendered: %s; %s is unchanged",
                           f"crawl {verdict.crawl_id} is {verdict.status}" if verdict else "no verdict was stored",
                           self.report_dir)
            return
        rendered = write_reports(self.db_path, self.report_dir, self.method_key, self.table_rows)
        if rendered is None:
            logger.warning("report not rendered: %s has no published week", self.db_path)
            return
        logger.info("report written to %s (week %s..%s, %d weekly pages in %s)", rendered.readme,
                    rendered.latest.week.week_start, rendered.latest.week.week_end, len(rendered.weekly),
                    rendered.readme.parent / "weekly")
        self.crawler.signals.send_catch_log(signal=orstats_signals.report_rendered, crawl_id=verdict.crawl_id,
                                            readme=rendered.readme, error=None)
