"""Research for the weekly best estimate, on a capture that holds every model-variant's split.

    python -m bench.estimate_research [--capture PATH] [--json]

Computed by tests/capture_oracle.py from the raw capture files (nothing from orstats_crawler). Only
the splits that the measured-spend stop rule selects count as measured; every other split is hidden
and used only as the truth to score the estimates against:

1. imputation of the cached share of prompt tokens for unmeasured paid rows (by model family, by
   author, the week's token-weighted median, the effective-pricing endpoint's weightedCacheHitRate),
   scored on the total and per row;
2. the 10th-90th percentile band of measured cached shares (global or per author) around the total;
3. the best total (effective where published, else measured list, else imputed list, free 0), the
   share of priced tokens it covers and the width of its band;
4. a backtest of the Monday-week series: each complete chart week modeled from a neighbouring week.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from bench.common import CAPTURES
from tests.capture_oracle import (
    OTHERS, Capture, ChartWeek, Row, catalogue_prices, chart_key, complete_mondays, leaderboard_rows,
    measure_chart_week, select_by_measured_spend, usd,
)

DEFAULT_CAPTURE = CAPTURES / "openrouter-2026-08-08"
TARGET = 0.95  # the stop rule's spend coverage
DATED = re.compile(r"^\d{8}$|^\d{4}$|^\d{2}$")  # date-ish tokens: 20260217, 2505, 0127, 08, 07
NOISE = {"preview", "exp", "customtools", "latest"}  # name words that do not change the model's use
MIN_AUTHOR_ROWS = 3  # measured rows an author needs for a band of its own


# --- model families -------------------------------------------------------------------------------------


def author(permaslug: str) -> str:
    return permaslug.partition("/")[0]


def words(permaslug: str) -> list[str]:
    """The slug's name tokens, date suffixes dropped: `anthropic/claude-4.6-sonnet-20260217` ->
    [claude, 4, 6, sonnet]."""
    tokens = re.split(r"[-_.]", permaslug.partition("/")[2].lower())
    while len(tokens) > 1 and DATED.match(tokens[-1]):
        tokens.pop()
    return tokens


def base_name(permaslug: str) -> str:
    """The name before its first version number: claude, gpt, gemini, deepseek, qwen (qwen3.7 -> qwen)."""
    first = words(permaslug)[0]
    return re.match(r"[a-z]*", first).group() or first


def series(permaslug: str) -> str:
    """Author + base name: anthropic/claude, openai/gpt, google/gemini."""
    return f"{author(permaslug)}/{base_name(permaslug)}"


def line(permaslug: str) -> str:
    """Author + the name's words without version numbers: claude-sonnet, claude-opus-fast, gpt-luna-pro,
    gemini-flash-lite, deepseek-flash; a model's tier survives its versions."""
    kept = [t for t in words(permaslug)[1:] if t.isalpha() and t not in NOISE]
    return f"{series(permaslug)}{''.join('-' + t for t in kept)}"


# --- imputing the cached share ----------------------------------------------------------------------------


def weighted_median(values: list[float], weights: list[float]) -> float:
    pairs = sorted(zip(values, weights))
    half, running = sum(weights) / 2, 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    return pairs[-1][0]


def cache_share(rows: Iterable[Row]) -> float:
    """Pooled cached / prompt of measured rows (token-weighted)."""
    rows = list(rows)
    return sum(r.split.cached for r in rows) / sum(r.split.prompt for r in rows)


@dataclass
class Imputer:
    """Cached share for an unmeasured row from the measured rows: the first level whose group has a
    measured row, else the week's token-weighted median."""

    name: str
    levels: list[tuple[str, Callable[[str], str]]]
    measured: list[Row]

    def __post_init__(self) -> None:
        usable = [r for r in self.measured if r.split.prompt > 0]
        self.median = weighted_median([r.cached_share for r in usable], [r.split.prompt for r in usable])
        self.groups = []
        for _, group_of in self.levels:
            members: dict[str, list[Row]] = defaultdict(list)
            for r in usable:
                members[group_of(r.permaslug)].append(r)
            self.groups.append({g: cache_share(rs) for g, rs in members.items()})

    def share(self, row: Row) -> tuple[float, str]:
        for (level, group_of), shares in zip(self.levels, self.groups):
            if group_of(row.permaslug) in shares:
                return shares[group_of(row.permaslug)], level
        return self.median, "median"


class HitRateImputer:
    """The cached share the effective-pricing endpoint states (weightedCacheHitRate), else the median."""

    name = "effective-pricing weightedCacheHitRate, else median"

    def __init__(self, measured: list[Row]):
        self.fallback = Imputer("median", [], measured)

    def share(self, row: Row) -> tuple[float, str]:
        e = row.effective
        if e is None or e.providers == 0 or e.cache_hit_rate is None:
            return self.fallback.share(row)
        return e.cache_hit_rate, "hit rate"


def imputed_list(row: Row, share: float) -> float:
    """List spend from leaderboard tokens with `share` of prompt tokens read from cache."""
    p = row.price
    return row.prompt * ((1 - share) * p.prompt + share * p.cache_read) + row.completion * p.completion


def score(imputer: Any, hidden: list[Row], measured_usd: float) -> dict[str, Any]:
    estimates = [imputed_list(r, imputer.share(r)[0]) for r in hidden]
    truths = [r.true_list for r in hidden]
    # per-row errors only where the share matters: a cache-read price below the prompt price
    errors = [abs(e / t - 1) for r, e, t in zip(hidden, estimates, truths)
              if t > 0 and r.prompt > 0 and r.price.cache_read < r.price.prompt]
    estimated, true = sum(estimates), sum(truths)
    return {
        "method": imputer.name,
        "rows": len(hidden),
        "rows_with_cache_discount": len(errors),
        "levels": dict(Counter(imputer.share(r)[1] for r in hidden)),
        "hidden_true_usd": true,
        "hidden_estimated_usd": estimated,
        "hidden_total_error": estimated / true - 1,
        "week_total_error": (measured_usd + estimated) / (measured_usd + true) - 1,
        "row_median_abs_error": statistics.median(errors),
        "row_p90_abs_error": statistics.quantiles(errors, n=10, method="inclusive")[8],
        "row_spend_weighted_abs_error": sum(abs(e - t) for e, t in zip(estimates, truths)) / true,
    }


def imputers(measured: list[Row]) -> list[Any]:
    return [
        Imputer("week's token-weighted median", [], measured),
        Imputer("author, else median", [("author", author)], measured),
        Imputer("series (author + leading name), else author, else median",
                [("series", series), ("author", author)], measured),
        Imputer("line (name without versions), else series, else author, else median",
                [("line", line), ("series", series), ("author", author)], measured),
        HitRateImputer(measured),
    ]


# --- bands ----------------------------------------------------------------------------------------------


def deciles(shares: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(shares, n=10, method="inclusive")
    return cuts[0], cuts[8]


class ShareBand:
    """10th and 90th percentile of the measured rows' cached shares (unweighted), per author when it has
    MIN_AUTHOR_ROWS measured rows, else over every measured row."""

    def __init__(self, measured: list[Row], per_author: bool):
        usable = [r for r in measured if r.split.prompt > 0]
        self.overall = deciles([r.cached_share for r in usable])
        by_author: dict[str, list[float]] = defaultdict(list)
        for r in usable:
            by_author[author(r.permaslug)].append(r.cached_share)
        self.by_author = {
            a: deciles(s) for a, s in by_author.items() if per_author and len(s) >= MIN_AUTHOR_ROWS
        }

    def range(self, row: Row) -> tuple[float, float]:
        """(low, high) list spend: low at the high cached share."""
        low_share, high_share = self.by_author.get(author(row.permaslug), self.overall)
        return imputed_list(row, high_share), imputed_list(row, low_share)


def band_score(band: ShareBand, hidden: list[Row], point: float, measured_usd: float) -> dict[str, Any]:
    ranges = [band.range(r) for r in hidden]
    low, high = sum(lo for lo, _ in ranges), sum(hi for _, hi in ranges)
    true = sum(r.true_list for r in hidden)
    inside = [lo - 1e-9 <= r.true_list <= hi + 1e-9 for r, (lo, hi) in zip(hidden, ranges)]
    return {
        "hidden_low_usd": low, "hidden_high_usd": high, "hidden_true_usd": true,
        "hidden_point_usd": point,
        "week_low_vs_point": (measured_usd + low) / (measured_usd + point) - 1,
        "week_high_vs_point": (measured_usd + high) / (measured_usd + point) - 1,
        "week_true_inside": measured_usd + low <= measured_usd + true <= measured_usd + high,
        "rows_true_inside": sum(inside) / len(inside),
        "spend_true_inside": sum(r.true_list for r, ok in zip(hidden, inside) if ok) / true,
    }


# --- the best estimate ----------------------------------------------------------------------------------


# What an effective row's band spans when its split was not measured: nothing but the effective figure;
# or also the list figure from the imputed cached share; or also the share band's low and high; or (an
# oracle no crawl has) also the true list figure.
UNMEASURED_EFFECTIVE = ("effective only", "imputed list", "share band", "true list (every split)")


def best_estimate(rows: list[Row], measured: set, imputer: Any, band: ShareBand, mode: str) -> dict[str, Any]:
    """Per row: free 0; effective where published; else measured list; else imputed list; else unknown.
    Band: an effective row spans [min, max] of the effective and the list figure (measured, else per
    `mode`); a measured list row is exact; an imputed row spans its share band."""
    best = low = high = 0.0
    basis_usd: Counter = Counter()
    basis_rows: Counter = Counter()
    basis_tokens: Counter = Counter()
    for r in rows:
        basis, value, lo, hi = classify(r, measured, imputer, band, mode)
        basis_rows[basis] += 1
        basis_tokens[basis] += r.tokens
        if value is None:
            continue
        basis_usd[basis] += value
        best, low, high = best + value, low + lo, high + hi
    priced = sum(r.tokens for r in rows if r.price is not None or r.effective_usd is not None)
    covered = sum(t for b, t in basis_tokens.items() if b != "unknown")
    return {
        "best_usd": best, "low_usd": low, "high_usd": high,
        "low_vs_best": low / best - 1, "high_vs_best": high / best - 1,
        "basis_rows": dict(basis_rows), "basis_usd": dict(basis_usd), "basis_tokens": dict(basis_tokens),
        "priced_tokens_covered": covered / priced,
        "all_tokens_covered": covered / sum(r.tokens for r in rows),
    }


def classify(r: Row, measured: set, imputer: Any, band: ShareBand, mode: str) -> tuple[str, float | None, float, float]:
    if r.variant == "free" or r.free:
        return "free", 0.0, 0.0, 0.0
    is_measured = r.key in measured and r.true_list is not None
    if r.effective_usd is not None:
        e = r.effective_usd
        if is_measured or (mode == UNMEASURED_EFFECTIVE[3] and r.true_list is not None):
            return "effective", e, min(e, r.true_list), max(e, r.true_list)
        if r.price is None or mode == UNMEASURED_EFFECTIVE[0]:
            return "effective", e, e, e
        if mode == UNMEASURED_EFFECTIVE[1]:
            point = imputed_list(r, imputer.share(r)[0])
            return "effective", e, min(e, point), max(e, point)
        lo, hi = band.range(r)
        return "effective", e, min(e, lo), max(e, hi)
    if is_measured:
        return "list", r.true_list, r.true_list, r.true_list
    if r.price is not None:
        value = imputed_list(r, imputer.share(r)[0])
        lo, hi = band.range(r)
        return "imputed", value, min(lo, value), max(hi, value)
    return "unknown", None, 0.0, 0.0


def list_side(rows: list[Row], measured: set, imputer: Any) -> float:
    """The week at list prices with what a crawl knows: measured splits, imputed shares for the other
    priced rows, free 0, and the effective figure for rows with no list price."""
    spend = 0.0
    for r in rows:
        if r.variant == "free" or r.free:
            continue
        if r.key in measured and r.true_list is not None:
            spend += r.true_list
        elif r.price is not None:
            spend += imputed_list(r, imputer.share(r)[0])
        elif r.effective_usd is not None:
            spend += r.effective_usd
    return spend


def effective_coverage(rows: list[Row]) -> dict[str, Any]:
    """How much of the week the effective-pricing endpoint prices, fetched for every ranked paid row."""
    paid = [r for r in rows if r.paid]
    with_effective = [r for r in paid if r.effective_usd is not None]
    priced = [r for r in rows if r.price is not None]
    free = [r for r in rows if r.free]
    return {
        "paid_rows": len(paid),
        "paid_rows_with_effective": len(with_effective),
        "paid_tokens_with_effective": sum(r.tokens for r in with_effective) / sum(r.tokens for r in paid),
        "paid_list_usd_with_effective": sum(r.true_list for r in with_effective) / sum(r.true_list for r in paid),
        "priced_tokens_effective_or_free": (sum(r.tokens for r in with_effective) + sum(r.tokens for r in free))
        / sum(r.tokens for r in priced),
        "paid_without_effective": [f"{r.permaslug}:{r.variant}" for r in paid if r.effective_usd is None],
    }


# --- backtest of the Monday-week series -----------------------------------------------------------------


def key_rate(week: ChartWeek, key: str, others_rate: float) -> tuple[float, str]:
    """A chart key's list $/token in a measured week: 0 when free; its own when it had priced traffic
    then; else the blended rate."""
    slug, variant = chart_key(key)
    pair = week.pairs.get((slug, variant))
    if variant == "free" or (pair is not None and pair.price is not None and pair.price.free):
        return 0.0, "free"
    if pair is not None and pair.price is not None and pair.split.tokens:
        return pair.list_usd / pair.split.tokens, "own"
    return others_rate, "blended"


def model_week(target: ChartWeek, source: ChartWeek, others_rate: float, tokens: str) -> float:
    """The target week's list spend from the source week's rates: each named key at its own $/token,
    Others at `others_rate`. `tokens`: the chart's, or what the activity files measured (which leaves
    out the traffic of models the capture holds no file for)."""
    spend = 0.0
    for key, chart_tokens in target.chart.items():
        if key == OTHERS:
            continue
        pair = target.pairs.get(chart_key(key))
        volume = chart_tokens if tokens == "chart" else (pair.split.tokens if pair else 0)
        spend += volume * key_rate(source, key, others_rate)[0]
    others = target.chart.get(OTHERS, 0) if tokens == "chart" else sum(
        p.split.tokens for p in target.outside(target.named) if p.price is not None)
    return spend + others * others_rate


# Ways to model a week W from a measured week W': (tokens, whose rate prices Others). The first is the
# series' rule; the others isolate where its error comes from.
BACKTEST_VARIANTS = {
    "chart tokens, Others at W' blend outside W' keys": ("chart", "source", "source"),
    "chart tokens, Others at W' blend outside W keys": ("chart", "source", "target"),
    "measured tokens, Others at W' blend outside W' keys": ("measured", "source", "source"),
    "chart tokens, Others at W's own blend (key rates only)": ("chart", "target", "target"),
}


def backtest(weeks: list[ChartWeek]) -> list[dict[str, Any]]:
    results = []
    for i, target in enumerate(weeks):
        for j in (i - 1, i + 1):
            if not 0 <= j < len(weeks):
                continue
            source = weeks[j]
            row = {
                "week": target.monday, "from": source.monday, "measured_usd": target.list_usd,
                "others_share_of_spend": sum(p.list_usd or 0.0 for p in target.outside(target.named))
                / target.list_usd,
                "blended_usd_per_mtok": {"target": target.blended(target.named) * 1e6,
                                         "source": source.blended(source.named) * 1e6},
                "errors": {},
            }
            for name, (tokens, blend_week, outside_of) in BACKTEST_VARIANTS.items():
                week = {"source": source, "target": target}
                rate = week[blend_week].blended(week[outside_of].named)
                row["errors"][name] = model_week(target, source, rate, tokens) / target.list_usd - 1
            results.append(row)
    return results


def backtest_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        name: {"median_abs": statistics.median(abs(r["errors"][name]) for r in results),
               "worst_abs": max(abs(r["errors"][name]) for r in results)}
        for name in BACKTEST_VARIANTS
    }


def research(folder: Path) -> dict[str, Any]:
    capture = Capture(folder)
    prices = catalogue_prices(capture)
    rows = leaderboard_rows(capture, prices)
    selection = select_by_measured_spend(rows, TARGET)
    measured = [r for r in selection.fetched if r.split is not None]
    measured_keys = {r.key for r in measured}
    measured_usd = sum(r.true_list for r in measured)
    hidden = [r for r in rows if r.paid and r.key not in measured_keys and r.true_list is not None]
    candidates = imputers(measured)
    scores = [score(i, hidden, measured_usd) for i in candidates]
    everything = [r for r in rows if r.paid and r.true_list is not None]
    no_split = score(candidates[-1], everything, 0.0)
    chosen = min(zip(scores, candidates), key=lambda pair: abs(pair[0]["hidden_total_error"]))[1]
    point = sum(imputed_list(r, chosen.share(r)[0]) for r in hidden)
    bands = {
        name: band_score(ShareBand(measured, per_author), hidden, point, measured_usd)
        for name, per_author in (("global", False), ("per_author", True))
    }
    band = ShareBand(measured, per_author=True)
    weeks = [measure_chart_week(capture, monday, prices) for monday in complete_mondays(capture)]
    result = {
        "measured_rows": len(measured),
        "measured_list_usd": measured_usd,
        "hidden_rows": len(hidden),
        "imputation": scores,
        "imputation_for_bands": chosen.name,
        "hit_rate_for_every_paid_row": {k: no_split[k] for k in (
            "rows", "hidden_true_usd", "hidden_estimated_usd", "hidden_total_error", "row_p90_abs_error")},
        "share_band": bands,
        "best": {
            mode: best_estimate(rows, measured_keys, chosen, band, mode) for mode in UNMEASURED_EFFECTIVE
        },
        "week_list_side_usd": list_side(rows, measured_keys, chosen),
        "effective_coverage": effective_coverage(rows),
        "backtest": backtest(weeks),
    }
    result["backtest_summary"] = backtest_summary(result["backtest"])
    return result


def pct(value: float) -> str:
    return f"{value:+.1%}"


def render(result: dict[str, Any]) -> str:
    out = [f"Measured (stop rule b): {result['measured_rows']} rows, {usd(result['measured_list_usd'])}; "
           f"hidden paid rows: {result['hidden_rows']}", "",
           "| imputation of the cached share | rows by level | hidden est / true | hidden total err | "
           "week total err | row median abs | row p90 abs | spend-weighted abs |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in result["imputation"]:
        levels = ", ".join(f"{k} {v}" for k, v in s["levels"].items())
        out.append(f"| {s['method']} | {levels} | {usd(s['hidden_estimated_usd'])} / {usd(s['hidden_true_usd'])}"
                   f" | {pct(s['hidden_total_error'])} | {pct(s['week_total_error'])} | "
                   f"{s['row_median_abs_error']:.1%} | {s['row_p90_abs_error']:.1%} | "
                   f"{s['row_spend_weighted_abs_error']:.1%} |")
    out += ["", f"(row errors over the {result['imputation'][0]['rows_with_cache_discount']} hidden rows with a "
            "cache-read price below the prompt price; bands use the imputation: "
            f"{result['imputation_for_bands']})", "",
            "No split at all, every paid row's cached share from weightedCacheHitRate: "
            f"{usd(result['hit_rate_for_every_paid_row']['hidden_estimated_usd'])} vs true "
            f"{usd(result['hit_rate_for_every_paid_row']['hidden_true_usd'])} "
            f"({pct(result['hit_rate_for_every_paid_row']['hidden_total_error'])}, row p90 abs "
            f"{result['hit_rate_for_every_paid_row']['row_p90_abs_error']:.1%})", "",
            "| share band p10-p90 | hidden low / point / high / true | week low, high vs point | "
            "true inside: week, rows, spend |", "|---|---|---|---|"]
    for name, b in result["share_band"].items():
        out.append(f"| {name} | {usd(b['hidden_low_usd'])} / {usd(b['hidden_point_usd'])} / "
                   f"{usd(b['hidden_high_usd'])} / {usd(b['hidden_true_usd'])} | {pct(b['week_low_vs_point'])}, "
                   f"{pct(b['week_high_vs_point'])} | {b['week_true_inside']}, {b['rows_true_inside']:.0%}, "
                   f"{b['spend_true_inside']:.0%} |")
    out += ["", "| best estimate; unmeasured effective rows span effective and | best | low | high | "
            "low, high vs best | priced tokens covered | all tokens covered | rows by basis |",
            "|---|---:|---:|---:|---|---:|---:|---|"]
    for name, b in result["best"].items():
        bases = ", ".join(f"{k} {v}" for k, v in b["basis_rows"].items())
        out.append(f"| {name} | {usd(b['best_usd'])} | {usd(b['low_usd'])} | {usd(b['high_usd'])} | "
                   f"{pct(b['low_vs_best'])}, {pct(b['high_vs_best'])} | {b['priced_tokens_covered']:.3%} | "
                   f"{b['all_tokens_covered']:.3%} | {bases} |")
    best, listed = result["best"][UNMEASURED_EFFECTIVE[0]]["best_usd"], result["week_list_side_usd"]
    out += ["", f"Week-level band between the two bases: list side {usd(listed)} ({pct(listed / best - 1)} vs best), "
            f"best {usd(best)}"]
    e = result["effective_coverage"]
    out += ["", f"Paid rows with an effective price: {e['paid_rows_with_effective']} of {e['paid_rows']} "
            f"({e['paid_tokens_with_effective']:.3%} of paid tokens, {e['paid_list_usd_with_effective']:.3%} "
            f"of paid list spend); effective or free: {e['priced_tokens_effective_or_free']:.3%} of priced tokens",
            "", "Backtest: list spend of each complete chart week W modeled from a neighbouring week W', "
            "error vs measured", "",
            "| W | W' | measured list | Others' share of spend | blended $/M W, W' | "
            + " | ".join(BACKTEST_VARIANTS) + " |", "|---|---|---:|---:|---|" + "---:|" * len(BACKTEST_VARIANTS)]
    for b in result["backtest"]:
        rates = b["blended_usd_per_mtok"]
        errors = " | ".join(pct(b["errors"][name]) for name in BACKTEST_VARIANTS)
        out.append(f"| {b['week']} | {b['from']} | {usd(b['measured_usd'])} | {b['others_share_of_spend']:.0%} | "
                   f"{rates['target']:.3f}, {rates['source']:.3f} | {errors} |")
    summary = " | ".join(f"{v['median_abs']:.1%}, {v['worst_abs']:.1%}" for v in result["backtest_summary"].values())
    out.append(f"| median abs, worst abs | | | | | {summary} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.estimate_research", description=__doc__.split("\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = research(args.capture)
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
