"""Backtest of the Monday-week series: every measured week modeled from the other weeks only (as if
nothing in it had been measured: its named volumes at their rates in the other weeks, the rest at
the blended rate; history/series_estimate.py), against its estimate from its own measurements.

    python -m bench.backtest [--capture PATH] [--anchor-history PATH] [--history PATH]

Without `--history`: crawls the capture (default ../shared/captures/openrouter-2026-08-08) with the
default selection, politeness off, into a temporary history, and imports the earlier project's weekly
files (default ../shared/anchor-history) when they exist. Prints each week's error, and the median and
worst absolute error per kind of week. The output is kept in docs/ACCURACY.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scrapy.utils.project import get_project_settings
from sqlite_utils import Database

from orstats_crawler.history.connection import open_for_writing, open_read_only
from orstats_crawler.publish.importer import import_paths
from orstats_crawler.history.series_estimate import backtest

from bench.accuracy import DEFAULT_CAPTURE, crawl, usd
from bench.common import ROOT, code_version, table

DEFAULT_ANCHOR = ROOT.parent / "shared" / "anchor-history"


def build(capture: Path, anchor: Path | None, folder: Path) -> Path:
    from datetime import date

    history = crawl(capture, folder, top=None)
    if anchor and anchor.is_dir():
        db = open_for_writing(history)
        try:
            backfill_prices_on = get_project_settings().get("ORSTATS_IMPORT_BACKFILL_PRICES_ON")
            import_paths(db, [anchor], date.fromisoformat(backfill_prices_on))
        finally:
            db.close()
    return history


def kinds(db: Database) -> dict[str, str]:
    """How each Monday week was measured: a crawl's daily activity, or an imported week."""
    return {r["week_start"]: r["kind"] for r in db.query(
        "SELECT week_start, CASE WHEN MAX(source = 'daily') THEN 'daily activity' ELSE 'imported week' END AS kind "
        "FROM monday_weeks WHERE basis = 'measured' GROUP BY week_start")}


def report(history: Path) -> str:
    db = open_read_only(history)
    try:
        results, kind = backtest(db), kinds(db)
    finally:
        db.close()
    rows = [[r.week_start, kind.get(r.week_start, "?"), usd(r.measured_usd), usd(r.modeled_usd), f"{r.error:+.1%}",
             r.nearest_week or "n/a"] for r in results]
    lines = [table(["Monday week", "measured by", "measured estimate", "modeled from the others", "error",
                    "nearest blend week"], rows), ""]
    for label, chosen in [("all measured weeks", results),
                          *[(f"weeks measured by {k}", [r for r in results if kind.get(r.week_start) == k])
                            for k in sorted(set(kind.values()))]]:
        errors = [abs(r.error) for r in chosen]
        if errors:
            lines.append(f"- {label}: {len(errors)} weeks, median |error| {statistics.median(errors):.1%}, "
                         f"worst {max(errors):.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--anchor-history", type=Path, default=DEFAULT_ANCHOR)
    parser.add_argument("--history", type=Path, help="backtest this history instead of building one")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"\n## Backtest of the Monday-week series ({code_version()})\n")
    if args.history:
        print(report(args.history))
    elif not (args.capture / "manifest.json").is_file():
        print(f"(skipped: no capture at {args.capture})")
    else:
        with tempfile.TemporaryDirectory(prefix="orstats-bench-backtest-") as tmp:
            print(report(build(args.capture, args.anchor_history, Path(tmp))))
    print(f"\n(backtest: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
