"""`scrapy report`: re-render the markdown report from the history, without crawling.

For a template change, an import of older weeks or another headline method:

    scrapy report                                  # ORSTATS_DB -> ORSTATS_REPORT_DIR
    scrapy report --db data/history.db --output reports --method seed
    scrapy report -s ORSTATS_REVENUE_METHOD=seed
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from orstats_crawler.commands import add_history_option, check_settings, history_path
from orstats_crawler.history.connection import HistoryError
from orstats_crawler.report import format as fmt
from orstats_crawler.report.data import METHODS
from orstats_crawler.report.folder import ReportSettings
from orstats_crawler.report.render import ReportError


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False  # nothing is crawled

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Render the markdown report from the SQLite history, without crawling"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        add_history_option(parser)
        parser.add_argument("--output", metavar="DIR",
                            help="report folder (default: the ORSTATS_REPORT_DIR setting, else `reports` of the "
                                 "project's own history or `reports` beside another history file)")
        parser.add_argument("--method", choices=sorted(METHODS),
                            help="headline revenue formula (default: the ORSTATS_REVENUE_METHOD setting)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError(f"unexpected arguments: {' '.join(args)}")
        db_path = history_path(opts, self.settings)
        check_settings(self.settings, ReportSettings.settings_read(opts.method))
        report = ReportSettings.from_settings(self.settings, db_path, folder=opts.output, method=opts.method)
        if report.folder is None:
            raise UsageError("no report folder: set ORSTATS_REPORT_DIR or pass --output", print_help=False)
        try:
            rendered = report.write(db_path)
        except (HistoryError, ReportError) as error:
            print(f"scrapy report: {error}", file=sys.stderr)
            self.exitcode = 1
            return
        if rendered is None:
            print(f"scrapy report: {db_path} has no published week: nothing to render", file=sys.stderr)
            self.exitcode = 1
            return
        week = rendered.latest.week
        print(f"report written to {rendered.readme} (week {week.week_start}..{week.week_end}, "
              f"headline {report.method}: {fmt.usd(week.revenue())}); {len(rendered.weekly)} weekly pages in "
              f"{rendered.readme.parent / 'weekly'}")
