"""Decode the Next.js React-flight data that legacy-era pages embed, and find data in it by shape.

A server-rendered page carries its data as `<script>self.__next_f.push([1,"<js string>"])</script>`
chunks. Decoding (docs/SOURCES.md section 5):

1. take every `[1, "..."]` chunk in document order and unescape it as a JSON string (`\\u003c`,
   `\\n`, `\\"` ...): chunks split anywhere, mid-line and mid-string, so nothing is parsed per chunk;
2. concatenate them (one ``str.join``: a 5 MB page must not be rebuilt chunk by chunk);
3. split the payload into rows at a newline followed by `<hex id>:` (hint rows have an empty id);
4. parse the rows that are JSON. Other rows (`I[...]` modules, `HL[...]` hints, `T<len>,text`) are
   kept as text and never parsed.

Row ids and `$Lxx` references change from build to build, so data is found by its shape only:

- **rows**: a list of objects carrying `model_permaslug` (the leaderboard's `rankingData`; a model
  page's daily `analytics`, which sits next to a `model` object);
- **series**: an object whose `data` is a list of `{"x", "ys": {...}}` points. Its keys say what it
  counts: some contain `/` (model-variants, plus `Others`) or none do (authors).
- **the weekly top-model chart** is the model series whose points are consecutive Mondays, 7 days
  apart, *and* that is either flagged with a `forecast` sibling key or spans at least 52 weeks. The
  2025-11-07 page also holds daily model series (26 and 30 points), a 15-week Monday series (its
  `x` are timestamps) and two 13-week Monday series of other token kinds: none of them qualifies. When
  several qualify, the one with `forecast` wins, then the longest, then the first in the page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterator

from orstats_crawler import normalize
from orstats_crawler.sources import SourceError

PUSH = re.compile(r"self\.__next_f\.push\(\[\s*1\s*,\s*\"")
ROW_BREAK = re.compile(r"\n(?=[0-9A-Fa-f]*:)")
JSON_START = frozenset('[{"-0123456789')  # `null`/`true`/`false` rows carry nothing to find
WEEKLY_CHART_MIN_WEEKS = 52
OTHERS = "Others"

_scanstring = json.decoder.scanstring  # the C scanner: unescapes a JSON string from an offset


def is_flight_page(body: bytes | str) -> bool:
    """Whether a response embeds flight chunks (the legacy era's server-rendered pages do)."""
    marker = "self.__next_f.push"
    return (marker.encode() if isinstance(body, bytes) else marker) in body


def chunks(html: str, source: str, url: str) -> list[str]:
    """The unescaped `[1, "..."]` chunks, in document order."""
    found = []
    for match in PUSH.finditer(html):
        try:
            text, _ = _scanstring(html, match.end(), False)
        except ValueError as exc:
            raise SourceError(source, url, f"flight chunk {len(found)}", f"not a JS string literal ({exc})") from None
        found.append(text)
    return found


@dataclass
class FlightRow:
    id: str
    text: str  # the row as written after `<id>:`
    _value: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    @property
    def value(self) -> Any:
        """The row's JSON value, or None when the row is not JSON (parsed once, on demand)."""
        if not self._parsed:
            self._parsed = True
            if self.text[:1] in JSON_START:
                try:
                    self._value = json.loads(self.text)
                except ValueError:
                    self._value = None  # a text row that happens to start like JSON
        return self._value


class FlightData:
    """The rows of one page's flight payload, with finders by shape."""

    def __init__(self, payload: str, source: str, url: str):
        self.source, self.url = source, url
        self.rows = [FlightRow(*_split_row(text)) for text in ROW_BREAK.split(payload) if text]

    @classmethod
    def from_html(cls, body: bytes | str, source: str, url: str) -> "FlightData":
        html = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        found = chunks(html, source, url)
        if not found:
            head = "JSON instead of a page" if html.lstrip()[:1] in "[{" else "a page without flight data"
            raise SourceError(source, url, "self.__next_f", f"{head}: no `self.__next_f.push([1, ...])` chunk")
        return cls("".join(found), source, url)

    def objects(self, marker: str) -> Iterator[dict[str, Any]]:
        """Every JSON object in the rows whose text contains ``marker`` (a cheap pre-filter: most
        rows are markup), depth first in document order. A list of `model_permaslug` rows is not
        entered (thousands of flat objects; the finders look at the object holding it)."""
        for row in self.rows:
            if marker not in row.text:
                continue
            stack = [row.value]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    yield node
                    children = node.values()
                elif node and isinstance(node[0], dict) and "model_permaslug" in node[0]:
                    continue
                else:
                    children = node
                stack.extend([c for c in children if isinstance(c, (dict, list))][::-1])

    # --- rows with model_permaslug ----------------------------------------------------------

    def leaderboards(self) -> list[list[dict[str, Any]]]:
        """Lists of leaderboard rows (one object per model-variant), in document order."""
        return [rows for key, rows, parent in self._permaslug_lists() if not _is_daily(key, parent)]

    def daily_analytics(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """(model, daily rows) of each model page block: `{"model": {...}, "analytics": [...]}`."""
        return [(parent.get("model") or {}, rows) for key, rows, parent in self._permaslug_lists()
                if _is_daily(key, parent)]

    def _permaslug_lists(self) -> Iterator[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
        for node in self.objects('"model_permaslug"'):
            for key, value in node.items():
                if isinstance(value, list) and value and all(
                        isinstance(r, dict) and "model_permaslug" in r for r in value):
                    yield key, value, node

    # --- x/ys series --------------------------------------------------------------------------

    def series(self) -> list["Series"]:
        found = []
        for node in self.objects('"ys"'):
            points = node.get("data")
            if isinstance(points, list) and points and all(
                    isinstance(p, dict) and "x" in p and isinstance(p.get("ys"), dict) for p in points):
                found.append(Series(points, has_forecast="forecast" in node, order=len(found)))
        return found

    def weekly_model_chart(self) -> "Series | None":
        """The weekly top-model chart (rule in the module docstring), or None."""
        candidates = [s for s in self.series() if s.kind == "model" and s.monday_weekly
                      and (s.has_forecast or len(s.points) >= WEEKLY_CHART_MIN_WEEKS)]
        return min(candidates, key=lambda s: (not s.has_forecast, -len(s.points), s.order), default=None)

    def author_chart(self) -> "Series | None":
        """The longest author series (keys without `/`), or None."""
        return min((s for s in self.series() if s.kind == "author"),
                   key=lambda s: (-len(s.points), s.order), default=None)


@dataclass
class Series:
    points: list[dict[str, Any]]
    has_forecast: bool
    order: int  # position among the page's series

    @property
    def kind(self) -> str | None:
        """`model` when some key names a model-variant (`author/slug`), `author` when none does."""
        keys = {k for p in self.points for k in p["ys"] if k != OTHERS}
        if not keys:
            return None
        return "model" if any("/" in k for k in keys) else "author"

    @property
    def monday_weekly(self) -> bool:
        """Every x a Monday (date or UTC timestamp), each 7 days after the one before."""
        days = [_day(p["x"]) for p in self.points]
        if any(d is None or d.weekday() != 0 for d in days):
            return False
        return all(b - a == timedelta(days=7) for a, b in zip(days, days[1:]))


def _split_row(text: str) -> tuple[str, str]:
    row_id, sep, rest = text.partition(":")
    return (row_id, rest) if sep else ("", text)


def _is_daily(key: str, parent: dict[str, Any]) -> bool:
    """A model page's daily rows sit under `analytics` next to the `model` they belong to."""
    return key == "analytics" and isinstance(parent.get("model"), dict)


def _day(value: Any) -> date | None:
    try:
        return normalize.utc_day(value)
    except (TypeError, ValueError):
        return None
