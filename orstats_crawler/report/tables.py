"""The report's tables as cells, already formatted: names through ``fmt.md``, numbers through the
format functions. The templates lay them out with one macro; which columns a table has is decided
here (the unknown model-variants' table keeps only the columns whose values differ).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

from orstats_crawler.report import format as fmt
from orstats_crawler.report.data import METHODS, ModelRow, SeriesWeek, WeekReport

NO_PREVIOUS = "–"  # week over week where the history holds no previous 7 days


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)  # right-aligned columns

    @property
    def separator(self) -> str:
        return "|" + "|".join("---:" if i in self.numeric else "---" for i in range(len(self.headers))) + "|"


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[ModelRow], str]
    numeric: bool = False


def model_link(row: ModelRow) -> str:
    return _link(row.name or row.permaslug, row.public_id, row.permaslug)


@functools.cache
def _link(name: str, public_id: str | None, permaslug: str) -> str:
    """A model-variant's link, the same on every page that lists it (a render writes hundreds)."""
    return f"[{fmt.md(name)}]({fmt.model_url(public_id, permaslug)})"


RANK = Column("Token rank", lambda r: str(r.rank), True)  # the leaderboard ranks by tokens
MODEL = Column("Model", model_link)
TOKENS = Column("Tokens", lambda r: fmt.tokens(r.total_tokens), True)
PRICES = Column("Price in / out ($/M)", lambda r: fmt.prices(r.prompt_price, r.completion_price, bool(r.is_free)),
                True)
# Why a model earns what it does: how much of its prompt was read from cache, and its prompt and
# completion shares of its tokens (n/a where its split was not measured).
CACHED = Column("Cached %", lambda r: fmt.ratio(r.cached_tokens, r.prompt_tokens), True)
PROMPT = Column("Prompt %", lambda r: fmt.ratio(r.prompt_tokens, r.total_tokens), True)
COMPLETION = Column("Compl. %", lambda r: fmt.ratio(r.completion_tokens, r.total_tokens), True)
OUTLIER_MARK = "⚠"  # beside an estimate whose effective and list figures disagree (a note says how)
BASIS = Column("Basis", lambda r: r.best_basis or fmt.NA)
REVENUE = Column("Est. revenue", lambda r: fmt.usd(r.revenue), True)
WOW = Column("WoW", lambda r: fmt.change(r.wow, NO_PREVIOUS), True)
# The unknown model-variants' candidate columns beyond rank, model and tokens.
WHY = Column("Why unknown", lambda r: r.unknown_because)
AT_MOST = Column("At most (no cache discount)", lambda r: fmt.usd(r.revenue_high_usd), True)
EFFECTIVE = Column("At effective prices", lambda r: fmt.usd(r.revenue_effective_usd), True)


def table_of(columns: list[Column], rows: list[ModelRow]) -> Table:
    return Table([c.header for c in columns], [[c.cell(r) for c in columns] for r in rows],
                 {i for i, c in enumerate(columns) if c.numeric})


def basis_of(report: WeekReport, row: ModelRow) -> str | None:
    """What the row's headline figure is made of: its best basis, else the headline's method."""
    return row.best_basis if report.headline.key == "best" else report.headline.key


def own_prices(report: WeekReport, row: ModelRow) -> str:
    """The prices the row's figure is made of: what its traffic paid (per prompt token, cache reads
    included, and per completion token) where that is its basis, else its list prices."""
    if basis_of(report, row) == "effective":
        return fmt.prices(row.effective_input_price and row.effective_input_price / 1e6,
                          row.effective_output_price and row.effective_output_price / 1e6)
    return PRICES.cell(row)


def disagreement(row: ModelRow) -> float | None:
    """How many times its effective figure is its list-price one (or the other way round)."""
    effective, listed = row.revenue_effective_usd, row.revenue_list_usd
    if not effective or not listed or effective <= 0 or listed <= 0:
        return None
    return max(effective / listed, listed / effective)


def outliers(rows: list[ModelRow], factor: float) -> list[str]:
    """One line per row whose effective and list figures differ by more than ``factor``."""
    lines = []
    for row in rows:
        times = disagreement(row)
        if times is not None and times > factor:
            how = f"{times:.1f}x" if row.revenue_effective_usd > row.revenue_list_usd else f"1/{times:.1f} of"
            lines.append(f"{OUTLIER_MARK} {fmt.md(row.name or row.permaslug)}: paid "
                         f"{fmt.usd(row.revenue_effective_usd)}, {how} its list-price estimate "
                         f"({fmt.usd(row.revenue_list_usd)} at {PRICES.cell(row)} per M).")
    return lines


def model_columns(report: WeekReport, rows: list[ModelRow], factor: float) -> list[Column]:
    """#: the place by estimate in the table (the leaderboard ranks by tokens); basis and week over
    week belong to the best estimate; prices are those of the row's own basis."""
    best = report.headline.key == "best"
    place = {id(row): number for number, row in enumerate(report.paid, 1)}
    marked = {id(row) for row in rows if (disagreement(row) or 0) > factor}
    return [Column("#", lambda r: str(place[id(r)]), True), MODEL, TOKENS, CACHED, PROMPT, COMPLETION,
            Column(PRICES.header, lambda r: own_prices(report, r), True), *([BASIS] if best else []),
            Column(REVENUE.header, lambda r: REVENUE.cell(r) + (f" {OUTLIER_MARK}" if id(r) in marked else ""), True),
            *([WOW] if best else [])]


def models(report: WeekReport, rows: list[ModelRow], factor: float) -> Table:
    return table_of(model_columns(report, rows, factor), rows)


@dataclass
class UnknownTable:
    table: Table
    same: list[tuple[str, str]]  # (header, value) of the known columns every row shares, left out


def unknown(report: WeekReport) -> UnknownTable:
    """The model-variants without a revenue, with only the columns whose values differ; what they
    all share is said once (an n/a they share goes without saying). One row keeps what is known."""
    rows = report.unknown
    candidates = [WHY, PRICES, AT_MOST, EFFECTIVE]
    if len(rows) < 2:
        varying = [c for c in candidates if rows and c.cell(rows[0]) != fmt.NA]
        same = []
    else:
        varying = [c for c in candidates if len({c.cell(r) for r in rows}) > 1]
        same = [(c.header, c.cell(rows[0])) for c in candidates if c not in varying and c.cell(rows[0]) != fmt.NA]
    return UnknownTable(table_of([RANK, MODEL, TOKENS, *varying], rows), same)


def series(weeks: list[SeriesWeek]) -> Table:
    """The charted Monday weeks, newest first."""
    rows = [[w.week_start + " to " + w.week_end, fmt.usd(w.revenue_best_usd),
             f"{fmt.usd(w.revenue_low_usd)} to {fmt.usd(w.revenue_high_usd)}", w.basis,
             fmt.percent(w.measured_share, 0), fmt.tokens(w.total_tokens), fmt.percent(w.priced_share, 0)]
            for w in reversed(weeks)]
    return Table(["Monday week", "Estimate", "Range", "Basis", "Measured", "Tokens", "Tokens priced"], rows,
                 {1, 2, 4, 5, 6})


def authors(report: WeekReport, limit: int) -> Table:
    column = report.headline.column
    rows = [[fmt.md(a["author"]), str(a["models"]), fmt.tokens(a["total_tokens"]), fmt.percent(a["token_share"]),
             fmt.usd(a[column]), fmt.percent(a[column + "_share"])] for a in report.authors[:limit]]
    return Table(["Author", "Models", "Tokens", "Token share", "Est. revenue", "Revenue share"], rows,
                 {1, 2, 3, 4, 5})


def providers(rows: list[dict]) -> Table:
    """Providers with their share of the week's best estimate and of the tokens, and week over week."""
    cells = [[fmt.md(p["provider_name"] or p["provider_slug"]), fmt.usd(p["revenue_best_usd"]),
              f"{fmt.usd(p['revenue_best_low_usd'])} to {fmt.usd(p['revenue_best_high_usd'])}",
              fmt.percent(p["revenue_share"]), fmt.tokens(p["tokens"]), str(p["models"]),
              fmt.change(p["wow"], NO_PREVIOUS)] for p in rows]
    return Table(["Provider", "Est. revenue", "Range", "Revenue share", "Tokens", "Model-variants", "WoW"], cells,
                 {1, 2, 3, 4, 5, 6})


# The estimates compared in the methodology, in this order, and what each is.
COMPARED = [("best", "Best estimate"), ("effective", "Effective prices"),
            ("list", "List prices, cached tokens counted once"),
            ("seed", "The earlier project's formula (cached tokens charged twice)")]


def estimates(report: WeekReport) -> Table:
    week = report.week
    rows = [[label + (" (the headline)" if METHODS[key] is report.headline else ""),
             fmt.usd(week.revenue(METHODS[key])), f"{week.known_models(METHODS[key])} of {week.models}",
             f"`{METHODS[key].formula}`" if key != "best" else METHODS[key].formula]
            for key, label in COMPARED]
    return Table(["Estimate", "This week", "Models known", "How"], rows, {1, 2})


def list_vs_effective(report: WeekReport) -> Table:
    rows = [[fmt.md(r.name or r.permaslug), fmt.usd(r.revenue_list_usd), fmt.usd(r.revenue_effective_usd),
             fmt.ratio(r.revenue_effective_usd, r.revenue_list_usd)] for r in report.list_vs_effective]
    return Table(["Model", "List prices", "Effective prices", "Effective / list"], rows, {1, 2, 3})


# --- the Summary ------------------------------------------------------------------------------------

def summary(report: WeekReport) -> Table:
    """At most five rows: the estimate with its range and week over week, the top model, the lab
    earning most above its token share, the tokens behind it all, OpenRouter's own take of it."""
    rows = [["Estimated weekly revenue", headline(report)]]
    if report.paid:
        top = report.paid[0]
        rows.append(["Top model", f"{model_link(top)}: {fmt.usd(top.revenue)} "
                                  f"({fmt.ratio(top.revenue, report.week.revenue())} of the estimate)"])
    lab = report.top_lab
    if lab is not None:
        share = lab[report.headline.column + "_share"]
        rows.append(["Lab earning most above its token share",
                     f"{fmt.md(lab['author'])}: {fmt.percent(share)} of the revenue from "
                     f"{fmt.percent(lab['token_share'])} of the tokens"])
    rows.append(["Tokens tracked", tracked(report)])
    if report.week.openrouter_take_usd is not None:
        rows.append(["OpenRouter's own take", take(report)])
    return Table(["Metric", "Value"], rows)


def take(report: WeekReport) -> str:
    """What OpenRouter keeps of the week's spend at its published fee on credit purchases."""
    week = report.week
    return (f"about {fmt.usd(week.openrouter_take_usd)} (range {fmt.usd(week.openrouter_take_low_usd)} to "
            f"{fmt.usd(week.openrouter_take_high_usd)}): the best estimate x its {fmt.percent(week.platform_fee)} "
            "fee on credit purchases; BYOK traffic and discounts unknown")


def headline(report: WeekReport) -> str:
    week = report.week
    text = f"**{fmt.usd(week.revenue())}**"
    if report.headline.key != "best":
        text += f" ({report.headline.label})"
    text += f", range {fmt.usd(week.low)} to {fmt.usd(week.high)}"
    if week.wow is not None:
        text += (f"; {fmt.change(week.wow, digits=1)} week over week "
                 f"(the {week.previous_models} models known both weeks)")
    return text


def tracked(report: WeekReport) -> str:
    week = report.week
    text = f"**{fmt.tokens(week.tokens)}** of {week.models} models"
    if week.unknown_total_tokens_models:
        text = f"at least {text}, {week.unknown_total_tokens_models} of them of unknown count"
    if week.chart_tokens:
        text += f" ({fmt.ratio(week.tokens, week.chart_tokens)} of the {fmt.tokens(week.chart_tokens)} on " \
                "OpenRouter's weekly chart)"
    if week.unestimated_tokens:
        text += f"; {fmt.tokens(week.unestimated_tokens)} of them without an estimate"
    return text
