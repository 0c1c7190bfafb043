"""Render the markdown report from the history: ``<dir>/README.md`` (the latest published week) and
``<dir>/weekly/<week_end>.md`` (one per published week, each with the series up to that week).

A page ends with a line naming the digest of its inputs (``HistoryIndex.inputs``: the week's crawl
and its neighbour's, the series it charts, this code and its settings) and of its own text above the
line. ``write_reports(everything=False)``, what a crawl runs, renders only the pages whose line does
not match: a week whose figures changed, a page missing, half written or edited by hand. That keeps
a render after a crawl to a few pages however long the history; ``everything=True`` rewrites all.

Templates are package data (``orstats_crawler/templates``), loaded with jinja2's PackageLoader so an
installed egg (Scrapyd) finds them too.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
import re
import threading
from datetime import date
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlite_utils import Database

from orstats_crawler.history.connection import open_read_only
from orstats_crawler.history.formulas import EFFECTIVE_DOUBT
from orstats_crawler.history.monday_series import MEASURED_SHARE, NOMINAL_COVERAGE
from orstats_crawler.report import charts, tables
from orstats_crawler.report import format as fmt
from orstats_crawler.report.data import (AUTHOR_ROWS, PROVIDER_ROWS, HistoryIndex, Method, WeekReport, growth,
                                         headline_week,
                                         week_report)
from orstats_crawler.report.data import method as revenue_method

TEMPLATE = "report.md.j2"
CODE_PACKAGES = ("orstats_crawler.history", "orstats_crawler.report")
# The last line of every page; the digests are hex sha256.
INPUTS_LINE = "<!-- orstats report: inputs {inputs}, text {text} -->\n"
_INPUTS_LINE = re.compile(r"<!-- orstats report: inputs (?P<inputs>[0-9a-f]{64}), text (?P<text>[0-9a-f]{64}) -->\n\Z")


class ReportError(Exception):
    """A report file could not be written; the message names it and says why."""


@dataclass
class Rendered:
    readme: Path
    weekly: list[Path]  # every published week's page
    latest: WeekReport
    written: list[Path] = field(default_factory=list)  # the pages this render wrote (README.md included)


@functools.cache
def environment() -> Environment:
    """One per process: compiling the templates costs more than rendering a page, and a process (a
    crawl's tests, `scrapy report`) renders many; a template changed on disk since is compiled again
    at its next use (auto_reload: a stat per include)."""
    env = Environment(loader=PackageLoader("orstats_crawler", "templates"), autoescape=False,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(usd=fmt.usd, tokens=fmt.tokens, percent=fmt.percent, change=fmt.change,
                       md=fmt.md, count=fmt.count)
    env.globals.update(growth=growth, no_previous=tables.NO_PREVIOUS, measured_share=MEASURED_SHARE,
                       effective_doubt=EFFECTIVE_DOUBT, series_coverage=NOMINAL_COVERAGE)
    return env


def code_digest(env: Environment) -> str:
    """The templates and the modules that compute and lay out the figures (the history's views, the
    report): a new release renders every page again. Read as package resources, so from an egg too."""
    digest = hashlib.sha256()
    for name in sorted(env.list_templates()):
        source, _, _ = env.loader.get_source(env, name)
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
    for package in CODE_PACKAGES:
        for module in sorted(resources.files(package).iterdir(), key=lambda entry: entry.name):
            if module.name.endswith(".py"):
                digest.update(module.name.encode() + b"\0" + module.read_bytes() + b"\0")
    return digest.hexdigest()


def render_week(env: Environment, report: WeekReport, outlier_factor: float) -> str:
    return env.get_template(TEMPLATE).render(
        r=report, week=report.week, headline=report.headline,
        summary=tables.summary(report),
        over_time=charts.revenue_over_time(report.series, (date.fromisoformat(report.week.week_end),
                                                           report.week.revenue()) if report.headline_bar else None),
        series_table=tables.series(report.series),
        by_model=charts.revenue_by_model(report.paid), share=charts.lab_share(report),
        token_types=charts.token_types(report),
        top_table=tables.models(report, report.top, outlier_factor),
        rest_table=tables.models(report, report.rest, outlier_factor),
        outliers=tables.outliers(report.top, outlier_factor),
        unknown=tables.unknown(report),
        author_table=tables.authors(report, AUTHOR_ROWS), labs=charts.lab_lines(report),
        estimates_table=tables.estimates(report), list_vs_effective_table=tables.list_vs_effective(report),
        provider_table=tables.providers(report.providers[:PROVIDER_ROWS]),
        provider_rest_table=tables.providers(report.providers[PROVIDER_ROWS:]),
        by_provider=charts.revenue_by_provider(report),
        # The day the sources were computed on, not the day we rendered: a replay or a re-render
        # of an old week must not claim fresher data.
        updated=report.source_day,
    )


def page(text: str, inputs: str) -> str:
    return text + INPUTS_LINE.format(inputs=inputs, text=hashlib.sha256(text.encode()).hexdigest())


def up_to_date(path: Path, inputs: str) -> bool:
    """The page on disk was rendered from these inputs and is whole and unedited."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    line = content.rfind("<!-- orstats report: ")
    found = _INPUTS_LINE.match(content, line) if line >= 0 else None
    return found is not None and found["inputs"] == inputs \
        and found["text"] == hashlib.sha256(content[:line].encode()).hexdigest()


def write_reports(db_path: str | Path, report_dir: str | Path, method: str, table_rows: int, *,
                  outlier_factor: float, everything: bool = True) -> Rendered | None:
    """Render the published weeks of the history (every page, or with ``everything=False`` those not
    up to date); None when it has none (nothing is written)."""
    headline = revenue_method(method)
    env = environment()
    salt = (code_digest(env), headline.key, str(table_rows), str(outlier_factor))
    folder = Path(report_dir)
    db = open_read_only(db_path)
    try:
        index = HistoryIndex.read(db)
        if not index.weeks:
            return None
        pages = [(week, folder / "weekly" / f"{week['week_end']}.md", index.inputs(week, *salt))
                 for week in index.weeks]
        # The front page: the latest week with a known estimate (an all-unknown week only has its own page).
        lead = headline_week(db)
        latest_week, _, latest_inputs = next(
            (candidate for candidate in pages if (candidate[0]["week_start"], candidate[0]["week_end"]) == lead),
            pages[-1])
        todo = [(week, path, inputs) for week, path, inputs in pages
                if everything or not up_to_date(path, inputs)]
        readme = folder / "README.md"
        if everything or not up_to_date(readme, latest_inputs):
            todo.append((latest_week, readme, latest_inputs))
        if _processes(len(todo)) > 1:
            written, latest = _render_in_processes(db_path, todo, headline, table_rows, outlier_factor), None
        else:
            written, latest = _render(db, env, index, todo, headline, table_rows, outlier_factor, latest_week)
        if latest is None:  # nothing to write: the latest page is still read for the caller
            latest = week_report(db, index, latest_week, headline, table_rows)
    finally:
        db.close()
    return Rendered(readme, [path for _, path, _ in pages], latest, written)


def _render(db: Database, env: Environment, index: HistoryIndex, todo: list[tuple[dict[str, Any], Path, str]],
            headline: Method, table_rows: int, outlier_factor: float,
            latest_week: dict[str, Any]) -> tuple[list[Path], WeekReport | None]:
    """Write the pages of ``todo`` (a week rendered once however many of its pages are due)."""
    written, texts = [], {}
    latest = None
    providers_read: dict[tuple, list[dict]] = {}  # the pages go week by week: each week's is read once
    for week, path, inputs in todo:
        key = week["week_end"], week["week_start"]
        if key not in texts:
            report = week_report(db, index, week, headline, table_rows, providers_read)
            texts[key] = page(render_week(env, report, outlier_factor), inputs)
            if week is latest_week:
                latest = report
        written.append(_write(path, texts[key]))
    return written, latest


# A render of many pages (`scrapy report`) shares them out among processes, each reading and rendering
# its own run of weeks: the pages are independent, and each costs tens of milliseconds of Python.
# Below this many pages a process, started afresh, would cost more than it saves.
PAGES_PER_PROCESS = 100


def _processes(pages: int) -> int:
    return max(1, min(os.cpu_count() or 1, pages // PAGES_PER_PROCESS))


def _render_in_processes(db_path: str | Path, todo: list[tuple[dict[str, Any], Path, str]], headline: Method,
                         table_rows: int, outlier_factor: float) -> list[Path]:
    """``_render`` of ``todo`` in runs of consecutive weeks (each week's providers are the next page's
    week before), one process each (spawned: a fork would copy the caller's open connection)."""
    workers = _processes(len(todo))
    runs = [todo[len(todo) * i // workers:len(todo) * (i + 1) // workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = pool.map(_render_run, [(str(db_path), run, headline.key, table_rows, outlier_factor) for run in runs])
        return [path for part in parts for path in part]


def _render_run(job: tuple[str, list[tuple[dict[str, Any], Path, str]], str, int, float]) -> list[Path]:
    db_path, todo, method, table_rows, outlier_factor = job
    db = open_read_only(db_path)
    try:
        written, _ = _render(db, environment(), HistoryIndex.read(db), todo, revenue_method(method), table_rows,
                             outlier_factor, latest_week={})
        return written
    finally:
        db.close()


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
