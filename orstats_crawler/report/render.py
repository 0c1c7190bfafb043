"""Render the markdown report from the history: ``<dir>/README.md`` (the latest published week) and
``<dir>/weekly/<week_end>.md`` (one per published week, each with the series up to that week).

Templates are package data (``orstats_crawler/templates``), loaded with jinja2's PackageLoader so an
installed egg (Scrapyd) finds them too.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from orstats_crawler.history.connection import open_read_only
from orstats_crawler.report import charts
from orstats_crawler.report import format as fmt
from orstats_crawler.report.data import NOT_IN_MONDAY, WeekReport, week_reports

TEMPLATE = "report.md.j2"
UNKNOWN_ROWS = 10  # the largest model-variants without a revenue, listed under the table


class ReportError(Exception):
    """A report file could not be written; the message names it and says why."""


@dataclass
class Rendered:
    readme: Path
    weekly: list[Path]
    latest: WeekReport


def environment() -> Environment:
    env = Environment(loader=PackageLoader("orstats_crawler", "templates"), autoescape=False,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(usd=fmt.usd, tokens=fmt.tokens, percent=fmt.percent, change=fmt.change,
                       price=fmt.price, md=fmt.md)
    env.globals.update(ratio=fmt.ratio, model_url=fmt.model_url, not_in_monday=NOT_IN_MONDAY)
    return env


def render_week(env: Environment, report: WeekReport, table_rows: int) -> str:
    return env.get_template(TEMPLATE).render(
        r=report, week=report.week, headline=report.headline, others=report.others,
        series=charts.revenue_over_time(report.series.weeks, report.headline, report.series_others),
        by_model=charts.revenue_by_model(report.known),
        share=charts.revenue_share(report.known),
        token_types=charts.token_types(report.week),
        table=report.known[:table_rows], unknown=report.unknown[:UNKNOWN_ROWS],
        # The day the sources were computed on, not the day we rendered: a replay or a re-render
        # of an old week must not claim fresher data.
        updated=report.source_day,
    )


def write_reports(db_path: str | Path, report_dir: str | Path, method: str = "best",
                  table_rows: int = 50) -> Rendered | None:
    """Render every published week of the history; None when it has none (nothing is written)."""
    db = open_read_only(db_path)
    try:
        reports = week_reports(db, method)
    finally:
        db.close()
    if not reports:
        return None
    env = environment()
    folder = Path(report_dir)
    weekly = []
    for report in reports:
        text = render_week(env, report, table_rows)
        weekly.append(_write(folder / "weekly" / f"{report.week.week_end}.md", text))
    readme = _write(folder / "README.md", text)  # the latest week's page
    return Rendered(readme, weekly, reports[-1])


def _write(path: Path, text: str) -> Path:
    """Replace the file whole: a reader (or a crash) never sees half a report."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8", newline="\n")
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):  # its folder may be what failed
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):  # a full disk's error names no file: say which one
            raise ReportError(f"report file {path}: cannot be written ({_why(error, path, temporary)})") from error
        raise
    return path


def _why(error: OSError, *ours: Path) -> str:
    """The OS's reason, and the path it is about when that is another (a folder in the way)."""
    other = error.filename is not None and Path(error.filename) not in ours
    return f"{error.filename}: {error.strerror}" if other else error.strerror or str(error)
