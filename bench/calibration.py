"""How much real prices, effective prices and totals move from one weekly capture to the next: the
figures the integrity guards of the quality gate (quality_effective.py, quality_totals.py) are
calibrated on, read straight from the raw capture files (not through the crawler), so the
calibration can be checked independently of the code it calibrates.

    python -m bench.calibration [--captures DIR] [--min-share 0.005]

Reads every `openrouter-*` capture with a week leaderboard and effective-pricing answers under
DIR (default ../shared/captures), in date order, and prints markdown: per consecutive pair the
largest list, cache-read and effective price moves, the ratio of what traffic paid to the list
price, where the list price sits within the providers' range, week totals, each model-variant's
week against its own previous 7 days, and the chart against the leaderboard. "Material" rows hold
at least --min-share of the week's no-cache list spend (leaderboard tokens at list price).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from bench.common import ROOT

DEFAULT_CAPTURES = ROOT.parent / "shared" / "captures"


@dataclass
class Capture:
    name: str
    day: date
    prices: dict[tuple[str, str], dict[str, float | None]] = field(default_factory=dict)
    week: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # prompt, completion
    week_days: tuple[date, date] | None = None
    effective: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    activity: dict[tuple[str, str], dict[date, int]] = field(default_factory=dict)
    chart: dict[str, int] = field(default_factory=dict)  # Monday -> total tokens
    chart_named: dict[str, int] = field(default_factory=dict)  # Monday -> tokens of the named model-variants

    def spend(self, key: tuple[str, str]) -> float:
        price, tokens = self.prices.get(key), self.week.get(key)
        if not price or not tokens or price["prompt"] is None or price["completion"] is None:
            return 0.0
        return tokens[0] * price["prompt"] + tokens[1] * price["completion"]

    @property
    def total_spend(self) -> float:
        return sum(self.spend(key) for key in self.week)


def per_million(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number * 1e6 if math.isfinite(number) else None


def load(folder: Path) -> Capture | None:
    manifest = json.loads((folder / "manifest.json").read_text())
    capture = Capture(folder.name, date.fromisoformat(manifest["captured"]))
    files = {entry["url"]: folder / entry["file"] for entry in manifest["entries"] if entry.get("status", 200) == 200}
    week_url = next((u for u in files if u.endswith("rankings/models?view=week")), None)
    if week_url is None:
        return None
    for model in json.loads(files["https://openrouter.ai/api/v1/models"].read_text())["data"]:
        variant = model["id"].partition(":")[2] or "standard"
        pricing = model.get("pricing") or {}
        capture.prices.setdefault((model.get("canonical_slug") or model["id"], variant), {
            "prompt": per_million(pricing.get("prompt")), "completion": per_million(pricing.get("completion")),
            "cache_read": per_million(pricing.get("input_cache_read"))})
    days = set()
    for row in json.loads(files[week_url].read_text())["data"]:
        key = (row["model_permaslug"], row["variant"])
        capture.week[key] = (row["total_prompt_tokens"], row["total_completion_tokens"])
        days.add(date.fromisoformat(row["date"][:10]))
    capture.week_days = (max(days) - timedelta(days=6), max(days)) if days else None
    for url, path in files.items():
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        key = (query.get("permaslug"), query.get("variant"))
        if "/stats/effective-pricing" in url:
            capture.effective[key] = json.loads(path.read_text())["data"]
        elif "/stats/model-activity" in url:
            daily = capture.activity.setdefault(key, {})
            for row in json.loads(path.read_text())["data"].get("analytics") or []:
                day = date.fromisoformat(row["date"][:10])
                daily[day] = daily.get(day, 0) + row["total_prompt_tokens"] + row["total_completion_tokens"]
        elif url.endswith("model-rankings-chart"):
            for week in json.loads(path.read_text())["data"]["data"]:
                capture.chart[week["x"]] = sum(week["ys"].values())
                capture.chart_named[week["x"]] = sum(v for k, v in week["ys"].items() if k != "Others")
    return capture


def quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return f"median {pick(0.5):.3g}, p90 {pick(0.9):.3g}, p99 {pick(0.99):.3g}, max {values[-1]:.3g} (n={len(values)})"


def fold(ratio: float) -> float:
    """A move either way as a factor of 1 or more."""
    return max(ratio, 1 / ratio) if ratio > 0 else math.inf


def list_as_paid(price: dict[str, float | None], hit: float) -> float | None:
    if price["prompt"] is None:
        return None
    cache = price["cache_read"] if price["cache_read"] is not None else price["prompt"]
    return price["prompt"] * (1 - hit) + cache * hit


def priced(answer: dict[str, Any] | None) -> bool:
    return bool(answer) and bool(answer.get("weightedInputPrice") or answer.get("weightedOutputPrice"))


def effective_vs_list(capture: Capture, material: float) -> list[str]:
    """What traffic paid against the list price, per material paid model-variant."""
    lines, inputs, outputs, outside = [], [], [], []
    total = capture.total_spend
    for key, answer in capture.effective.items():
        price = capture.prices.get(key)
        if not priced(answer) or not price or key[1] in ("free", "batch") or capture.spend(key) < material * total:
            continue
        paid_in = list_as_paid(price, answer.get("weightedCacheHitRate") or 0.0)
        if paid_in and answer["weightedInputPrice"]:
            inputs.append(answer["weightedInputPrice"] / paid_in)
        if price["completion"] and answer["weightedOutputPrice"]:
            outputs.append(answer["weightedOutputPrice"] / price["completion"])
        providers = [p for p in answer.get("providerSummaries") or [] if p.get("effectiveInputPrice")]
        if providers and price["prompt"]:
            low = min(p["effectiveInputPrice"] for p in providers)
            high = max(p["effectiveInputPrice"] for p in providers)
            paid = answer["weightedInputPrice"]
            if not low * (1 - 1e-9) <= paid <= high * (1 + 1e-9):
                outside.append(f"{key[0]} weighted {paid:.4g} outside [{low:.4g}, {high:.4g}]")
    lines.append(f"- effective input / list as paid (cache discount at the answer's hit rate): {quantiles(inputs)}; "
                 f"min {min(inputs, default=math.nan):.3g}")
    lines.append(f"- effective output / list completion: {quantiles(outputs)}; "
                 f"min {min(outputs, default=math.nan):.3g}")
    lines.append(f"- weighted input price outside the providers' own range: {len(outside)} {outside[:3]}")
    return lines


def moves(before: Capture, after: Capture, material: float) -> list[str]:
    lines = []
    total = after.total_spend
    material_keys = [k for k in after.week
                     if after.spend(k) >= material * total or before.spend(k) >= material * before.total_spend]
    for kind in ("prompt", "completion", "cache_read"):
        factors, big, vanished = [], [], 0
        for key in after.week:
            old, new = (before.prices.get(key) or {}).get(kind), (after.prices.get(key) or {}).get(kind)
            if old is not None and new is None and (after.prices.get(key) or {}).get("prompt") is not None:
                vanished += 1
            if not old or not new:
                continue
            factors.append(fold(new / old))
            if fold(new / old) > 1.5 and key in material_keys:
                big.append(f"{key[0]}:{key[1]} {old:.4g} -> {new:.4g}")
        lines.append(f"- list {kind} moves (ranked): {quantiles(factors)}; material beyond 1.5x: {big}; "
                     f"key vanished: {vanished}")
    for kind, name in (("weightedInputPrice", "input"), ("weightedOutputPrice", "output")):
        factors, material_factors = [], []
        for key in after.week:
            old, new = before.effective.get(key), after.effective.get(key)
            if priced(old) and priced(new) and old[kind] and new[kind]:
                factors.append(fold(new[kind] / old[kind]))
                if key in material_keys:
                    material_factors.append((fold(new[kind] / old[kind]), key[0]))
        top = sorted(material_factors, reverse=True)[:3]
        lines.append(f"- effective {name} moves: {quantiles(factors)}; largest material: "
                     + ", ".join(f"{f:.2f}x {k}" for f, k in top))
    old_total = sum(a + b for a, b in before.week.values())
    new_total = sum(a + b for a, b in after.week.values())
    lines.append(f"- week total tokens {old_total / 1e12:.2f}T -> {new_total / 1e12:.2f}T "
                 f"({new_total / old_total:.3f}x)")
    return lines


def drift(captures: list[Capture]) -> list[str]:
    """Each ranked list price of the last capture against the median of the earlier ones."""
    last, earlier = captures[-1], captures[:-1]
    factors = []
    for key in last.week:
        for kind in ("prompt", "completion", "cache_read"):
            now = (last.prices.get(key) or {}).get(kind)
            seen = [c.prices[key][kind] for c in earlier if key in c.prices and c.prices[key][kind]]
            if now and seen:
                factors.append((fold(now / statistics.median(seen)), f"{key[0]}:{key[1]} {kind}"))
    factors.sort(reverse=True)
    return [f"- {last.name} list prices vs the median of {len(earlier)} earlier captures: largest "
            + ", ".join(f"{f:.2f}x {k}" for f, k in factors[:4])]


def own_previous_week(capture: Capture, material: float) -> list[str]:
    """Each measured model-variant's week against its own previous 7 days, weighed by spend."""
    if not capture.week_days:
        return []
    start, end = capture.week_days
    total, jumps = capture.total_spend, []
    for key, daily in capture.activity.items():
        this = sum(v for d, v in daily.items() if start <= d <= end)
        before = [v for d, v in daily.items() if start - timedelta(days=7) <= d < start]
        if len(before) < 7 or not sum(before) or capture.spend(key) < material * total:
            continue
        share = capture.spend(key) / total
        jumps.append((this / sum(before), share * max(0.0, 1 - sum(before) / this),
                      f"{key[0]}:{key[1]} {share:.1%}"))
    jumps.sort(reverse=True)
    gained = max(jumps, key=lambda j: j[1]) if jumps else None
    return [f"- week / own previous 7 days (material, 7 days known): {quantiles([j for j, _, _ in jumps])}; largest "
            + ", ".join(f"{j:.2f}x {k}" for j, _, k in jumps[:3])
            + (f"; most spend gained: {gained[1]:.1%} of the week's ({gained[2]})" if gained else "")]


def chart_lines(capture: Capture) -> list[str]:
    if not capture.chart or not capture.week_days:
        return []
    weeks = sorted(capture.chart.items())
    finished = [(w, t) for w, t in weeks if date.fromisoformat(w) + timedelta(days=6) < capture.day]
    steps = [fold(b / a) for (_, a), (_, b) in zip(finished, finished[1:]) if a and b]
    leaderboard = sum(a + b for a, b in capture.week.values())
    return [f"- chart week-over-week totals ({len(steps)} steps): {quantiles(steps)}",
            f"- leaderboard week {leaderboard / 1e12:.2f}T vs the last two finished chart weeks: "
            + ", ".join(f"{w} named {capture.chart_named[w] / 1e12:.2f}T "
                        f"({leaderboard / capture.chart_named[w]:.3f}x), total {t / 1e12:.2f}T ({leaderboard / t:.3f}x)"
                        for w, t in finished[-2:])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES)
    parser.add_argument("--min-share", type=float, default=0.005)
    args = parser.parse_args(argv)
    captures = [c for c in (load(f) for f in sorted(args.captures.glob("openrouter-2*"))
                            if (f / "manifest.json").is_file()) if c and c.effective]
    if len(captures) < 2:
        print(f"fewer than two captures with effective prices under {args.captures}")
        return 1
    print(f"# Calibration of the integrity guards on {len(captures)} real weekly captures\n")
    for capture in captures:
        print(f"## {capture.name} (week {capture.week_days[0]}..{capture.week_days[1]})\n")
        print("\n".join(effective_vs_list(capture, args.min_share) + own_previous_week(capture, args.min_share)
                        + chart_lines(capture)))
        print()
    for before, after in zip(captures, captures[1:]):
        print(f"## {before.name} -> {after.name}\n")
        print("\n".join(moves(before, after, args.min_share)))
        print()
    print("## drift\n")
    for end in range(2, len(captures)):
        print("\n".join(drift(captures[:end + 1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
