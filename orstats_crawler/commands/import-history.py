"""`scrapy import-history PATH...`: load the earlier project's weekly JSON snapshots into the history.

The command line only (Scrapy names a command after its module, hence the dash); the import is
``publish/importer.py``. Exit code 0 when every file was imported (or was already), 1 when a file
could not be read or did not match its own total, or when the history could not be opened or
written (one line names the file; the files before it stay imported, one transaction each), 4 when
the files were imported but the report could not be written.

Like a crawl, an import then brings the report up to date (the pages whose inputs changed), in the
folder a crawl into the same history writes (report/folder.py); `-s ORSTATS_REPORT_DIR=` skips it.

    scrapy import-history ../shared/anchor-history            # every *.json in the folder
    scrapy import-history 2026-02-16.json --db data/history.db
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import date
from typing import Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from orstats_crawler.commands import add_history_option, check_settings, history_path
from orstats_crawler.commands.crawl import EXIT_REPORT_FAILED
from orstats_crawler.history.connection import HistoryError, open_for_writing
from orstats_crawler.publish.importer import ImportResult, import_path, rebuild_series_after, snapshot_paths
from orstats_crawler.report.folder import ReportSettings
from orstats_crawler.report.render import ReportError
from orstats_crawler.sources import SourceError


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False  # nothing is crawled

    def syntax(self) -> str:
        return "[options] PATH..."

    def short_desc(self) -> str:
        return "Import the earlier project's weekly JSON snapshots (files or folders) into the history"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        add_history_option(parser)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("give the snapshot files or folders to import")
        db_path = history_path(opts, self.settings)
        check_settings(self.settings, ["ORSTATS_IMPORT_BACKFILL_PRICES_ON"])
        backfill_day = date.fromisoformat(self.settings.get("ORSTATS_IMPORT_BACKFILL_PRICES_ON"))
        try:
            db = open_for_writing(db_path)
        except HistoryError as error:
            print(f"scrapy import-history: {error}", file=sys.stderr)
            self.exitcode = 1
            return
        results: list[ImportResult | SourceError] = []
        try:
            for path in snapshot_paths(args):  # one file at a time: a write error names the file
                result = import_path(db, path, backfill_day, fold_series=False,
                                     platform_fee=self.settings.getfloat("ORSTATS_PLATFORM_FEE"))
                print_result(result)
                results.append(result)
        except sqlite3.Error as error:  # a full disk, a file changed under us: earlier files are kept
            series = self._rebuild_series(db, results)  # the files before it enter the series
            print(f"scrapy import-history: history file {db_path}: cannot store {path} "
                  f"({type(error).__name__}: {error}); the files before it are imported"
                  + ("" if series is None else f", {series}"), file=sys.stderr)
            self.exitcode = 1
        else:
            failed = [r for r in results if not isinstance(r, ImportResult) or r.status == "rejected"]
            self.exitcode = 1 if failed or not results else 0
            series = self._rebuild_series(db, results)
            if series is not None:
                print(f"scrapy import-history: history file {db_path}: {series}", file=sys.stderr)
                self.exitcode = 1
        finally:
            db.close()
        check_settings(self.settings, ReportSettings.settings_read())
        report = ReportSettings.from_settings(self.settings, db_path)
        if report.folder is not None and not self.render(report, db_path) and not self.exitcode:
            self.exitcode = EXIT_REPORT_FAILED

    @staticmethod
    def render(report: ReportSettings, db_path: str) -> bool:
        """The report brought up to date as after a crawl; False when it could not be written."""
        try:
            rendered = report.write(db_path, everything=False)
        except (HistoryError, ReportError) as error:
            print(f"scrapy import-history: imported, but the report was not written: {error}; "
                  "`scrapy report` writes it", file=sys.stderr)
            return False
        if rendered is not None:
            week = rendered.latest.week
            print(f"report written to {rendered.readme} (week {week.week_start}..{week.week_end}, "
                  f"{len(rendered.written)} files rewritten)")
        return True

    @staticmethod
    def _rebuild_series(db: Any, results: list[ImportResult | SourceError]) -> str | None:
        """Rebuild the Monday-week series once, for every file imported; what went wrong, if anything
        (the files stay imported: importing them again rebuilds it)."""
        try:
            rebuild_series_after(db, results)
        except sqlite3.Error as error:
            return (f"the Monday-week series could not be rebuilt ({type(error).__name__}: {error}); importing "
                    "the files again rebuilds it")
        return None


def print_result(result: ImportResult | SourceError) -> None:
    if isinstance(result, ImportResult):
        print(f"{result.name}: {result.crawl_id} week {result.week_start}..{result.week_end} "
              f"{result.status}, {result.models} model-variants ({result.unknown_split} split unknown); "
              f"{result.check['result']}: {result.check['message']}")
    else:
        print(f"scrapy import-history: {result}", file=sys.stderr)
