"""What the report shows, read from the history's views (``weekly_revenue``, ``weekly_totals``,
``monday_totals``) into plain objects the templates format. No formula lives here: every revenue
figure is a column of a view (history/views.py); this module only chooses which column is the
headline, which weeks make the time series, and orders rows.

Two kinds of week: a crawl's own week (the leaderboard's trailing 7 days: the Summary, the model
table, the pies) and the Monday weeks of the chart (history/series.py: the time series).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlite_utils import Database

from orstats_crawler.history.series import MODELED, VOLUME
from orstats_crawler.history.price_history import AFTER, BEFORE, FREE
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
# weekly_revenue and to schema.REVENUE_COLUMNS) is one more entry here.
METHODS: dict[str, Method] = {
    "best": Method(
        "best", "revenue_best_usd", "best estimate: effective prices where published, else list price",
        "per model-variant: prompt × effective input price + completion × effective output price where "
        "OpenRouter publishes what its traffic paid; else the list price with the measured split; else the "
        "list price with the cached share imputed from the week's measured model-variants; free variants 0"),
    "list": Method(
        "list", "revenue_list_usd", "list price, cached tokens counted once",
        "(prompt - cached) × prompt price + cached × cache-read price + completion × completion price"),
    "seed": Method(
        "seed", "revenue_seed_usd", "the seed's formula, cached tokens charged twice",
        "prompt × prompt price + completion × completion price + cached × cache-read price"),
    "effective": Method(
        "effective", "revenue_effective_usd", "effective prices, what the traffic actually paid",
        "prompt × effective input price + completion × effective output price (OpenRouter's weighted "
        "prices per model-variant: cache reads and writes, provider mix and price tiers included)"),
}
# The methods ``monday_totals`` has a figure for (effective prices are fetched for a crawl's own
# week only). The seed formula needs what the list one needs (a split and list prices), so the
# view's count of the rows known by the list formula is the seed's too.
MONDAY_METHODS = ("list", "seed")
MONDAY_KNOWN = "revenue_list_usd"
NOT_IN_MONDAY = "known for a crawl's own week only"  # why the other methods have no Monday figure
# How paid Monday-week rows were priced (history/price_history.py): with a price seen during the
# week, the nearest observation before or after it, or none. `:free` rows are free whatever was seen.
_PRICE_KINDS = f"""
SELECT week_start, week_end,
  CASE WHEN price_basis = '{BEFORE}' AND price_observed_on >= week_start THEN 'week'
       WHEN price_basis = '{BEFORE}' THEN 'earlier' WHEN price_basis = '{AFTER}' THEN 'later'
       ELSE 'none' END AS kind,
  COUNT(*) AS models, MIN(price_observed_on) AS first_day, MAX(price_observed_on) AS last_day
FROM monday_weeks WHERE price_basis IS NOT '{FREE}'
GROUP BY week_start, week_end, kind
"""
PRICE_KINDS = {"week": "seen that week", "earlier": "nearest earlier", "later": "nearest later", "none": "none known"}
# How many model-variants the methodology's "list vs effective" table compares.
LIST_VS_EFFECTIVE_ROWS = 10
AUTHOR_ROWS = 15  # authors listed under "Revenue by Author", largest known revenue first
# The band around the estimate: low = list price with the cache discount (model-variants whose split
# is known), high = list price without any cache discount (every priced model-variant).
LOW, HIGH = "revenue_list_usd", "revenue_high_usd"


def method(key: str) -> Method:
    try:
        return METHODS[key]
    except KeyError:
        raise ValueError(f"ORSTATS_REVENUE_METHOD={key!r} is not a revenue method; "
                         f"choose one of {', '.join(METHODS)}") from None


@dataclass
class ModelRow:
    """One model-variant of a week, as ``weekly_revenue`` has it (extra columns kept in ``row``)."""

    row: dict[str, Any]
    revenue: float | None  # by the headline method

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["row"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def priced(self) -> bool:
        return bool(self.row["is_free"]) or (
            self.row["prompt_price"] is not None and self.row["completion_price"] is not None)

    @property
    def unknown_because(self) -> str:
        if self.row["revenue_list_usd"] is not None:  # unknown by the effective method only
            return "no effective price"
        if not self.priced:
            return "no list price"
        return "token split not measured"


@dataclass
class Week:
    """One week's totals (a ``weekly_totals`` row) plus its figures by method."""

    totals: dict[str, Any]
    headline: Method

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["totals"][name]
        except KeyError:
            raise AttributeError(name) from None

    def revenue(self, m: Method | None = None) -> float | None:
        return self.totals[(m or self.headline).column]

    def known_models(self, m: Method | None = None) -> int:
        return self.totals[f"{(m or self.headline).column}_models"]

    def known_tokens(self, m: Method | None = None) -> int | None:
        return self.totals[f"{(m or self.headline).column}_tokens"]

    @property
    def low(self) -> float | None:
        return self.totals["revenue_best_low_usd" if self.headline.key == "best" else LOW]

    @property
    def high(self) -> float | None:
        return self.totals["revenue_best_high_usd" if self.headline.key == "best" else HIGH]

    @property
    def complete(self) -> bool:
        """Every model-variant of the week has a known revenue by the headline method."""
        return self.known_models() == self.models

    @property
    def basis(self) -> str | None:
        """How the week's split was obtained, when the history says (measured, modeled ...)."""
        return self.totals.get("basis")

    @property
    def modeled(self) -> bool:
        return self.basis == MODELED


@dataclass
class MondayWeek(Week):
    """One Monday week of the time series (a ``monday_totals`` row) and how it was priced."""

    prices: list[dict[str, Any]] = field(default_factory=list)  # _PRICE_KINDS rows of the week

    def known_models(self, m: Method | None = None) -> int:
        return self.totals[f"{MONDAY_KNOWN}_models"]

    def known_tokens(self, m: Method | None = None) -> int | None:
        return self.totals[f"{MONDAY_KNOWN}_tokens"]

    @property
    def basis_text(self) -> str:
        """The week's basis, with how many model-variants are of each kind when they differ."""
        word = "volume only" if self.basis == VOLUME else self.basis
        if self.basis == VOLUME and self.revenue() is None:
            word += " (revenue unknown)"
        kinds = [f"{n} {kind}" for n, kind in ((self.measured_models, "measured"), (self.modeled_models, "modeled"),
                                                (self.volume_models, "volume only")) if n]
        return f"{word} ({', '.join(kinds)})" if len(kinds) > 1 else word

    @property
    def price_text(self) -> str:
        """Which list prices priced the week's paid model-variants (observation days in brackets)."""
        if not self.prices:
            return "free model-variants only"
        parts = []
        for p in sorted(self.prices, key=lambda p: list(PRICE_KINDS).index(p["kind"])):
            days = p["first_day"] if p["first_day"] == p["last_day"] else f"{p['first_day']} to {p['last_day']}"
            text = PRICE_KINDS[p["kind"]] + (f" ({days})" if p["kind"] in ("earlier", "later") else "")
            parts.append(text + (f" for {p['models']}" if len(self.prices) > 1 else ""))
        return ", ".join(parts)


@dataclass
class Series:
    """The weeks of "Revenue Over Time", oldest first: the Monday weeks when the history has them
    (``monday``), else the crawls' own weeks; ``methods``: those the weeks have a figure for."""

    weeks: list[Week]
    monday: bool
    methods: list[Method]
    # The history has Monday weeks, yet the series is the crawls' weeks: none has the headline's figure.
    why_not_monday: bool = False


@dataclass
class WeekReport:
    week: Week
    rows: list[ModelRow]  # every model-variant: known revenue first (largest first), then by rank
    series: Series
    headline: Method
    others: list[Method] = field(default_factory=list)
    authors: list[dict[str, Any]] = field(default_factory=list)  # author_weekly rows, see author_rows
    dataset_citation: str | None = None  # the Data API's required citation, when the history holds its data

    @property
    def known(self) -> list[ModelRow]:
        return [r for r in self.rows if r.revenue is not None]

    @property
    def unknown(self) -> list[ModelRow]:
        """Model-variants without a revenue, the largest possible spend (no cache discount) first."""
        rows = [r for r in self.rows if r.revenue is None]
        return sorted(rows, key=lambda r: (r.row[HIGH] is None, -(r.row[HIGH] or 0.0), r.rank))

    @property
    def list_vs_effective(self) -> list[ModelRow]:
        """The largest paid model-variants by list-price spend whose effective revenue is known too."""
        both = [r for r in self.rows if not r.row["is_free"] and r.row["revenue_list_usd"] is not None
                and r.row["revenue_effective_usd"] is not None]
        return sorted(both, key=lambda r: (-r.row["revenue_list_usd"], r.rank))[:LIST_VS_EFFECTIVE_ROWS]

    @property
    def series_others(self) -> list[Method]:
        """The other methods the time series has a figure for (its lines and table columns)."""
        return [m for m in self.others if m in self.series.methods]

    @property
    def source_day(self) -> str:
        """The day the sources were computed on: the day after the week's last complete day."""
        return computed_on(date.fromisoformat(self.week.week_end)).isoformat()


def published_weeks(db: Database, headline: Method) -> list[Week]:
    """Every week whose shown crawl is published, oldest first."""
    return [Week(row, headline) for row in db.query(
        "SELECT * FROM weekly_totals WHERE status = ? ORDER BY week_end, week_start", [PUBLISHED])]


def monday_weeks(db: Database, headline: Method) -> list[MondayWeek]:
    """Every Monday week of the history, oldest first, with how each was priced."""
    prices: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in db.query(_PRICE_KINDS):
        prices[row["week_start"], row["week_end"]].append(row)
    return [MondayWeek(row, headline, prices[row["week_start"], row["week_end"]])
            for row in db.query("SELECT * FROM monday_totals ORDER BY week_start, week_end")]


def time_series(windows: list[Week], mondays: list[MondayWeek], week: Week, latest: bool,
                why_not_monday: bool) -> Series:
    """A week's page charts the Monday weeks begun by the end of its week (the latest page every
    stored one); without any, the crawls' own weeks up to this one, so the chart is never empty
    while the history has data."""
    shown = mondays if latest else [m for m in mondays if m.week_start <= week.week_end]
    if shown:
        return Series(shown, True, [METHODS[k] for k in MONDAY_METHODS])
    return Series(windows, False, list(METHODS.values()), why_not_monday)


def model_rows(db: Database, week: Week, headline: Method) -> list[ModelRow]:
    rows = [ModelRow(row, row[headline.column]) for row in db.query(
        "SELECT * FROM weekly_revenue WHERE week_start = ? AND week_end = ? ORDER BY rank, permaslug, variant",
        [week.week_start, week.week_end])]
    known = sorted((r for r in rows if r.revenue is not None), key=lambda r: (-r.revenue, r.rank))
    return known + [r for r in rows if r.revenue is None]


def author_rows(db: Database, week: Week, headline: Method) -> list[dict[str, Any]]:
    """The week's authors (``author_weekly``): the largest known revenue by the headline method
    first, then those whose revenue is unknown, by tokens."""
    rows = list(db.query("SELECT * FROM author_weekly WHERE week_start = ? AND week_end = ?",
                         [week.week_start, week.week_end]))
    return sorted(rows, key=lambda a: (a[headline.column] is None, -(a[headline.column] or 0.0),
                                       -(a["total_tokens"] or 0), a["author"]))[:AUTHOR_ROWS]


def week_reports(db: Database, method_key: str) -> list[WeekReport]:
    """One report per published week, oldest first (the last one is the latest)."""
    headline = method(method_key)
    others = [m for m in METHODS.values() if m is not headline]
    weeks = published_weeks(db, headline)
    citation = next(db.query("SELECT citation FROM dataset_weeks ORDER BY as_of DESC LIMIT 1"), {}).get("citation")
    mondays, why_not = [], False
    if headline.key in MONDAY_METHODS:
        mondays = monday_weeks(db, headline)
    else:
        why_not = bool(db.execute("SELECT EXISTS (SELECT 1 FROM monday_weeks)").fetchone()[0])
    return [WeekReport(week, model_rows(db, week, headline),
                       time_series(weeks[: i + 1], mondays, week, i == len(weeks) - 1, why_not),
                       headline, others, author_rows(db, week, headline), dataset_citation=citation)
            for i, week in enumerate(weeks)]
