"""``ReportExtension``: renders the markdown report once a crawl is stored, as part of publishing.

It learns the verdict from the history feed's ``crawl_verdict`` signal and renders when the feeds
are closed (``feed_exporter_closed``). A published crawl brings every published week's page up to
date, rendering only those whose inputs or text changed (render.py): the weeks the crawl touched,
and whatever an earlier run left in the folder (a stale, half-written or hand-edited page). A
rejected crawl leaves the folder exactly as it was, so readers keep the last good week, unless the
history says the last rendering failed: then the folder is behind the published weeks and the
rejected crawl brings it up to date.

What became of the report is recorded on the crawl's row (``crawls.report_status``: written, failed,
not_rendered; ``report_message``) and sent as ``report_rendered`` (``error`` set when writing
failed): `scrapy crawl` exits 4 for a published week whose report could not be written.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from orstats_crawler import signals as orstats_signals
from orstats_crawler.history.connection import HistoryError, immediate, open_for_writing, open_read_only
from orstats_crawler.history.writer import (PUBLISHED, REPORT_FAILED, REPORT_NOT_RENDERED, REPORT_WRITTEN,
                                            last_report_status, record_report)
from orstats_crawler.report.folder import ReportSettings
from orstats_crawler.report.render import ReportError

logger = logging.getLogger(__name__)


class ReportExtension:
    def __init__(self, crawler: Any, db_path: str, report: ReportSettings):
        self.crawler = crawler
        # Resolved now: a crawl run by Scrapyd has its own working directory.
        self.db_path = Path(db_path).expanduser().resolve()
        self.report = replace(report, folder=report.folder.expanduser().resolve())
        self.verdict: orstats_signals.StoredVerdict | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ReportExtension":
        settings = crawler.settings
        db_path = settings.get("ORSTATS_DB")
        # Its settings were checked with the spider's arguments (arguments.check_settings).
        report = ReportSettings.from_settings(settings, db_path) if db_path else None
        if report is None or report.folder is None:
            # Off is the usual case, not a warning: a NotConfigured with a message is logged as one.
            logger.debug("no history (ORSTATS_DB) or no report folder (ORSTATS_REPORT_DIR): no report")
            raise NotConfigured
        extension = cls(crawler, db_path, report)
        crawler.signals.connect(extension.crawl_verdict, signal=orstats_signals.crawl_verdict)
        crawler.signals.connect(extension.feed_exporter_closed, signal=signals.feed_exporter_closed)
        return extension

    def crawl_verdict(self, verdict: orstats_signals.StoredVerdict) -> None:
        self.verdict = verdict

    def feed_exporter_closed(self) -> None:
        verdict = self.verdict
        if verdict is None:
            logger.warning("report not rendered: no verdict was stored; %s is unchanged", self.report.folder)
            return
        if verdict.status != PUBLISHED and not self._behind():
            why = f"crawl {verdict.crawl_id} is {verdict.status}; {self.report.folder} is unchanged"
            logger.warning("report not rendered: %s", why)
            self._record(verdict.crawl_id, REPORT_NOT_RENDERED, why)
            return
        readme = self.report.folder / "README.md"
        try:
            rendered = self.report.write(self.db_path, everything=False)
        except (ReportError, HistoryError) as error:
            logger.error("report not written: %s; the week is stored, the next crawl or `scrapy report` "
                         "writes the report", error)
            self._record(verdict.crawl_id, REPORT_FAILED, str(error))
            self._send(verdict.crawl_id, readme, str(error))
            return
        if rendered is None:  # a rejected crawl in a history without a published week
            why = f"{self.db_path} has no published week; {self.report.folder} is unchanged"
            logger.warning("report not rendered: %s", why)
            self._record(verdict.crawl_id, REPORT_NOT_RENDERED, why)
            return
        week = rendered.latest.week
        what = (f"report written to {rendered.readme} (week {week.week_start}..{week.week_end}, "
                f"{len(rendered.weekly)} weekly pages in {rendered.readme.parent / 'weekly'}, "
                f"{len(rendered.written)} files rewritten)")
        if verdict.status != PUBLISHED:
            what += ": brought up to date after an earlier crawl failed to write it"
        logger.info("%s", what)
        self._record(verdict.crawl_id, REPORT_WRITTEN, what)
        self._send(verdict.crawl_id, rendered.readme, None)

    def _behind(self) -> bool:
        """Whether the latest rendering recorded in the history failed (the folder may be stale)."""
        try:
            db = open_read_only(self.db_path)
        except HistoryError as error:
            logger.warning("report state not read: %s", error)
            return False
        try:
            return last_report_status(db) == REPORT_FAILED
        finally:
            db.close()

    def _record(self, crawl_id: str, status: str, message: str) -> None:
        try:
            db = open_for_writing(self.db_path)
        except HistoryError as error:
            logger.error("report state %s of crawl %s not recorded: %s", status, crawl_id, error)
            return
        try:
            with immediate(db):
                record_report(db, crawl_id, status, message)
        except sqlite3.Error as error:  # a full disk: the crawl and its verdict are stored all the same
            logger.error("report state %s of crawl %s not recorded in %s: %s", status, crawl_id, self.db_path, error)
        finally:
            db.close()

    def _send(self, crawl_id: str, readme: Path, error: str | None) -> None:
        self.crawler.signals.send_catch_log(signal=orstats_signals.report_rendered, crawl_id=crawl_id,
                                            readme=readme, error=error)
