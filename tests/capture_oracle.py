"""An independent recomputation of a current-era capture's weekly figures, straight from its raw files.

    python -m tests.capture_oracle ../shared/captures/openrouter-2026-08-08 [--json]

It imports nothing from orstats_crawler and uses the standard library only, so the project's code can
be checked against it: it reads the capture's manifest, loads each response by its URL, and computes
per (permaslug, variant) of the weekly leaderboard the leaderboard tokens, the measured 7-day split
from model-activity, the list price, and the spends (true list with cached tokens once, the no-cache
upper bound that ranks rows before their split is known, the earlier project's seed formula that
charges cached tokens twice, and the effective spend that traffic actually paid). It also simulates
the two split-selection stop rules and measures the weekly chart's complete Monday weeks from every
model-activity file. The rules restate docs/SOURCES.md, sections 1, 2, 4 and 7.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

MODELS_PATH = "/api/v1/models"
LEADERBOARD_PATH = "/api/frontend/v1/rankings/models"
CHART_PATH = "/api/frontend/v1/rankings/model-rankings-chart"
ACTIVITY_PATH = "/api/frontend/v1/stats/model-activity"
EFFECTIVE_PATH = "/api/frontend/v1/stats/effective-pricing"
STANDARD, FREE = "standard", "free"
OTHERS = "Others"
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


class OracleError(Exception):
    """Input the oracle cannot read: one line naming the source, field and value."""


# --- the capture: its manifest, and each response by URL ------------------------------------------------


@dataclass(frozen=True)
class Entry:
    url: str
    path: str  # the URL's path
    query: tuple[tuple[str, str], ...]
    file: Path


class Capture:
    """One capture folder: its manifest's entries, looked up by URL path and query parameters."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        manifest_file = self.folder / "manifest.json"
        try:
            self.manifest = json.loads(manifest_file.read_text())
        except (OSError, ValueError) as error:
            raise OracleError(f"{manifest_file}: cannot read the manifest ({error})") from None
        try:
            self.captured = date.fromisoformat(self.manifest["captured"])
        except (KeyError, TypeError, ValueError):
            raise OracleError(f"{manifest_file}: field captured is {self.manifest.get('captured')!r}") from None
        self.entries = [self._entry(raw) for raw in self.manifest.get("entries", [])]

    def _entry(self, raw: dict[str, Any]) -> Entry:
        if not isinstance(raw, dict) or "url" not in raw or "file" not in raw:
            raise OracleError(f"{self.folder}/manifest.json: entry without url/file: {str(raw)[:120]}")
        parts = urlsplit(raw["url"])
        return Entry(raw["url"], parts.path, tuple(parse_qsl(parts.query)), self.folder / raw["file"])

    def find(self, path: str, **query: str) -> list[Entry]:
        """Entries at this path whose query holds these parameters (in any order)."""
        return [e for e in self.entries if e.path == path and set(query.items()) <= set(e.query)]

    def one(self, path: str, **query: str) -> Entry | None:
        found = self.find(path, **query)
        if len(found) > 1:
            raise OracleError(f"{self.folder}: {len(found)} manifest entries for {path} {query}")
        return found[0] if found else None

    def load(self, entry: Entry) -> Any:
        """The response's `data` member."""
        try:
            body = json.loads(entry.file.read_text())
        except (OSError, ValueError) as error:
            raise OracleError(f"{entry.url}: cannot read {entry.file} ({error})") from None
        if not isinstance(body, dict) or "data" not in body:
            raise OracleError(f"{entry.url}: body has no 'data' member ({entry.file})")
        return body["data"]

    def week(self) -> tuple[str, str]:
        """The leaderboard's view=week: the 7 complete UTC days before the capture day."""
        return (self.captured - timedelta(days=7)).isoformat(), (self.captured - timedelta(days=1)).isoformat()


# --- list prices ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    prompt: float  # USD per token
    completion: float
    cache_read: float
    public_id: str  # the catalogue id it came from ("" for a :free row the catalogue lacks)

    @property
    def free(self) -> bool:
        return self.prompt == 0 and self.completion == 0


FREE_PRICE = Price(0.0, 0.0, 0.0, "")


def variant_of(public_id: str) -> str:
    """`author/slug:variant` -> variant; no suffix -> standard."""
    return public_id.partition(":")[2] or STANDARD


def usd_per_token(value: Any) -> float | None:
    """A decimal string as USD per token; None for "-1", negatives, non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return float(number) if number.is_finite() and number >= 0 else None


def price_of(pricing: Any, public_id: str) -> Price | None:
    """A catalogue entry's list price, or None when prompt or completion is not a price."""
    if variant_of(public_id) == FREE:
        return Price(0.0, 0.0, 0.0, public_id)
    if not isinstance(pricing, dict):
        return None
    prompt = usd_per_token(pricing.get("prompt", "0"))  # since 2026 an absent key means 0
    completion = usd_per_token(pricing.get("completion", "0"))
    if prompt is None or completion is None:
        return None
    cache_read = usd_per_token(pricing["input_cache_read"]) if "input_cache_read" in pricing else None
    return Price(prompt, completion, prompt if cache_read is None else cache_read, public_id)


def catalogue_prices(capture: Capture) -> dict[tuple[str, str], Price | None]:
    """(canonical_slug, variant) -> list price (None: listed without a usable price). The text
    catalogue wins over ?output_modalities=all; of several ids, the lowest (string order) wins."""
    chosen: dict[tuple[str, str], tuple[int, str, Any]] = {}
    for precedence, entry in enumerate(_catalogues(capture)):
        models = capture.load(entry)
        if not isinstance(models, list):
            raise OracleError(f"{entry.url}: data is {type(models).__name__}, not a list of models")
        for model in models:
            public_id, slug = model.get("id"), model.get("canonical_slug")
            if not isinstance(public_id, str) or not isinstance(slug, str):
                raise OracleError(f"{entry.url}: model without id/canonical_slug: {str(model)[:120]}")
            key = (slug, variant_of(public_id))
            candidate = (precedence, public_id, model.get("pricing"))
            if key not in chosen or candidate[:2] < chosen[key][:2]:
                chosen[key] = candidate
    return {key: price_of(pricing, public_id) for key, (_, public_id, pricing) in chosen.items()}


def _catalogues(capture: Capture) -> list[Entry]:
    text = [e for e in capture.find(MODELS_PATH) if "output_modalities" not in dict(e.query)]
    every = capture.find(MODELS_PATH, output_modalities="all")
    if not text:
        raise OracleError(f"{capture.folder}: no {MODELS_PATH} in the manifest")
    return text + every


def price_for(prices: dict[tuple[str, str], Price | None], permaslug: str, variant: str) -> Price | None:
    if variant == FREE:
        return prices.get((permaslug, variant)) or FREE_PRICE
    return prices.get((permaslug, variant))


# --- measured tokens: model-activity, effective pricing ----------------------------------------------------


@dataclass(frozen=True)
class Split:
    prompt: int
    completion: int
    cached: int
    days: tuple[str, ...]  # the days summed, oldest first

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion


def activity_rows(capture: Capture, entry: Entry) -> list[dict[str, Any]]:
    data = capture.load(entry)
    rows = data.get("analytics") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise OracleError(f"{entry.url}: data.analytics is {type(rows).__name__}, not a list")
    return rows


def day_of(row: dict[str, Any], source: str) -> str:
    value = row.get("date")
    if not isinstance(value, str) or not DAY.match(value):
        raise OracleError(f"{source}: row date is {value!r}")
    return value[:10]


def count(row: dict[str, Any], field: str, source: str) -> int:
    value = row.get(field, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OracleError(f"{source}: {field} is {value!r}")
    return value


def split_between(rows: Iterable[dict[str, Any]], first: str, last: str, source: str) -> Split:
    """Sum of the daily rows dated first..last (inclusive); a day seen twice is an error."""
    prompt = completion = cached = 0
    days: list[str] = []
    for row in rows:
        day = day_of(row, source)
        if not first <= day <= last:
            continue
        if day in days:
            raise OracleError(f"{source}: day {day} appears twice")
        days.append(day)
        prompt += count(row, "total_prompt_tokens", source)
        completion += count(row, "total_completion_tokens", source)
        cached += count(row, "total_native_tokens_cached", source)
    return Split(prompt, completion, cached, tuple(sorted(days)))


@dataclass(frozen=True)
class Effective:
    input: float  # weightedInputPrice, USD per million prompt tokens (cached included)
    output: float  # weightedOutputPrice, USD per million completion tokens
    providers: int
    cache_hit_rate: float | None  # weightedCacheHitRate: the share of prompt tokens read from cache


def effective_of(capture: Capture, entry: Entry) -> Effective:
    data = capture.load(entry)
    if not isinstance(data, dict):
        raise OracleError(f"{entry.url}: data is {type(data).__name__}, not an object")
    values = []
    for field in ("weightedInputPrice", "weightedOutputPrice"):
        value = data.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise OracleError(f"{entry.url}: {field} is {value!r}")
        values.append(float(value))
    rate = data.get("weightedCacheHitRate")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
        rate = None
    return Effective(values[0], values[1], len(data.get("providerSummaries") or []), rate)


def pair_entries(capture: Capture, path: str) -> dict[tuple[str, str], Entry]:
    """(permaslug, variant) -> the manifest entry of a per-model endpoint."""
    found = {}
    for entry in capture.find(path):
        query = dict(entry.query)
        if "permaslug" not in query:
            raise OracleError(f"{entry.url}: no permaslug parameter")
        found[(query["permaslug"], query.get("variant", STANDARD))] = entry
    return found


# --- one leaderboard row and its spends -----------------------------------------------------------------


@dataclass
class Row:
    permaslug: str
    variant: str
    prompt: int  # leaderboard tokens
    completion: int
    price: Price | None
    split: Split | None  # None: no model-activity in the capture
    effective: Effective | None  # None: no effective-pricing in the capture

    @property
    def key(self) -> tuple[str, str]:
        return self.permaslug, self.variant

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion

    @property
    def free(self) -> bool:
        return self.price is not None and self.price.free

    @property
    def paid(self) -> bool:
        return self.price is not None and not self.price.free

    @property
    def upper_bound(self) -> float | None:
        """List spend with no cache discount, from leaderboard tokens: what ranks rows before the split."""
        if self.price is None:
            return None
        return self.prompt * self.price.prompt + self.completion * self.price.completion

    @property
    def true_list(self) -> float | None:
        """List spend with each cached token once, at the cache-read price."""
        if self.price is None or self.split is None:
            return None
        return list_spend(self.split.prompt, self.split.completion, self.split.cached, self.price)

    @property
    def seed(self) -> float | None:
        """The earlier project's formula: prompt + completion + cached again at the cache-read price."""
        if self.price is None or self.split is None:
            return None
        s, p = self.split, self.price
        return s.prompt * p.prompt + s.completion * p.completion + s.cached * p.cache_read

    @property
    def effective_usd(self) -> float | None:
        """Leaderboard tokens at what traffic paid; 0 for free, None where the source gives 0/0."""
        if self.variant == FREE or self.free:
            return 0.0
        e = self.effective
        if e is None or (e.input == 0 and e.output == 0):
            return None
        return (self.prompt * e.input + self.completion * e.output) / 1e6

    @property
    def cached_share(self) -> float | None:
        if self.split is None or self.split.prompt == 0:
            return None
        return self.split.cached / self.split.prompt


def list_spend(prompt: float, completion: float, cached: float, price: Price) -> float:
    return (prompt - cached) * price.prompt + cached * price.cache_read + completion * price.completion


def leaderboard_rows(capture: Capture, prices: dict[tuple[str, str], Price | None] | None = None) -> list[Row]:
    """Every row of view=week with its price, its measured split for the leaderboard week and its
    effective prices."""
    entry = capture.one(LEADERBOARD_PATH, view="week")
    if entry is None:
        raise OracleError(f"{capture.folder}: no {LEADERBOARD_PATH}?view=week in the manifest")
    data = capture.load(entry)
    if not isinstance(data, list):
        raise OracleError(f"{entry.url}: data is {type(data).__name__}, not a list of rows")
    prices = catalogue_prices(capture) if prices is None else prices
    activity, effective = pair_entries(capture, ACTIVITY_PATH), pair_entries(capture, EFFECTIVE_PATH)
    first, last = capture.week()
    rows = []
    for raw in data:
        permaslug, variant = raw.get("model_permaslug"), raw.get("variant")
        if not isinstance(permaslug, str) or not isinstance(variant, str):
            raise OracleError(f"{entry.url}: row without model_permaslug/variant: {str(raw)[:120]}")
        source = f"{entry.url} row {permaslug}:{variant}"
        key = (permaslug, variant)
        split = None
        if key in activity:
            split = split_between(activity_rows(capture, activity[key]), first, last, activity[key].url)
        rows.append(Row(
            permaslug, variant,
            count(raw, "total_prompt_tokens", source), count(raw, "total_completion_tokens", source),
            price_for(prices, permaslug, variant), split,
            effective_of(capture, effective[key]) if key in effective else None,
        ))
    return rows


def split_mismatches(rows: Iterable[Row]) -> list[str]:
    """Rows whose measured 7-day prompt/completion differ from the leaderboard's."""
    return [
        f"{r.permaslug}:{r.variant} leaderboard {r.prompt}+{r.completion}, "
        f"activity {r.split.prompt}+{r.split.completion} over {len(r.split.days)} days"
        for r in rows
        if r.split is not None and (r.split.prompt, r.split.completion) != (r.prompt, r.completion)
    ]


def total(rows: Iterable[Row], value: Callable[[Row], float | None]) -> tuple[float, int]:
    """Sum of the known values and how many rows were known."""
    known = [v for v in map(value, rows) if v is not None]
    return sum(known), len(known)


def week_totals(rows: list[Row]) -> dict[str, Any]:
    true_list, n_list = total(rows, lambda r: r.true_list)
    upper, n_upper = total(rows, lambda r: r.upper_bound)
    seed, _ = total(rows, lambda r: r.seed)
    effective, n_effective = total(rows, lambda r: r.effective_usd)
    both = [r for r in rows if r.true_list is not None and r.effective_usd is not None]
    unpriced = [r for r in rows if r.price is None]
    return {
        "rows": len(rows),
        "rows_measured": sum(r.split is not None for r in rows),
        "rows_priced": n_upper,
        "rows_paid": sum(r.paid for r in rows),
        "rows_free": sum(r.free for r in rows),
        "rows_true_list": n_list,
        "rows_effective": n_effective,
        "rows_effective_paid": sum(r.paid and r.effective_usd is not None for r in rows),
        "rows_both": len(both),
        "true_list_usd": true_list,
        "upper_bound_usd": upper,
        "seed_usd": seed,
        "effective_usd": effective,
        "both_list_usd": sum(r.true_list for r in both),
        "both_effective_usd": sum(r.effective_usd for r in both),
        "tokens": sum(r.tokens for r in rows),
        "tokens_unpriced": sum(r.tokens for r in unpriced),
        "rows_unpriced": len(unpriced),
        "rows_unpriced_with_effective": sum(r.effective_usd is not None for r in unpriced),
        "effective_usd_unpriced": sum(r.effective_usd or 0.0 for r in unpriced),
    }


# --- which splits a crawl fetches -----------------------------------------------------------------------


def ranked(rows: Iterable[Row]) -> list[Row]:
    """Upper bound descending, unpriced last (by tokens); ties by tokens, then name."""
    return sorted(rows, key=lambda r: (r.upper_bound is None, -(r.upper_bound or 0.0), -r.tokens, r.key))


@dataclass(frozen=True)
class Selection:
    rule: str
    fetched: list[Row]
    measured_list_usd: float  # true list spend of the fetched rows
    true_list_total_usd: float  # of every row with a known split and price

    @property
    def count(self) -> int:
        return len(self.fetched)

    @property
    def share(self) -> float:
        return self.measured_list_usd / self.true_list_total_usd


def select_by_upper_bound(rows: list[Row], target: float) -> Selection:
    """Fetch in rank order while the cumulative upper bound is below target x the total upper bound."""
    order = [r for r in ranked(rows) if (r.upper_bound or 0.0) > 0]
    ceiling = target * sum(r.upper_bound for r in order)
    fetched, reached = [], 0.0
    for row in order:
        if reached >= ceiling:
            break
        fetched.append(row)
        reached += row.upper_bound
    return _selection(f"cumulative upper bound >= {target:.0%} of the total upper bound", fetched, rows)


def select_by_measured_spend(rows: list[Row], target: float) -> Selection:
    """Fetch in rank order until measured / (measured + upper bound of the rest) >= target; a fetched
    row whose split turned out unknown keeps its upper bound on the unknown side."""
    order = [r for r in ranked(rows) if (r.upper_bound or 0.0) > 0]
    unknown = sum(r.upper_bound for r in order)
    fetched, measured = [], 0.0
    for row in order:
        if measured + unknown > 0 and measured / (measured + unknown) >= target:
            break
        fetched.append(row)
        if row.true_list is not None:
            measured += row.true_list
            unknown -= row.upper_bound
    return _selection(f"measured / (measured + upper bound of the rest) >= {target:.0%}", fetched, rows)


def _selection(rule: str, fetched: list[Row], rows: list[Row]) -> Selection:
    measured = sum(r.true_list or 0.0 for r in fetched)
    return Selection(rule, fetched, measured, total(rows, lambda r: r.true_list)[0])


# --- the weekly chart's Monday weeks, measured from every model-activity file -------------------------------


def chart_weeks(capture: Capture) -> list[tuple[str, dict[str, int]]]:
    entry = capture.one(CHART_PATH)
    if entry is None:
        raise OracleError(f"{capture.folder}: no {CHART_PATH} in the manifest")
    data = capture.load(entry)
    weeks = data.get("data") if isinstance(data, dict) else None
    if not isinstance(weeks, list):
        raise OracleError(f"{entry.url}: data.data is {type(weeks).__name__}, not a list of weeks")
    return [(week["x"], dict(week["ys"])) for week in weeks]


def chart_key(key: str) -> tuple[str, str]:
    slug, _, variant = key.partition(":")
    return slug, variant or STANDARD


@dataclass
class PairWeek:
    key: tuple[str, str]
    split: Split
    price: Price | None

    @property
    def list_usd(self) -> float | None:
        if self.price is None:
            return None
        return list_spend(self.split.prompt, self.split.completion, self.split.cached, self.price)


@dataclass
class ChartWeek:
    monday: str
    chart: dict[str, int]  # the chart's ys
    pairs: dict[tuple[str, str], PairWeek]  # every (permaslug, variant) with traffic that week

    @property
    def named(self) -> set[tuple[str, str]]:
        return {chart_key(k) for k in self.chart if k != OTHERS}

    def outside(self, named: set[tuple[str, str]]) -> list[PairWeek]:
        return [p for k, p in self.pairs.items() if k not in named]

    def blended(self, named: set[tuple[str, str]]) -> float:
        """USD per token of the priced traffic outside these keys (free traffic counts, at 0)."""
        priced = [p for p in self.outside(named) if p.price is not None]
        return sum(p.list_usd for p in priced) / sum(p.split.tokens for p in priced)

    @property
    def list_usd(self) -> float:
        return sum(p.list_usd or 0.0 for p in self.pairs.values())

    @property
    def tokens(self) -> int:
        return sum(p.split.tokens for p in self.pairs.values())

    @property
    def unpriced_tokens(self) -> int:
        return sum(p.split.tokens for p in self.pairs.values() if p.price is None)


def activity_dates(capture: Capture) -> set[str]:
    """The days any model-activity file holds a row for."""
    return {day_of(row, e.url) for e in capture.find(ACTIVITY_PATH) for row in activity_rows(capture, e)}


def complete_mondays(capture: Capture) -> list[str]:
    """Chart weeks whose 7 days all lie in the activity data before the (partial) capture day."""
    days = {d for d in activity_dates(capture) if d < capture.captured.isoformat()}
    return [
        monday for monday, _ in chart_weeks(capture)
        if all((date.fromisoformat(monday) + timedelta(days=i)).isoformat() in days for i in range(7))
    ]


def measure_chart_week(capture: Capture, monday: str, prices: dict[tuple[str, str], Price | None]) -> ChartWeek:
    chart = dict(chart_weeks(capture))[monday]
    last = (date.fromisoformat(monday) + timedelta(days=6)).isoformat()
    pairs = {}
    for key, entry in pair_entries(capture, ACTIVITY_PATH).items():
        split = split_between(activity_rows(capture, entry), monday, last, entry.url)
        if split.tokens:
            pairs[key] = PairWeek(key, split, price_for(prices, *key))
    return ChartWeek(monday, chart, pairs)


# --- the report -----------------------------------------------------------------------------------------


def oracle(folder: Path) -> dict[str, Any]:
    """Every figure of the CLI, as plain data."""
    capture = Capture(folder)
    prices = catalogue_prices(capture)
    rows = leaderboard_rows(capture, prices)
    first, last = capture.week()
    days = sorted({d for r in rows if r.split for d in r.split.days})
    selections = [select_by_upper_bound(rows, 0.95), select_by_measured_spend(rows, 0.95)]
    weeks = [measure_chart_week(capture, monday, prices) for monday in complete_mondays(capture)]
    return {
        "capture": str(folder),
        "week": [first, last],
        "activity_days_used": days,
        "split_mismatches": split_mismatches(rows),
        "totals": week_totals(rows),
        "selections": [
            {"rule": s.rule, "splits": s.count, "measured_list_usd": s.measured_list_usd, "share": s.share}
            for s in selections
        ],
        "rows": [row_summary(r, [r in s.fetched for s in selections]) for r in ranked(rows)],
        "chart_weeks": [chart_week_summary(w) for w in weeks],
    }


def row_summary(row: Row, fetched: list[bool]) -> dict[str, Any]:
    s, p, e = row.split, row.price, row.effective
    return {
        "permaslug": row.permaslug, "variant": row.variant,
        "leaderboard_prompt": row.prompt, "leaderboard_completion": row.completion,
        "measured_prompt": s and s.prompt, "measured_completion": s and s.completion,
        "measured_cached": s and s.cached, "measured_days": s and len(s.days),
        "public_id": p and p.public_id, "prompt_price": p and p.prompt, "completion_price": p and p.completion,
        "cache_read_price": p and p.cache_read,
        "weighted_input_price": e and e.input, "weighted_output_price": e and e.output,
        "upper_bound_usd": row.upper_bound, "true_list_usd": row.true_list, "seed_usd": row.seed,
        "effective_usd": row.effective_usd, "fetched_by_rule": fetched,
    }


def chart_week_summary(week: ChartWeek) -> dict[str, Any]:
    keys = {}
    for key, tokens in week.chart.items():
        if key == OTHERS:
            continue
        pair = week.pairs.get(chart_key(key))
        keys[key] = {
            "chart_tokens": tokens,
            "measured_tokens": pair.split.tokens if pair else 0,
            "list_usd": pair.list_usd if pair else None,
        }
    outside = week.outside(week.named)
    return {
        "monday": week.monday,
        "chart_tokens": sum(week.chart.values()),
        "chart_others_tokens": week.chart.get(OTHERS, 0),
        "measured_tokens": week.tokens,
        "measured_outside_tokens": sum(p.split.tokens for p in outside),
        "list_usd": week.list_usd,
        "unpriced_tokens": week.unpriced_tokens,
        "outside_usd_per_mtok": week.blended(week.named) * 1e6,
        "keys": keys,
    }


def usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value / 1e6:,.3f}M"


def render(result: dict[str, Any]) -> str:
    t = result["totals"]
    lines = [
        f"# Capture oracle: {result['capture']}",
        f"Leaderboard week {result['week'][0]} .. {result['week'][1]}; activity days summed: "
        f"{', '.join(result['activity_days_used'])}",
        f"Rows whose 7-day activity differs from the leaderboard: {len(result['split_mismatches'])}",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| leaderboard rows (measured split / priced / paid / free) | {t['rows']} ({t['rows_measured']} / "
        f"{t['rows_priced']} / {t['rows_paid']} / {t['rows_free']}) |",
        f"| true list total, cached once ({t['rows_true_list']} rows) | {usd(t['true_list_usd'])} |",
        f"| no-cache upper bound ({t['rows_priced']} rows) | {usd(t['upper_bound_usd'])} |",
        f"| seed formula, cached twice | {usd(t['seed_usd'])} |",
        f"| effective total ({t['rows_effective']} rows, {t['rows_effective_paid']} paid) | "
        f"{usd(t['effective_usd'])} |",
        f"| rows with list and effective: list / effective ({t['rows_both']} rows) | "
        f"{usd(t['both_list_usd'])} / {usd(t['both_effective_usd'])} |",
        f"| rows with no list price: rows, tokens, share of tokens | {t['rows_unpriced']}, "
        f"{t['tokens_unpriced']:,}, {t['tokens_unpriced'] / t['tokens']:.1%} |",
        "",
        "| selection rule | splits | measured true list | share of true list total |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {s['rule']} | {s['splits']} | {usd(s['measured_list_usd'])} | {s['share']:.1%} |"
              for s in result["selections"]]
    lines += ["", "| chart week | chart tokens | measured tokens | list spend | outside named keys $/M |",
              "|---|---:|---:|---:|---:|"]
    lines += [f"| {w['monday']} | {w['chart_tokens']:,} | {w['measured_tokens']:,} | {usd(w['list_usd'])} | "
              f"{w['outside_usd_per_mtok']:.4f} |" for w in result["chart_weeks"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.capture_oracle", description=__doc__.split("\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = parser.parse_args(argv)
    try:
        result = oracle(args.capture)
    except OracleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
