"""`bench/run` (or `python -m bench`): the three benchmarks in one run, one after another, each
printing its markdown table; the machine and its load first. Options are passed through by name:

    bench/run                      # everything (about 6 minutes on 2 cores)
    bench/run crawl --latency 50   # one benchmark, with its own options
    bench/run backtest             # the Monday-week series modeled week by week (docs/ACCURACY.md)
    bench/run calibration          # how real prices and totals move week to week (the gate's thresholds)
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from bench import backtest, calibration, crawl, decode, history
from bench.common import print_machine

BENCHMARKS = {"crawl": crawl.main, "decode": decode.main, "history": history.main, "backtest": backtest.main,
              "calibration": calibration.main}


def main(argv: list[str]) -> int:
    if argv and argv[0] in BENCHMARKS:
        return BENCHMARKS[argv[0]](argv[1:])
    started = time.perf_counter()
    print(f"# orstats_crawler benchmarks, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    print_machine()
    status = 0
    for name in ("decode", "history", "backtest", "crawl"):
        status |= BENCHMARKS[name]([])
        sys.stdout.flush()
    print(f"\n(all benchmarks: {time.perf_counter() - started:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
