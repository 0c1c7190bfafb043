"""Decode benchmark: the legacy flight-data decoder on the real /rankings page and on a synthetic
page of about 5 MB (the same structure scaled: many more push chunks, a much longer rankingData),
against `json.loads` of the same data as plain JSON (the floor: what parsing it would cost had the
site sent it as a JSON endpoint).

    python -m bench.decode [--page PATH] [--synthetic-mb 5] [--repeat 7]

Rows, per page: the whole decoder (`decode_rankings_page`, page bytes to items), the flight step
alone (chunks unescaped and joined, rows split, the leaderboard and weekly chart found by shape),
and the floor: `json.loads` of one JSON array holding the payload's JSON rows (the same bytes the
decoder ends up parsing). Times are the median of `--repeat` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from orstats_crawler.sources.flight import JSON_START, FlightData
from orstats_crawler.sources.legacy import decode_rankings_page

from bench.common import CAPTURES, print_machine, table

REAL_PAGE = CAPTURES / "openrouter-2025-11-07-rankings-page" / "rankings.html"
URL = "https://openrouter.ai/rankings"
# The real page: 54 chunks for a 313 K-character payload, so about 5.8 K characters per chunk.
CHUNK_CHARS = 5800


def synthetic_page(target_bytes: int) -> bytes:
    """A /rankings page of about `target_bytes`, built by the legacy page factory with as many
    model-variants as it takes (authors and names varied so no two rows are alike)."""
    from tests.factory import SEED_MODELS, SnapshotSpec
    from tests.legacy_factory import rankings_page

    def page(count: int) -> bytes:
        models = [replace(SEED_MODELS[i % len(SEED_MODELS)], permaslug=f"author-{i % 97}/model-{i}-20250101",
                          public_id=f"author-{i % 97}/model-{i}", name=f"Author {i % 97}: Model {i}")
                  for i in range(count)]
        return rankings_page(SnapshotSpec(models=models), chunk_size=CHUNK_CHARS).encode()

    small, large = len(page(100)), len(page(300))  # fixed part + per-row part, from two probes
    per_row = (large - small) / 200
    return page(max(1, int((target_bytes - (small - 100 * per_row)) / per_row)))


def floor_bytes(body: bytes) -> bytes:
    """The payload's JSON rows as one JSON array: the data, had it been served as JSON."""
    flight = FlightData.from_html(body, "leaderboard", URL)
    rows = [row.text for row in flight.rows if row.text[:1] in JSON_START and row.value is not None]
    return ("[" + ",".join(rows) + "]").encode()


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up: imports, regex compilation, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def flight_step(body: bytes) -> Any:
    flight = FlightData.from_html(body, "leaderboard", URL)
    return flight.leaderboards(), flight.weekly_model_chart()


def bench_page(name: str, body: bytes, repeat: int) -> list[list[Any]]:
    floor = floor_bytes(body)
    items = list(decode_rankings_page(body, URL))
    chunk_count = body.count(b"self.__next_f.push([1,")
    decoder_s = median_s(lambda: list(decode_rankings_page(body, URL)), repeat)
    flight_s = median_s(lambda: flight_step(body), repeat)
    floor_s = median_s(lambda: json.loads(floor), repeat)
    mb, floor_mb = len(body) / 1e6, len(floor) / 1e6
    label = f"{name} ({mb:.2f} MB, {chunk_count} chunks, {len(items)} items)"
    return [
        [label, "decode_rankings_page (page -> items)", f"{decoder_s * 1000:.1f}", f"{mb / decoder_s:.0f}",
         f"{decoder_s / floor_s:.1f}"],
        ["", "flight step (chunks, rows, find by shape)", f"{flight_s * 1000:.1f}", f"{mb / flight_s:.0f}",
         f"{flight_s / floor_s:.1f}"],
        ["", f"floor: json.loads of the JSON rows ({floor_mb:.2f} MB)", f"{floor_s * 1000:.1f}",
         f"{floor_mb / floor_s:.0f}", "1.0"],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page", type=Path, default=REAL_PAGE, help="a real /rankings page (skipped if absent)")
    parser.add_argument("--synthetic-mb", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--machine", action="store_true", help="print the machine first")
    args = parser.parse_args(argv)
    if args.machine:
        print_machine()
    started = time.perf_counter()
    rows: list[list[Any]] = []
    if args.page.is_file():
        rows += bench_page(f"real {args.page.name}", args.page.read_bytes(), args.repeat)
    else:
        print(f"(real page {args.page} not available: synthetic page only)")
    rows += bench_page("synthetic", synthetic_page(int(args.synthetic_mb * 1e6)), args.repeat)
    print("\n## Decode: the legacy flight-data decoder against json.loads of the same data\n")
    print(f"Median of {args.repeat} runs after a warm-up, in this process; MB/s over the page's bytes "
          "(the floor: over its own bytes); ratio = time / floor time.\n")
    print(table(["page", "step", "ms", "MB/s", "x floor"], rows))
    print(f"\n(decode benchmark: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
