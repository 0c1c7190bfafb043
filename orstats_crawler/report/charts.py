"""The report's mermaid charts as data: labels already safe, values already plain decimals, every
series as long as its axis (mermaid accepts a shorter series silently and draws it wrong).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from orstats_crawler.report import format as fmt
from orstats_crawler.report.data import Method, ModelRow, Week

TOP = 9  # the seed's "Top 9": the chart's own top-9-plus-Others shape
AXIS_LABEL = 16  # the seed shortens x-axis labels to 16 characters ("Claude Sonnet ..")
INCOMPLETE = "*"  # marks a week whose revenue is known for only part of its model-variants
MODELED = "°"  # marks a Monday week whose split is modeled for some model-variants (history/series.py)
# Mermaid's default chart is 700 pixels wide, ~110 of them the y-axis, and a 14-pixel label character
# is ~8 wide: labels that do not fit side by side (a year of Monday weeks, 51 dates; nine model names)
# are turned on end and the chart widened to keep each ~18 pixels, so every week keeps its full date
# (a short "MM-DD" would repeat after a year, and equal labels merge into one bar).
DEFAULT_WIDTH, AXIS_PIXELS, CHAR_PIXELS, LABEL_PIXELS = 700, 110, 8, 18


@dataclass
class XYChart:
    title: str
    x: list[str]
    y_title: str
    y_max: str
    bar: list[str]
    lines: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for series in (self.bar, *self.lines):
            if len(series) != len(self.x):
                raise ValueError(f"chart {self.title!r}: a series has {len(series)} values "
                                 f"for {len(self.x)} x-axis labels")

    @property
    def directive(self) -> str | None:
        """Mermaid's init directive for a long x-axis (labels on end, a wider chart), else None.
        Written after the chart type so the block still starts with it; mermaid finds a directive
        anywhere in the block and renderers without `labelRotation` ignore it."""
        if CHAR_PIXELS * sum(len(x) for x in self.x) <= DEFAULT_WIDTH - AXIS_PIXELS:
            return None
        width = max(DEFAULT_WIDTH, AXIS_PIXELS + LABEL_PIXELS * len(self.x))
        return "%%{init: " + json.dumps({"xyChart": {"width": width, "xAxis": {"labelRotation": 90}}}) + "}%%"


@dataclass
class Slice:
    label: str
    value: str


@dataclass
class SeriesChart:
    """Revenue over time, and what the chart leaves out or marks."""

    chart: XYChart | None
    line_methods: list[Method]
    incomplete: list[Week]  # weeks marked INCOMPLETE
    unknown: list[Week]  # weeks left out: revenue unknown by the headline method
    modeled: list[Week] = field(default_factory=list)  # weeks marked MODELED


def nice_max(value: float) -> float:
    """The axis top: the next 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _money(value: float) -> str:
    return fmt.plain(round(value, 2), 2)


def week_label(week: Week) -> str:
    """A week by its last day, marked when modeled and when its revenue is partly unknown."""
    return week.week_end + (MODELED if week.modeled else "") + ("" if week.complete else INCOMPLETE)


def revenue_over_time(series: list[Week], headline: Method, others: list[Method]) -> SeriesChart:
    """Bars: the headline figure of every week where it is known; a line per other method that is
    known for all those weeks."""
    shown = [w for w in series if w.revenue(headline) is not None]
    unknown = [w for w in series if w.revenue(headline) is None]
    if not shown:
        return SeriesChart(None, [], [], unknown)
    lines = [m for m in others if all(w.revenue(m) is not None for w in shown)]
    values = [w.revenue(m) for w in shown for m in (headline, *lines)]
    incomplete = [w for w in shown if not w.complete]
    chart = XYChart(
        title="Estimated Weekly Revenue (USD)",
        x=[week_label(w) for w in shown],
        y_title="Revenue (USD)",
        y_max=fmt.plain(nice_max(max(values)), 0),
        bar=[_money(w.revenue(headline)) for w in shown],
        lines=[[_money(w.revenue(m)) for w in shown] for m in lines],
    )
    return SeriesChart(chart, lines, incomplete, unknown, [w for w in shown if w.modeled])


def model_labels(rows: list[ModelRow], limit: int | None = None) -> list[str]:
    return fmt.unique([fmt.mermaid_label(r.name or r.permaslug, limit) for r in rows], limit)


def revenue_by_model(rows: list[ModelRow]) -> XYChart | None:
    """The top 9 model-variants by known revenue (a known zero is no bar)."""
    top = [r for r in rows if r.revenue][:TOP]
    if not top:
        return None
    return XYChart(
        title="Estimated Weekly Revenue by Model (USD)",
        x=model_labels(top, AXIS_LABEL),
        y_title="Revenue (USD)",
        y_max=fmt.plain(nice_max(top[0].revenue), 0),
        bar=[_money(r.revenue) for r in top],
    )


def revenue_share(rows: list[ModelRow]) -> list[Slice]:
    """The top 9 and one slice for every other model-variant with a known revenue."""
    paying = [r for r in rows if r.revenue]
    top, rest = paying[:TOP], paying[TOP:]
    slices = [Slice(label, _money(r.revenue)) for label, r in zip(model_labels(top), top)]
    rest_total = sum(r.revenue for r in rest)
    if rest_total > 0:
        slices.append(Slice(f"{len(rest)} other model-variants", _money(rest_total)))
    return slices


def token_types(week: Week) -> list[Slice]:
    """Each token once: prompt split into uncached and cached, completion with reasoning inside."""
    parts = [("Uncached prompt", week.split_uncached_prompt_tokens), ("Cached prompt", week.split_cached_tokens),
             ("Completion incl. reasoning", week.split_completion_tokens)]
    return [Slice(label, fmt.plain(int(value))) for label, value in parts if value]
