"""Effective prices weighted to the week, computed from the raw capture files alone, beside the
sample-weighted figure, and checked against a history's own columns.

    python -m bench.week_weighted [--capture PATH] [--history PATH]

The capture's files are read by tests/capture_oracle.py (no project code): each model-variant's
week split, its list prices and its effective-pricing answer. Its effective revenue at the sample's
input price is `prompt x input + completion x output` ($/M); weighted to the week, where the week's
split is measured, the input price is multiplied by

    (p - c x (p - r)) / (p - h x (p - r))

p the list prompt price, r the list cache-read price, c the week's cached share of prompt tokens and
h the sample's cache hit rate. Without `--history` every model-variant with a split in the capture
counts as measured (a crawl with `-a top=all`); with it, those the history measured, and each of its
rows' `revenue_effective_usd` and `revenue_effective_week_usd` is compared with this computation.
Prints markdown: the totals, the ten largest changes. The output is kept in docs/ACCURACY.md.
"""

from __future__ import annotations

import argparse
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bench.accuracy import usd
from bench.crawl import DEFAULT_SNAPSHOT as DEFAULT_CAPTURE
from tests import capture_oracle

TOP_CHANGES = 10


@dataclass
class Figures:
    key: tuple[str, str]
    sample_usd: float
    week_usd: float
    week_share: float | None  # cached / prompt of the week, where measured
    sample_share: float | None  # the source's weightedCacheHitRate

    @property
    def change(self) -> float:
        return self.week_usd - self.sample_usd


def week_factor(row: capture_oracle.Row) -> float:
    """How the list input price of a prompt token moves from the sample's cached share to the week's."""
    p, r, h = row.price.prompt, row.price.cache_read, row.effective.cache_hit_rate
    c = row.cached_share
    if h is None or c is None:
        return 1.0
    sample = p - h * (p - r)
    return (p - c * (p - r)) / sample if sample > 0 else 1.0


def figures(row: capture_oracle.Row, measured: bool) -> Figures | None:
    """Both effective figures of a paid row with an effective price (a row without a list price has
    only the sample's); None otherwise."""
    if row.free or row.effective_usd is None:
        return None
    e = row.effective
    tokens = row.split if measured and row.split is not None else row
    factor = week_factor(row) if measured and row.split is not None and row.price is not None else 1.0
    sample = (tokens.prompt * e.input + tokens.completion * e.output) / 1e6
    week = (tokens.prompt * e.input * factor + tokens.completion * e.output) / 1e6
    return Figures(row.key, sample, week, row.cached_share if factor != 1.0 else None, e.cache_hit_rate)


def history_rows(history: Path) -> dict[tuple[str, str], sqlite3.Row]:
    db = sqlite3.connect(f"file:{history}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return {(r["permaslug"], r["variant"]): r for r in db.execute(
            "SELECT * FROM weekly_revenue WHERE week_end = (SELECT MAX(week_end) FROM weekly_revenue)")}
    finally:
        db.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--history", type=Path, help="a history of the capture's week (default: every split measured)")
    args = parser.parse_args(argv)
    capture = capture_oracle.Capture(args.capture)
    stored = history_rows(args.history) if args.history else {}
    results = []
    for row in capture_oracle.leaderboard_rows(capture):
        if stored and row.key not in stored:
            continue
        measured = stored[row.key]["split_source"] == "activity" if stored else row.split is not None
        found = figures(row, measured)
        if found is not None:
            results.append(found)
    first, last = capture.week()
    adjusted = [f for f in results if f.week_share is not None]
    sample, week = sum(f.sample_usd for f in results), sum(f.week_usd for f in results)
    print(f"Week {first} .. {last}: effective prices, sample-weighted vs week-weighted "
          f"({'the model-variants of ' + str(args.history) if stored else 'every split of the capture measured'})\n")
    print("| | model-variants | sample-weighted | week-weighted | change |")
    print("|---|---:|---:|---:|---:|")
    print(f"| with an effective price | {len(results)} | {usd(sample)} | {usd(week)} | {week / sample - 1:+.1%} |")
    part_sample, part_week = sum(f.sample_usd for f in adjusted), sum(f.week_usd for f in adjusted)
    print(f"| of them with the week's split measured (adjusted) | {len(adjusted)} | {usd(part_sample)} | "
          f"{usd(part_week)} | {part_week / part_sample - 1:+.1%} |")
    print(f"\nThe {TOP_CHANGES} largest changes:\n")
    print("| # | model-variant | cached share: week / sample | sample-weighted | week-weighted | change |")
    print("|---:|---|---|---:|---:|---:|")
    for rank, f in enumerate(sorted(adjusted, key=lambda f: -abs(f.change))[:TOP_CHANGES], start=1):
        name = f"{stored[f.key]['name']} ({f.key[1]})" if stored else ":".join(f.key)
        print(f"| {rank} | {name} | {f.week_share:.0%} / {f.sample_share:.0%} | {usd(f.sample_usd)} | "
              f"{usd(f.week_usd)} | {f.week_usd / f.sample_usd - 1:+.1%} |")
    if stored:
        # A price the history's gate did not believe has no effective figure there (its row is at list).
        believed = [f for f in results if stored[f.key]["revenue_effective_usd"] is not None]
        worst = max(max(abs(stored[f.key]["revenue_effective_usd"] / f.sample_usd - 1),
                        abs(stored[f.key]["revenue_effective_week_usd"] / f.week_usd - 1)) for f in believed)
        print(f"\nThe history's revenue_effective_usd and revenue_effective_week_usd against this computation, "
              f"{len(believed)} model-variants ({len(results) - len(believed)} not believed by its gate): "
              f"largest relative difference {worst:.1e}")


if __name__ == "__main__":
    main()
