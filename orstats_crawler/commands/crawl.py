"""`scrapy crawl`, carrying the crawl's verdict out as the process exit code.

Scrapy's own `crawl` exits 0 whatever happened inside; cron, Scrapyd monitors and CI need to know
whether the week was published. The project's COMMANDS_MODULE puts this command in its place; the
codes are ``EXIT_CODES`` (also in `scrapy crawl SPIDER -h`, with the spider's arguments).

The verdict arrives by the history feed's ``crawl_verdict`` signal, the report's fate by the report
extension's ``report_rendered``. With the history feed switched
off (`-s ORSTATS_DB=`) there is no gate: 0 when the spider finished, 1 when it was closed early.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

from scrapy import signals
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.commands import ScrapyHelpFormatter
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader
from twisted.internet.defer import Deferred

from orstats_crawler import signals as orstats_signals
from orstats_crawler.arguments import UsageError as ArgumentError
from orstats_crawler.arguments import describe as describe_arguments
from orstats_crawler.history.writer import PUBLISHED, REJECTED
from orstats_crawler.middlewares import reachability

logger = logging.getLogger(__name__)

EXIT_PUBLISHED, EXIT_ERROR, EXIT_USAGE, EXIT_REJECTED, EXIT_REPORT_FAILED = 0, 1, 2, 3, 4
EXIT_CODES = {
    EXIT_PUBLISHED: "published, its report written (flags and -a force=1 included: see crawls.checks)",
    EXIT_ERROR: "the crawl failed: it could not start, could not reach the site, or ended without a stored verdict",
    EXIT_USAGE: "usage error: a bad command line, spider argument or setting (one line says which)",
    EXIT_REJECTED: "rejected by the quality gate: data kept, the published week and the report left as they were",
    EXIT_REPORT_FAILED: "published, but the report could not be written (one line says which file and why); "
                        "the next crawl or `scrapy report` writes it",
}


@dataclass
class Outcome:
    """What the crawl told the command: its stored verdict, or why it could not start."""

    verdict: orstats_signals.StoredVerdict | None = None
    start_error: BaseException | None = None
    finish_reason: str | None = None
    report_error: str | None = None
    unreachable: str | None = None  # "HOST (ERROR)" when the site could not be reached

    def crawl_verdict(self, verdict: orstats_signals.StoredVerdict) -> None:
        self.verdict = verdict

    def report_rendered(self, crawl_id: str, readme: Any, error: str | None) -> None:
        self.report_error = error

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.finish_reason = reason

    def site_unreachable(self, where: str) -> None:
        self.unreachable = where

    def watch(self, started: Any) -> None:
        """Keep the error of a crawl that could not start (a Deferred or an asyncio task, by reactor)."""
        if isinstance(started, Deferred):
            started.addErrback(self._failed)
        else:
            started.add_done_callback(self._done)

    def _failed(self, failure: Any) -> None:
        self.start_error = failure.value

    def _done(self, task: Any) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.start_error = task.exception()


def exit_code(outcome: Outcome, history_enabled: bool) -> tuple[int, str]:
    """The exit code of a finished crawl and why."""
    if outcome.start_error is not None:
        code = EXIT_USAGE if isinstance(outcome.start_error, ArgumentError) else EXIT_ERROR
        return code, f"the crawl could not start: {outcome.start_error}"
    if outcome.finish_reason == reachability.UNREACHABLE:  # whatever the gate made of the nothing it got
        return EXIT_ERROR, f"could not reach {outcome.unreachable}"
    verdict = outcome.verdict
    if verdict is not None and verdict.status == PUBLISHED and outcome.report_error is not None:
        return EXIT_REPORT_FAILED, (f"crawl {verdict.crawl_id} published, but its report was not written: "
                                    f"{outcome.report_error}; the next crawl or `scrapy report` writes it")
    if verdict is not None and verdict.status == PUBLISHED:
        return EXIT_PUBLISHED, f"crawl {verdict.crawl_id} published"
    if verdict is not None and verdict.status == REJECTED:
        return EXIT_REJECTED, f"crawl {verdict.crawl_id} rejected by the quality gate (see crawls.checks)"
    reason = outcome.finish_reason
    if not history_enabled:
        if reason == "finished":
            return EXIT_PUBLISHED, "crawl finished (no history feed, no quality gate)"
        return EXIT_ERROR, f"crawl closed early ({reason})"
    return EXIT_ERROR, f"no verdict was stored (finish reason: {reason}); see the errors above"


class HelpWithEpilog(ScrapyHelpFormatter):
    """Scrapy's help layout, with the epilog's lines kept as written (argparse would rewrap them)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return ("Run a spider; the exit code says whether its week was published (0), rejected (3), "
                "published without its report (4) or failed (1)")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """Scrapy's options, then (in `-h`) each spider's arguments and the exit codes, as written:
        the spiders are loaded for the help only when it is asked for, not for every crawl."""
        super().add_options(parser)
        parser.formatter_class = HelpWithEpilog
        format_help = parser.format_help

        def format_help_with_epilog() -> str:
            parser.epilog = "\n".join(self._spider_help() + ["", "Exit codes:"]
                                      + [f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()])
            return format_help()

        parser.format_help = format_help_with_epilog  # type: ignore[method-assign]

    def _spider_help(self) -> list[str]:
        loader = get_spider_loader(self.settings)
        lines = []
        for name in loader.list():
            accepted = getattr(loader.load(name), "accepted_arguments", {})
            lines += [f"Arguments of spider {name} (-a NAME=VALUE; any other is a usage error):",
                      *describe_arguments(accepted), ""]
        return lines[:-1]

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider: scrapy crawl rankings")
        assert self.crawler_process
        try:
            crawler = self._create_crawler(args[0])
        except KeyError:  # Scrapy's spider loader: a traceback otherwise
            self.exitcode = EXIT_USAGE
            spiders = ", ".join(get_spider_loader(self.crawler_process.settings).list())
            logger.error("exit code %d: no spider named %r; the spiders: %s", EXIT_USAGE, args[0], spiders)
            return
        outcome = Outcome()
        crawler.signals.connect(outcome.crawl_verdict, signal=orstats_signals.crawl_verdict)
        crawler.signals.connect(outcome.report_rendered, signal=orstats_signals.report_rendered)
        crawler.signals.connect(outcome.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(outcome.site_unreachable, signal=orstats_signals.site_unreachable)
        outcome.watch(self.crawler_process.crawl(crawler, **opts.spargs))
        self.crawler_process.start()
        self.exitcode, why = exit_code(outcome, history_enabled=bool(crawler.settings.get("ORSTATS_DB")))
        (logger.info if self.exitcode == EXIT_PUBLISHED else logger.error)("exit code %d: %s", self.exitcode, why)
