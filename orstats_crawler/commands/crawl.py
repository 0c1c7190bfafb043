"""`scrapy crawl`, carrying the crawl's verdict out as the process exit code.

Scrapy's own `crawl` exits 0 whatever happened inside; cron, Scrapyd monitors and CI need to know
whether the week was published. The project's COMMANDS_MODULE puts this command in its place:

    0  published (flags or `-a force=1` included: see crawls.checks and crawls.forced)
    1  the crawl failed: it could not start, or ended without a stored verdict
    2  usage error (Scrapy's own code for a bad command line)
    3  rejected by the quality gate: data kept, the published week and the report left as they were

With the history feed switched off (`-s ORSTATS_DB=`) there is no gate: 0 when the spider
finished, 1 when it was closed early.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from orstats_crawler.exporters import ID_STAT, STATUS_STAT
from orstats_crawler.history.store import PUBLISHED, REJECTED

logger = logging.getLogger(__name__)

EXIT_PUBLISHED, EXIT_ERROR, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


def exit_code(stats: dict[str, Any], history_enabled: bool, bootstrap_failed: bool) -> tuple[int, str]:
    """The exit code of a finished crawl and why, from its stats."""
    if bootstrap_failed:
        return EXIT_ERROR, "the crawl could not start"
    status = stats.get(STATUS_STAT)
    crawl = stats.get(ID_STAT)
    if status == PUBLISHED:
        return EXIT_PUBLISHED, f"crawl {crawl} published"
    if status == REJECTED:
        return EXIT_REJECTED, f"crawl {crawl} rejected by the quality gate (see crawls.checks)"
    reason = stats.get("finish_reason")
    if not history_enabled:
        if reason == "finished":
            return EXIT_PUBLISHED, "crawl finished (no history feed, no quality gate)"
        return EXIT_ERROR, f"crawl closed early ({reason})"
    return EXIT_ERROR, f"no verdict was stored (finish reason: {reason}); see the errors above"


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a spider; the exit code says whether its week was published (0), rejected (3) or failed (1)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider: scrapy crawl rankings")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        self.exitcode, why = exit_code(crawler.stats.get_stats() if crawler.stats else {},
                                       history_enabled=bool(crawler.settings.get("ORSTATS_DB")),
                                       bootstrap_failed=self.crawler_process.bootstrap_failed)
        (logger.info if self.exitcode == EXIT_PUBLISHED else logger.error)("exit code %d: %s", self.exitcode, why)
