"""What the report shows, read from the history into plain objects the templates lay out. No formula
lives here: every figure is a column of a view or table (history/views.py, history/monday_series.py);
this module chooses which column is the headline, which weeks a page charts, and orders rows.

Two kinds of week: a crawl's own week (the leaderboard's trailing 7 days: the Summary, the model
table, the authors) and the Monday weeks of the comparable series (``monday_series``: Revenue Over
Time, each lab's share over time), which end at the last complete Monday week on or before it.

A page is read in two steps so that a render after a crawl touches only the pages whose figures
changed: ``HistoryIndex`` (cheap: the published weeks, the series, what each page depends on) and
``week_report`` (the week's own views, for the pages that are rendered).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, fields
from functools import cached_property
from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from orstats_crawler.history.formulas import FREE
from orstats_crawler.history.monday_weeks import MEASURED
from orstats_crawler.history.monday_series import NOT_ATTRIBUTED
from orstats_crawler.history.views import HEADLINE_WEEK, chart_tokens
from orstats_crawler.history.writer import PUBLISHED
from orstats_crawler.weeks import computed_on


@dataclass(frozen=True)
class Method:
    """A way of turning a week's tokens into money: one revenue column of ``weekly_revenue``."""

    key: str
    column: str
    label: str  # what the figure is, in a few words
    formula: str  # how it is computed, for the methodology


# The headline formulas, by the value of ORSTATS_REVENUE_METHOD. A new one (a column added to
# weekly_revenue and to formulas.REVENUE_COLUMNS) is one more entry here.
METHODS: dict[str, Method] = {
    "best": Method(
        "best", "revenue_best_usd", "best estimate",
        "per model, the first known of: effective prices (prompt × effective input price, weighted to "
        "the week's cached share where the split is measured, + completion × effective output price); list "
        "prices with the measured split; list prices with the cached share imputed from the week's measured "
        "models; free variants 0"),
    "list": Method(
        "list", "revenue_list_usd", "list prices, cached tokens counted once",
        "(prompt - cached) × prompt price + cached × cache-read price + completion × completion price"),
    "seed": Method(
        "seed", "revenue_seed_usd", "the earlier project's formula, cached tokens charged twice",
        "prompt × prompt price + completion × completion price + cached × cache-read price"),
    "effective": Method(
        "effective", "revenue_effective_usd", "effective prices, what the traffic paid",
        "prompt × effective input price + completion × effective output price (OpenRouter's weighted "
        "prices per model: cache reads and writes, provider mix and price tiers included)"),
}
SERIES_WEEKS = 52  # the Monday weeks a page charts and tables: a year, whatever the history holds
LIST_VS_EFFECTIVE_ROWS = 10  # model-variants the methodology compares at list and effective prices
AUTHOR_ROWS = 10  # authors listed under "Revenue by Author", largest revenue first
PROVIDER_ROWS = 10  # providers listed under "Revenue by Provider" before the rest (collapsed)


def method(key: str) -> Method:
    try:
        return METHODS[key]
    except KeyError:
        raise ValueError(f"ORSTATS_REVENUE_METHOD={key!r} is not a revenue method; "
                         f"choose one of {', '.join(METHODS)}") from None


def growth(now: float | None, before: float | None) -> float | None:
    """now / before - 1, None when either is unknown or there was nothing before."""
    if now is None or not before:
        return None
    return now / before - 1


class Row:
    """A view's row whose columns read as attributes (``week.total_tokens``)."""

    row: dict[str, Any]

    def __post_init__(self) -> None:
        # The columns as plain attributes, those a field or the class does not name: a page reads
        # thousands, and each read through __getattr__ is a Python call.
        taken = _names(type(self))
        if taken.isdisjoint(self.row):
            self.__dict__.update(self.row)
        else:
            self.__dict__.update({name: value for name, value in self.row.items() if name not in taken})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["row"][name]
        except KeyError:
            raise AttributeError(name) from None


@functools.cache
def _names(cls: type) -> frozenset[str]:
    return frozenset(dir(cls)) | {f.name for f in fields(cls)}


@dataclass
class ModelRow(Row):
    """One model-variant of a week, as ``weekly_revenue`` has it."""

    row: dict[str, Any]
    headline: Method

    @cached_property
    def revenue(self) -> float | None:
        """By the headline method (read many times a page: sorted, filtered, written)."""
        return self.row[self.headline.column]

    @cached_property
    def free(self) -> bool:
        return self.row["best_basis"] == FREE

    @property
    def wow(self) -> float | None:
        """The best estimate against the same model-variant's previous 7 days."""
        if self.headline.key != "best":
            return None
        return growth(self.revenue, self.row["previous_revenue_best_usd"])

    @property
    def unknown_because(self) -> str:
        if self.row["total_tokens"] is None:
            return "token count unknown"
        if self.headline.key == "effective":
            return "no effective price"
        if self.row["prompt_price"] is None or self.row["completion_price"] is None:
            return "no price" if self.headline.key == "best" else "no list price"
        return "token split not measured"


@dataclass
class Week(Row):
    """One crawl week's totals (a ``weekly_totals`` row)."""

    row: dict[str, Any]
    headline: Method

    def revenue(self, m: Method | None = None) -> float | None:
        return self.row[(m or self.headline).column]

    def known_models(self, m: Method | None = None) -> int:
        return self.row[f"{(m or self.headline).column}_models"]

    def known_tokens(self, m: Method | None = None) -> int | None:
        return self.row[f"{(m or self.headline).column}_tokens"]

    @property
    def low(self) -> float | None:
        """The bottom of the headline's range. Another method's range runs from list prices (cached
        tokens counted once) to no cache discount, widened to its own figure: the earlier project's
        formula, which charges cached tokens twice, is above both, and a range must hold its headline."""
        if self.headline.key == "best":
            return self.row["revenue_best_low_usd"]
        return _known_min(self.row["revenue_list_usd"], self.revenue())

    @property
    def high(self) -> float | None:
        if self.headline.key == "best":
            return self.row["revenue_best_high_usd"]
        return _known_max(self.row["revenue_high_usd"], self.revenue())

    @property
    def wow(self) -> float | None:
        """Week over week like for like: the model-variants with a known previous 7 days."""
        if self.headline.key != "best":
            return None
        return growth(self.row["like_for_like_best_usd"], self.row["previous_revenue_best_usd"])

    @property
    def tokens(self) -> int | None:
        """The week's tokens: the total, else the sum of the rows whose count is known."""
        return self.row["known_total_tokens"] if self.row["total_tokens"] is None else self.row["total_tokens"]

    @property
    def unestimated_tokens(self) -> int:
        """The known tokens of the model-variants without a revenue by the headline method."""
        return (self.tokens or 0) - (self.known_tokens() or 0)


def _known_min(*values: float | None) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def _known_max(*values: float | None) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


@dataclass
class SeriesWeek(Row):
    """One Monday week of the comparable series (a ``monday_series`` row) and its authors' revenue."""

    row: dict[str, Any]
    authors: dict[str, float] = field(default_factory=dict)

    @property
    def day(self) -> date:
        return date.fromisoformat(self.row["week_end"])

    @property
    def measured(self) -> bool:
        return self.row["basis"] == MEASURED

    @property
    def measured_share(self) -> float | None:
        best = self.row["revenue_best_usd"]
        return self.row["measured_usd"] / best if best else None

    @property
    def priced_share(self) -> float | None:
        total = self.row["total_tokens"]
        return 1 - self.row["unpriced_tokens"] / total if total else None

    @property
    def unattributed_share(self) -> float | None:
        """The share of the estimate no lab is known for: a blended rest no rated week shows the lab mix of."""
        best = self.row["revenue_best_usd"]
        return self.authors.get(NOT_ATTRIBUTED, 0.0) / best if best else None

    def author_share(self, author: str) -> float | None:
        best = self.row["revenue_best_usd"]
        return self.authors.get(author, 0.0) / best if best else None


@dataclass
class WeekReport:
    week: Week
    rows: list[ModelRow]  # every model-variant: known revenue first (largest first), then by rank
    series: list[SeriesWeek]  # the charted Monday weeks, oldest first, known estimates only
    series_weeks: int  # how many Monday weeks with an estimate the history holds up to this page
    table_rows: int  # paid model-variants in the main table
    authors: list[dict[str, Any]] = field(default_factory=list)  # author_weekly rows, largest revenue first
    dataset_citation: str | None = None  # the Data API's required citation, when the history holds its data
    providers: list[dict[str, Any]] = field(default_factory=list)  # provider_weekly rows, largest revenue first

    @property
    def headline(self) -> Method:
        return self.week.headline

    @cached_property
    def paid(self) -> list[ModelRow]:
        """Paid model-variants with a known revenue, largest first."""
        return [r for r in self.rows if r.revenue is not None and not r.free]

    @property
    def top(self) -> list[ModelRow]:
        return self.paid[: self.table_rows]

    @property
    def rest(self) -> list[ModelRow]:
        return self.paid[self.table_rows:]

    @cached_property
    def free(self) -> list[ModelRow]:
        return [r for r in self.rows if r.free]

    @cached_property
    def unknown(self) -> list[ModelRow]:
        """Model-variants without a revenue, the largest possible spend (no cache discount) first."""
        rows = [r for r in self.rows if r.revenue is None and not r.free]
        return sorted(rows, key=lambda r: (r.revenue_high_usd is None, -(r.revenue_high_usd or 0.0), r.rank))

    @cached_property
    def list_vs_effective(self) -> list[ModelRow]:
        """The largest paid model-variants by list-price spend whose effective revenue is known too."""
        both = [r for r in self.paid if r.revenue_list_usd is not None and r.revenue_effective_usd is not None]
        return sorted(both, key=lambda r: (-r.revenue_list_usd, r.rank))[:LIST_VS_EFFECTIVE_ROWS]

    @cached_property
    def top_lab(self) -> dict[str, Any] | None:
        """The author whose share of the week's revenue most exceeds its share of the tokens."""
        share = self.headline.column + "_share"
        known = [a for a in self.authors if a[share] is not None and a["token_share"] is not None]
        return max(known, key=lambda a: (a[share] - a["token_share"], a[share]), default=None)

    @property
    def latest(self) -> SeriesWeek | None:
        return self.series[-1] if self.series else None

    @property
    def headline_bar(self) -> bool:
        """Whether Revenue Over Time ends with the headline week as a bar of its own: the Summary's week
        is a crawl's trailing 7 days, which is a Monday week of the series only on a Monday crawl."""
        latest = self.latest
        return (self.week.revenue() is not None and self.headline.key == "best"
                and (latest is None or (latest.week_start, latest.week_end)
                     != (self.week.week_start, self.week.week_end)))

    @property
    def trend_end(self) -> tuple[str, str, float | None, float]:
        """The week the takeaway's trend ends with: (start, end, estimate, modeled share), the Summary's
        week where the chart ends with it, else the last Monday week."""
        if self.headline_bar:
            return self.week.week_start, self.week.week_end, self.week.revenue(), 0.0
        latest = self.latest
        return latest.week_start, latest.week_end, latest.revenue_best_usd, 1 - (latest.measured_share or 0.0)

    @property
    def source_day(self) -> str:
        """The day the sources were computed on: the day after the week's last complete day."""
        return computed_on(date.fromisoformat(self.week.week_end)).isoformat()


# --- what every page depends on -----------------------------------------------------------------

_PUBLISHED = f"""
SELECT w.week_start, w.week_end, w.crawl_id, c.finished_at,
  p.crawl_id AS previous_crawl_id, pc.finished_at AS previous_finished_at, {chart_tokens("w")} AS chart_tokens
FROM weeks w
JOIN crawls c ON c.id = w.crawl_id
LEFT JOIN weeks p ON p.week_start = date(w.week_start, '-7 days') AND p.week_end = date(w.week_end, '-7 days')
  AND p.status = ?
LEFT JOIN crawls pc ON pc.id = p.crawl_id
WHERE w.status = ?
ORDER BY w.week_end, w.week_start
"""


def headline_week(db: Database) -> tuple[str, str] | None:
    """(week_start, week_end) of the week the front page leads with (history/views.py HEADLINE_WEEK),
    read with the view's own SQL: a history its writer has not refreshed yet lacks the view."""
    found = next(db.query(f"SELECT week_start, week_end FROM ({HEADLINE_WEEK})"), None)
    return (found["week_start"], found["week_end"]) if found else None


@dataclass
class HistoryIndex:
    """What the history holds for the report, read once: the published weeks (with what their page
    depends on besides the series), the comparable series and its authors, the latest citation."""

    weeks: list[dict[str, Any]]
    series: list[SeriesWeek]  # every Monday week with an estimate, oldest first
    citation: str | None

    @classmethod
    def read(cls, db: Database) -> "HistoryIndex":
        weeks = list(db.query(_PUBLISHED, [PUBLISHED, PUBLISHED]))
        authors: dict[str, dict[str, float]] = defaultdict(dict)
        for row in db.query("SELECT week_start, author, revenue_best_usd FROM monday_series_authors "
                            "ORDER BY week_start, author"):
            authors[row["week_start"]][row["author"]] = row["revenue_best_usd"]
        series = [SeriesWeek(row, authors[row["week_start"]]) for row in db.query(
            "SELECT * FROM monday_series WHERE revenue_best_usd IS NOT NULL ORDER BY week_start")]
        citation = next(db.query("SELECT citation FROM dataset_weeks ORDER BY as_of DESC LIMIT 1"), {})
        return cls(weeks, series, citation.get("citation"))

    def series_up_to(self, week_end: str) -> tuple[list[SeriesWeek], int]:
        """The last SERIES_WEEKS Monday weeks ending on or before ``week_end``, and how many there are."""
        count = bisect.bisect_right(self._week_ends, week_end)
        return self.series[max(0, count - SERIES_WEEKS):count], count

    @cached_property
    def _week_ends(self) -> list[str]:
        return [w.week_end for w in self.series]

    @cached_property
    def _series_digests(self) -> dict[str, str]:
        return {w.week_start: digest(sorted(w.row.items()), sorted(w.authors.items())) for w in self.series}

    def inputs(self, week: dict[str, Any], *salt: str) -> str:
        """A digest of everything a week's page is made of, so an unchanged page need not be rendered
        again: its crawl and the previous week's (whose rows give week over week), the chart's total of
        its days, the series it charts, the citation, and ``salt`` (the code and settings that render it).
        A crawl's rows are never rewritten under the same id and finish time."""
        shown, count = self.series_up_to(week["week_end"])
        return digest(salt, sorted(week.items()), count, self.citation,
                      [self._series_digests[w.week_start] for w in shown])


def digest(*parts: Any) -> str:
    """sha256 of ``parts`` with floats to 9 significant digits: the series' sums move in their last
    digits with the order rows are added in, which must not make every page look changed."""
    return hashlib.sha256(repr(_rounded(parts)).encode()).hexdigest()


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.9g}"
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


# --- one page's figures -----------------------------------------------------------------------------

def week_report(db: Database, index: HistoryIndex, week: dict[str, Any], headline: Method,
                table_rows: int, providers_read: dict[tuple, list[dict]] | None = None) -> WeekReport:
    """The page of one published week (an ``index.weeks`` row); ``providers_read``: see ``provider_rows``."""
    key = [week["week_start"], week["week_end"]]
    [totals] = db.query("SELECT * FROM weekly_totals WHERE week_start = ? AND week_end = ?", key)
    series, count = index.series_up_to(week["week_end"])
    return WeekReport(Week(totals, headline), model_rows(db, key, headline), series, count, table_rows,
                      author_rows(db, key, headline), index.citation, provider_rows(db, key, providers_read))


def model_rows(db: Database, key: list[str], headline: Method) -> list[ModelRow]:
    rows = [ModelRow(row, headline) for row in db.query(
        "SELECT * FROM weekly_revenue WHERE week_start = ? AND week_end = ? ORDER BY rank, permaslug, variant", key)]
    known = sorted((r for r in rows if r.revenue is not None), key=lambda r: (-r.revenue, r.rank))
    return known + [r for r in rows if r.revenue is None]


def author_rows(db: Database, key: list[str], headline: Method) -> list[dict[str, Any]]:
    """The week's authors (``author_weekly``): the largest known revenue by the headline method first,
    then those whose revenue is unknown, by tokens."""
    rows = list(db.query("SELECT * FROM author_weekly WHERE week_start = ? AND week_end = ?", key))
    return sorted(rows, key=lambda a: (a[headline.column] is None, -(a[headline.column] or 0.0),
                                       -(a["total_tokens"] or 0), a["author"]))



_PROVIDERS = "SELECT * FROM provider_weekly WHERE week_start = ? AND week_end = ?"


def provider_rows(db: Database, key: list[str], read: dict[tuple, list[dict]] | None = None) -> list[dict[str, Any]]:
    """The week's providers (``provider_weekly``, always the best estimate: it is shared among them),
    the largest first, each with its revenue in the published week 7 days before where it had one.
    (Each week asked by its own dates: SQLite reads a week of the view without the others only so.)
    ``read`` keeps each week's rows as read, for a render of many pages: a week is the week before
    of the next page."""
    before = [(date.fromisoformat(day) - timedelta(days=7)).isoformat() for day in key]
    previous = {p["provider_slug"]: p["revenue_best_usd"] for p in _providers(db, before, read)
                if p["status"] == PUBLISHED}
    rows = _providers(db, key, read)
    for row in rows:
        row["previous_revenue_best_usd"] = previous.get(row["provider_slug"])
        row["wow"] = growth(row["revenue_best_usd"], row["previous_revenue_best_usd"])
    return sorted(rows, key=lambda p: (p["revenue_best_usd"] is None, -(p["revenue_best_usd"] or 0.0),
                                       -(p["tokens"] or 0), p["provider_slug"]))


def _providers(db: Database, key: list[str], read: dict[tuple, list[dict]] | None) -> list[dict[str, Any]]:
    """A week's provider_weekly rows, copies the caller may change."""
    if read is None:
        return list(db.query(_PROVIDERS, key))
    if tuple(key) not in read:
        read[tuple(key)] = list(db.query(_PROVIDERS, key))
    return [dict(row) for row in read[tuple(key)]]
