"""The report's mermaid charts as data: labels already safe, values already plain decimals, every
series as long as its axis (mermaid accepts a shorter series silently and draws it wrong).

Every chart must read on any mermaid 11 (the lowest tested is 11.12; GitHub's is not known): no
``xAxis.labelRotation`` (drawn from 11.16 on), so x labels are chosen to fit side by side: model
names on a horizontal chart's vertical axis, dates short or sparse. Colours come from a theme
palette in an init directive (mermaid's own first colours are near-white); money axes are in $M or $K
so that their ticks read as money.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date

from orstats_crawler.report import format as fmt
from orstats_crawler.report.data import ModelRow, SeriesWeek, WeekReport

TOP_MODELS = 10  # bars of "Revenue by Model"
TOP_LABS = 7  # slices of the revenue share pie before "other labs", more while those would be the largest
MIN_SLICE = 0.03  # a smaller slice's percentage label overlaps its neighbour's ("2%1%"): it joins "other labs"
LAB_LINES = 4  # labs drawn in the share-over-time chart
# Mermaid's default chart is 700 px wide, about 110 of them the y-axis; a 14 px label character is
# about 8 px wide, and labels need a gap between them.
PLOT_PIXELS, CHAR_PIXELS, GAP_PIXELS = 590, 8, 10
# A week's label when every week can have one ("Feb 8"); else every other or third week's; else the
# first week of each month ("Mar", the year for January).
DAY_LABEL, MONTH_LABEL, YEAR_LABEL = "%b %-d", "%b", "%Y"
# An x label a chart leaves blank must still be unique (mermaid merges equal labels into one bar):
# n zero-width spaces, which no renderer trims and no reader sees.
BLANK = "\u200b"
# Colours a reader can tell apart, on white and on GitHub's dark background; named for the legends.
COLOURS = {"blue": "#0969da", "orange": "#fb8500", "green": "#1a7f37", "purple": "#8250df", "red": "#cf222e",
           "brown": "#9a6700", "grey": "#6e7781", "teal": "#1b7c83", "pink": "#bf3989", "navy": "#0a3069"}
PALETTE = list(COLOURS.values())
CHART_HEIGHT = 400  # px, mermaid's default 500: three xycharts a page
MEASURED_COLOUR, MODELED_COLOUR = "#0550ae", "#80ccff"  # dark: measured weeks; light: modeled ones
HEADLINE_COLOUR = "#1a7f37"  # the Summary's week, where it is not a Monday week of the series


@dataclass
class XYChart:
    title: str
    x: list[str]
    y_title: str
    y_max: str
    bars: list[list[str]] = field(default_factory=list)
    lines: list[list[str]] = field(default_factory=list)
    colours: list[str] = field(default_factory=lambda: PALETTE[:1])  # one per series, bars first
    horizontal: bool = False

    def __post_init__(self) -> None:
        for series in (*self.bars, *self.lines):
            if len(series) != len(self.x):
                raise ValueError(f"chart {self.title!r}: a series has {len(series)} values "
                                 f"for {len(self.x)} x-axis labels")

    @property
    def directive(self) -> str:
        return init({"xyChart": {"plotColorPalette": ", ".join(self.colours)}}, {"xyChart": {"height": CHART_HEIGHT}})


@dataclass
class Slice:
    label: str
    value: str


@dataclass
class Pie:
    title: str
    slices: list[Slice]

    @property
    def directive(self) -> str:
        return init({f"pie{i}": colour for i, colour in enumerate(PALETTE[: len(self.slices)], start=1)})


def init(theme_variables: dict, config: dict | None = None) -> str:
    """Mermaid's init directive (the first line of a block) setting theme variables (and configuration)."""
    return "%%{init: " + json.dumps({**(config or {}), "themeVariables": theme_variables}) + "}%%"


# --- axes -------------------------------------------------------------------------------------------

def nice_max(value: float) -> float:
    """The axis top: the next 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten at or above
    ``value`` (mermaid ticks the axis at round steps up to it)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-12):
            return float(f"{step * power:.12g}")
    return 10 * power


@dataclass(frozen=True)
class MoneyAxis:
    """Dollars in the unit that keeps tick labels short: $M, $K or $."""

    scale: float
    unit: str

    @classmethod
    def fitting(cls, largest: float) -> "MoneyAxis":
        for scale, unit in ((1e6, "$M"), (1e3, "$K")):
            if largest >= scale:
                return cls(scale, unit)
        return cls(1.0, "$")

    def value(self, usd: float) -> str:
        return fmt.plain(round(usd / self.scale, 4), 4)

    def top(self, largest: float) -> str:
        return fmt.plain(nice_max(largest / self.scale), 4)


def week_labels(days: list[date], plot_pixels: int = PLOT_PIXELS) -> list[str]:
    """One x label per week: every week's day ("Feb 8") where they fit side by side, else every
    other or third week's counted back from the newest, else the first week of each month; the other
    weeks' labels are blank."""
    per_week = plot_pixels / max(len(days), 1)
    every = math.ceil((CHAR_PIXELS * max(len(d.strftime(DAY_LABEL)) for d in days) + GAP_PIXELS) / per_week) \
        if days else 1
    if every <= 3:
        shown = {i: d.strftime(DAY_LABEL) for i, d in enumerate(days) if (len(days) - 1 - i) % every == 0}
    else:
        shown = month_labels(days, math.ceil((CHAR_PIXELS * 4 + GAP_PIXELS) / per_week))
    return [shown.get(i, BLANK * (i + 1)) for i in range(len(days))]


def month_labels(days: list[date], spacing: int) -> dict[int, str]:
    """The first week ending in each month, at least ``spacing`` weeks after the last label."""
    shown: dict[int, str] = {}
    last = -spacing
    for i in range(1, len(days)):
        if days[i].month != days[i - 1].month and i - last >= spacing:
            shown[i] = days[i].strftime(YEAR_LABEL if days[i].month == 1 else MONTH_LABEL)
            last = i
    return shown


# --- the charts -------------------------------------------------------------------------------------

def revenue_over_time(weeks: list[SeriesWeek], headline: tuple[date, float] | None = None) -> XYChart | None:
    """Bars of the best estimate of each Monday week, measured weeks dark and modeled ones light: a
    series per kind, zero where a week is of the other kind. Mermaid draws a zero as a sliver at the
    foot of the plot, so the rarer kind goes first: the other kind's bars cover its slivers.
    ``headline`` (the Summary's week: its last day and estimate) ends the chart as a bar of its own
    colour, so that the chart's last bar is the week the page speaks of."""
    if not weeks:
        return None
    days, values = [w.day for w in weeks], [w.revenue_best_usd for w in weeks]
    kinds_of = [w.measured for w in weeks]
    if headline is not None:
        days, values, kinds_of = [*days, headline[0]], [*values, headline[1]], [*kinds_of, None]
    largest = max(values)
    axis = MoneyAxis.fitting(largest)
    kinds = sorted(set(kinds_of), key=lambda kind: (sum(k == kind for k in kinds_of), kind is not None and kind))
    colour = {True: MEASURED_COLOUR, False: MODELED_COLOUR, None: HEADLINE_COLOUR}
    return XYChart(
        title=f"Estimated revenue by Monday week ({axis.unit})",
        x=week_labels(days),
        y_title=f"Revenue ({axis.unit})",
        y_max=axis.top(largest),
        bars=[[axis.value(v) if k == kind else "0" for v, k in zip(values, kinds_of)] for kind in kinds],
        colours=[colour[kind] for kind in kinds],
    )


# A horizontal chart's names get about 350 px of its 700: one wider and mermaid drops every label.
NAME_PIXELS = 320


def label_pixels(label: str) -> float:
    """About how wide a 14 px label is drawn (Arial/Helvetica: capitals wide, spaces narrow)."""
    return sum(9.5 if c.isupper() else 7.8 if c.isdigit() else 7.2 if c.isalpha() else 4.0 if c == " " else 5.0
               for c in label)


def fitted(label: str) -> str:
    """A name whole where it fits the axis, else cut with ".." (mermaid would draw no name at all)."""
    while label_pixels(label) > NAME_PIXELS:
        label = label[:-3].rstrip() + ".."
    return label


def model_labels(rows: list[ModelRow]) -> list[str]:
    return fmt.unique([fitted(fmt.mermaid_label(r.name or r.permaslug)) for r in rows],
                      fits=lambda label: label_pixels(label) <= NAME_PIXELS)


def revenue_by_model(rows: list[ModelRow]) -> XYChart | None:
    """The top model-variants by revenue, full names down the side (a known zero is no bar)."""
    top = [r for r in rows if r.revenue][:TOP_MODELS]
    if not top:
        return None
    axis = MoneyAxis.fitting(top[0].revenue)
    return XYChart(
        title=f"Estimated revenue by model, top {len(top)} ({axis.unit})",
        x=model_labels(top),
        y_title=f"Revenue ({axis.unit})",
        y_max=axis.top(top[0].revenue),
        bars=[[axis.value(r.revenue) for r in top]],
        horizontal=True,
    )


def revenue_by_provider(report: WeekReport) -> XYChart | None:
    """The providers with the largest share of the week's best estimate, names down the side."""
    top = [p for p in report.providers if p["revenue_best_usd"]][:TOP_MODELS]
    if not top:
        return None
    largest = top[0]["revenue_best_usd"]
    axis = MoneyAxis.fitting(largest)
    return XYChart(
        title=f"Estimated revenue by provider, top {len(top)} ({axis.unit})",
        x=fmt.unique([fitted(fmt.mermaid_label(p["provider_name"] or p["provider_slug"])) for p in top],
                     fits=lambda label: label_pixels(label) <= NAME_PIXELS),
        y_title=f"Revenue ({axis.unit})",
        y_max=axis.top(largest),
        bars=[[axis.value(p["revenue_best_usd"]) for p in top]],
        horizontal=True,
    )


def lab_share(report: WeekReport) -> Pie | None:
    """The week's revenue by author: the largest labs, then one slice for the rest (never the largest)."""
    column = report.headline.column
    paying = [a for a in report.authors if a[column]]
    if not paying:
        return None
    count = TOP_LABS
    while count < min(len(paying), len(PALETTE) - 1) and sum(a[column] for a in paying[count:]) >= paying[0][column]:
        count += 1
    total = sum(a[column] for a in paying)
    shown = [a for a in paying[:count] if a[column] >= MIN_SLICE * total]
    rest = paying[len(shown):]
    slices = [Slice(f"{fmt.mermaid_label(a['author'])} {fmt.usd(a[column])}", _plain(a[column])) for a in shown]
    rest_total = sum(a[column] for a in rest)
    if rest_total > 0:
        slices.append(Slice(f"{fmt.count(len(rest), 'other lab')} {fmt.usd(rest_total)}", _plain(rest_total)))
    return Pie("Revenue share by lab", slices)


def token_types(report: WeekReport) -> Pie | None:
    """Each token once: prompt split into uncached and cached, completion with reasoning inside."""
    week = report.week
    parts = [("Uncached prompt", week.split_uncached_prompt_tokens), ("Cached prompt", week.split_cached_tokens),
             ("Completion incl. reasoning", week.split_completion_tokens)]
    slices = [Slice(f"{label} {fmt.tokens(value)}", fmt.plain(int(value))) for label, value in parts if value]
    return Pie("Tokens of the measured models", slices) if slices else None


def lab_lines(report: WeekReport) -> tuple[XYChart, list[tuple[str, str]]] | None:
    """The share (%) of each Monday week's estimate of the labs with the most revenue over the charted
    weeks, and which colour is which lab."""
    weeks = report.series
    if len(weeks) < 2 or not any(w.authors for w in weeks):
        return None
    totals: dict[str, float] = {}
    for w in weeks:
        for author, usd in w.authors.items():
            totals[author] = totals.get(author, 0.0) + usd
    labs = sorted(totals, key=lambda a: (-totals[a], a))[:LAB_LINES]
    shares = [[100 * (w.author_share(lab) or 0.0) for w in weeks] for lab in labs]
    colours = list(COLOURS.items())[: len(labs)]
    chart = XYChart(
        title="Share of each Monday week's estimate (%)",
        x=week_labels([w.day for w in weeks]),
        y_title="Share (%)",
        y_max=fmt.plain(nice_max(max(max(s) for s in shares)), 4),
        lines=[[fmt.plain(round(v, 1), 1) for v in s] for s in shares],
        colours=[hex_ for _, hex_ in colours],
    )
    return chart, [(lab, name) for lab, (name, _) in zip(labs, colours)]


def _plain(usd: float) -> str:
    return fmt.plain(round(usd, 2), 2)
