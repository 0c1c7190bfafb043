"""Backtest of the Monday-week series: every measured week modeled from the other weeks only (as if
nothing in it had been measured: its named volumes at their rates in the other weeks, the rest at
the blended rate; history/monday_series.py), against its estimate from its own measurements.

    python -m bench.backtest [--capture PATH ...] [--anchor-history PATH] [--history PATH]

Without `--history`: crawls the successive captures (default ../shared/captures/openrouter-2026-07-25,
-08-01, -08-08) with the default selection, politeness off, into one temporary history, and imports
the earlier project's weekly files (default ../shared/anchor-history) when they exist. Each measured
week is modeled as each tier would know it (history/monday_series.py ``blind_weeks``) from the weeks
sharing no day with it. Prints each week's error and whether the modeled band holds the measured
estimate, then per tier the median and 90th-percentile absolute error, the band's coverage next to its
nominal coverage, and the half-width that would hold that share. The output is kept in docs/ACCURACY.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from scrapy.utils.project import get_project_settings

from orstats_crawler.history.connection import open_for_writing, open_read_only
from orstats_crawler.publish.importer import import_paths
from orstats_crawler.history.monday_series import NOMINAL_COVERAGE, TIER_BAND, backtest, scores

from bench.accuracy import DEFAULT_CAPTURE, crawl, usd
from bench.common import ROOT, code_version, table

DEFAULT_ANCHOR = ROOT.parent / "shared" / "anchor-history"
DEFAULT_CAPTURES = [DEFAULT_CAPTURE.parent / f"openrouter-{day}" for day in ("2026-07-25", "2026-08-01", "2026-08-08")]


def build(captures: list[Path], anchor: Path | None, folder: Path) -> Path:
    """The captures crawled one after the other into one history (each a measured week with its own
    catalogue and effective prices; ``force=1``: the gate may hold a later one back for a price move
    between them, which is real), then the earlier project's weekly files imported."""
    from datetime import date

    for capture in captures:
        history = crawl(capture, folder, None, "-a", "force=1")
    if anchor and anchor.is_dir():
        db = open_for_writing(history)
        try:
            backfill_prices_on = get_project_settings().get("ORSTATS_IMPORT_BACKFILL_PRICES_ON")
            import_paths(db, [anchor], date.fromisoformat(backfill_prices_on))
        finally:
            db.close()
    return history


def report(history: Path) -> str:
    db = open_read_only(history)
    try:
        results = backtest(db)
    finally:
        db.close()
    rows = [[r.week_start, r.tier, usd(r.measured_usd), usd(r.modeled_usd), f"{r.error:+.1%}",
             f"{usd(r.low)} .. {usd(r.high)}", "yes" if r.covered else "no", r.nearest_week or "n/a"]
            for r in results]
    lines = [table(["Monday week", "modeled as", "measured estimate", "modeled", "error", "modeled band",
                    "band holds the measured", "nearest blend week"], rows), ""]
    summary = [[s.tier, str(s.weeks), f"{s.median_error:.1%}", f"{s.p90_error:.1%}", f"{s.coverage:.0%}",
                f"{NOMINAL_COVERAGE:.0%}", f"±{TIER_BAND[s.tier]:.0%}", f"±{s.needed_band:.1%}"]
               for s in scores(results)]
    lines += [table(["tier", "weeks", "median abs error", "p90 abs error", "band coverage", "nominal",
                     "band (TIER_BAND)", f"{NOMINAL_COVERAGE:.0%} of errors within"], summary)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capture", type=Path, action="append", help="a capture to crawl (repeat: in date "
                        "order; default the successive captures 2026-07-25, 2026-08-01, 2026-08-08)")
    parser.add_argument("--anchor-history", type=Path, default=DEFAULT_ANCHOR)
    parser.add_argument("--history", type=Path, help="backtest this history instead of building one")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"\n## Backtest of the Monday-week series ({code_version()})\n")
    if args.history:
        print(report(args.history))
    else:
        captures = args.capture or DEFAULT_CAPTURES
        missing = [c for c in captures if not (c / "manifest.json").is_file()]
        if missing:
            print(f"(skipped: no capture at {', '.join(map(str, missing))})")
            return 0
        with tempfile.TemporaryDirectory(prefix="orstats-bench-backtest-") as tmp:
            print(report(build(captures, args.anchor_history, Path(tmp))))
    print(f"\n(backtest: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
