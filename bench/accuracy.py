"""Accuracy benchmark: list-price revenue next to what the traffic actually paid (effective prices),
for the top model-variants of a crawled week.

    python -m bench.accuracy [--capture PATH] [--history PATH] [--top 20]

Without `--history`, crawls the capture (default: ../shared/captures/openrouter-2026-08-08) with
`-a top=all` as the `scrapy` command a user types, politeness off, into a temporary history; with
it, reads that history's published week. Prints markdown: the top N by list-price spend with list
and effective revenue, their ratio and its input / output parts, the median ratio, and the totals
(including what the effective price says about model-variants whose split was not measured).
The output is kept in docs/ACCURACY.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bench.common import ROOT
from bench.crawl import DEFAULT_SNAPSHOT as DEFAULT_CAPTURE
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS=16",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16", "-s", "LOG_LEVEL=WARNING"]

# Per row, the list-price revenue split into its input and output sides, next to the effective ones.
ROWS = """
SELECT name, permaslug, variant, split_source, prompt_tokens, completion_tokens, cached_tokens,
  revenue_list_usd, revenue_effective_usd, effective_cache_hit_rate,
  (prompt_tokens - cached_tokens) * prompt_price + cached_tokens * cache_read_price AS list_input_usd,
  completion_tokens * completion_price AS list_output_usd,
  prompt_tokens * effective_input_price / 1e6 AS effective_input_usd,
  completion_tokens * effective_output_price / 1e6 AS effective_output_usd,
  week_start, week_end
FROM weekly_revenue WHERE week_end = (SELECT MAX(week_end) FROM weekly_revenue)
"""


def crawl(capture: Path, folder: Path, top: str | None = "all", *extra: str) -> Path:
    """The capture crawled as a user would, politeness off, into ``folder``'s history (``top`` None:
    the default selection; ``extra``: more arguments of the command)."""
    history = folder / "history.db"
    command = [sys.executable, "-m", "scrapy", "crawl", "rankings", "-a", f"snapshot={capture}",
               *(["-a", f"top={top}"] if top else []),
               "-s", f"ORSTATS_DB={history}", "-s", f"ORSTATS_REPORT_DIR={folder / 'reports'}", *FAST, *extra]
    env = {key: value for key, value in os.environ.items() if key != "OPENROUTER_API_KEY"}  # no Data API here
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if not history.is_file():
        raise SystemExit(f"crawl of {capture} wrote no history (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return history


def usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value / 1e6:,.3f}M" if abs(value) >= 1e5 else f"${value:,.0f}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def report(rows: list[dict[str, Any]], top: int) -> str:
    measured = [r for r in rows if r["revenue_list_usd"] is not None]
    ranked = sorted(measured, key=lambda r: -r["revenue_list_usd"])[:top]
    week = f"{rows[0]['week_start']} .. {rows[0]['week_end']}" if rows else "no week"
    lines = [f"Week {week}: top {len(ranked)} model-variants by list-price spend", "",
             "| # | model-variant | list | effective | effective / list | input part | output part "
             "| cache hit (measured / effective) |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    ratios = []
    for rank, row in enumerate(ranked, start=1):
        overall = ratio(row["revenue_effective_usd"], row["revenue_list_usd"])
        if overall is not None:
            ratios.append(overall)
        measured_hit = ratio(row["cached_tokens"], row["prompt_tokens"])
        lines.append(
            f"| {rank} | {row['name']} ({row['variant']}) | {usd(row['revenue_list_usd'])} | "
            f"{usd(row['revenue_effective_usd'])} | {fmt(overall)} | "
            f"{fmt(ratio(row['effective_input_usd'], row['list_input_usd']))} | "
            f"{fmt(ratio(row['effective_output_usd'], row['list_output_usd']))} | "
            f"{fmt(measured_hit, '{:.0%}')} / {fmt(row['effective_cache_hit_rate'], '{:.0%}')} |")
    lines += ["", f"Median effective / list over the top {len(ranked)}: "
              f"{fmt(statistics.median(ratios) if ratios else None, '{:.3f}')} ({len(ratios)} with both known)"]
    both = [r for r in rows if r["revenue_list_usd"] is not None and r["revenue_effective_usd"] is not None]
    top_both = [r for r in ranked if r["revenue_effective_usd"] is not None]
    tail = [r for r in rows if r["revenue_list_usd"] is None and r["revenue_effective_usd"] is not None]
    lines += [
        f"Top {len(ranked)} together: list {usd(sum(r['revenue_list_usd'] for r in top_both))}, "
        f"effective {usd(sum(r['revenue_effective_usd'] for r in top_both))}",
        f"Whole week, {len(both)} model-variants with both known: "
        f"list {usd(sum(r['revenue_list_usd'] for r in both))}, "
        f"effective {usd(sum(r['revenue_effective_usd'] for r in both))}",
        f"Known only by the effective price (split not measured, or no list price): {len(tail)} model-variants, "
        f"{usd(sum(r['revenue_effective_usd'] for r in tail))}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--history", type=Path, help="read this history instead of crawling")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="orstats-accuracy-") as folder:
        history = args.history or crawl(args.capture.resolve(), Path(folder))
        rows = list(Database(history).query(ROWS))
        print(report(rows, args.top))


if __name__ == "__main__":
    main()
