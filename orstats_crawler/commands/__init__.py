"""The project's Scrapy commands (COMMANDS_MODULE): `crawl` (exit code = verdict), `report`,
`import-history`. Scrapy registers each ScrapyCommand subclass under its module's name, so what the
commands share lives here as functions, never as a base class (it would become a command itself).
"""

from __future__ import annotations

import argparse
from typing import Any

from scrapy.exceptions import UsageError

from orstats_crawler import arguments


def add_history_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="history file (default: the ORSTATS_DB setting)")


def history_path(opts: argparse.Namespace, settings: Any) -> str:
    """`--db`, else the ORSTATS_DB setting; neither is a usage error."""
    path = opts.db or settings.get("ORSTATS_DB")
    if not path:
        raise UsageError("no history file: set ORSTATS_DB or pass --db", print_help=False)
    return path


def check_settings(settings: Any, names: list[str]) -> None:
    """The settings a command reads, checked as the crawl checks them: a bad one is a usage error (exit 2)."""
    try:
        arguments.check_settings(settings, names)
    except arguments.UsageError as error:
        raise UsageError(str(error), print_help=False) from None
