"""Crawl benchmark: `scrapy crawl rankings -a top=all` against a snapshot replayed with a fixed
latency per response, next to its latency bound and to a sequential `requests` loop of the same URLs.

    python -m bench.crawl [--snapshot PATH] [--latency 200,50] [--concurrency 16,32] [--polite-seconds 60]

For each latency: the replay server starts in its own process (bench/server.py); the crawl runs as
the `scrapy` command a user types, politeness off (no delay, no AutoThrottle, no robots.txt, which
the replay would answer 404 anyway), CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN = C; the
sequential loop then fetches the URLs that crawl fetched, in its order, from the same server.

The latency bound: the first wave (both catalogues, the leaderboard and the chart) is concurrent,
the split requests wait for the catalogues and the leaderboard, then at most C run at once, so no
crawl of N requests can take less than latency x (1 + ceil((N - first wave) / C)).
"""

from __future__ import annotations

import argparse
import json
import math
import pstats
import re
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from orstats_crawler.spiders.rankings import PRICES_PATHS

from bench.common import CAPTURES, Measured, print_machine, python, run_measured, table
from bench.server import replay_server

DEFAULT_SNAPSHOT = CAPTURES / "openrouter-2026-08-08"
FIRST_WAVE = len(PRICES_PATHS) + 2  # the catalogues, the leaderboard and the chart, all at start
# Politeness off for the measurement; everything else is the project's settings.
UNTHROTTLED = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "ROBOTSTXT_OBEY": "False"}


@dataclass
class CrawlRun:
    label: str
    measured: Measured
    stats: dict[str, str]
    db_path: Path

    @property
    def engine_s(self) -> float | None:
        value = self.stats.get("elapsed_time_seconds")
        return float(value) if value else None

    @property
    def requests(self) -> int:
        return int(self.stats.get("downloader/request_count", 0))

    @property
    def ok(self) -> bool:
        # Exit 3: the quality gate rejected the week, but the crawl ran to its end (what is timed).
        return self.measured.returncode in (0, 3) and not self.measured.timed_out and self.engine_s is not None


STAT_LINE = re.compile(r"^\s*[{ ]'([^']+)':\s*(.+?),?}?$")


def parse_stats(stderr: str) -> dict[str, str]:
    """The stats Scrapy dumps at the end of a crawl (STATS_DUMP, logged at INFO), as strings."""
    start = stderr.rfind("Dumping Scrapy stats:")
    stats: dict[str, str] = {}
    if start < 0:
        return stats
    for line in stderr[start:].splitlines()[1:]:
        match = STAT_LINE.match(line)
        if not match:
            break
        stats[match.group(1)] = match.group(2).strip().rstrip(",}")
    return stats


def scrapy_crawl(base_url: str, workdir: Path, label: str, settings: dict[str, str], spider_args: dict[str, str],
                 timeout: float, profile_to: Path | None = None) -> CrawlRun:
    db_path = workdir / f"{label}.db"
    cmd = [python()]
    if profile_to is not None:
        cmd += ["-m", "cProfile", "-o", str(profile_to)]
    cmd += ["-m", "scrapy", "crawl", "rankings"]
    for key, value in spider_args.items():
        cmd += ["-a", f"{key}={value}"]
    every = {"OPENROUTER_BASE_URL": base_url, "ORSTATS_DB": str(db_path),
             "ORSTATS_REPORT_DIR": str(workdir / f"{label}-reports"), **settings}
    for key, value in every.items():
        cmd += ["-s", f"{key}={value}"]
    measured = run_measured(cmd, timeout=timeout, env={"SCRAPY_LOG_LEVEL": "INFO"}, log_dir=workdir, name=label)
    return CrawlRun(label, measured, parse_stats(measured.stderr), db_path)


def crawled_urls(run: CrawlRun) -> list[str]:
    """Every URL the crawl fetched, in the order it got them (the history's raw archive)."""
    with sqlite3.connect(run.db_path) as conn:  # the run's own history: its one crawl is the latest
        return [url for (url,) in conn.execute(
            "SELECT url FROM responses WHERE crawl_id = (SELECT id FROM crawls ORDER BY started_at DESC LIMIT 1) "
            "ORDER BY fetched_at")]


def latency_bound(requests: int, concurrency: int, latency_s: float) -> float:
    return latency_s * (1 + math.ceil(max(0, requests - FIRST_WAVE) / concurrency))


def sequential_loop(urls: list[str], workdir: Path, label: str, seconds: float) -> tuple[Measured, dict[str, Any]]:
    """The sequential loop in its own process, stopping after `seconds` (then extrapolated)."""
    urls_file = workdir / f"{label}.urls"
    urls_file.write_text("\n".join(urls) + "\n")
    measured = run_measured([python(), "-m", "bench.sequential", str(urls_file), "--max-seconds", str(seconds)],
                            timeout=seconds + 120, log_dir=workdir, name=label)
    result = json.loads(measured.stdout.strip().splitlines()[-1]) if measured.returncode == 0 else {}
    return measured, result


# --- the polite default run, bounded and extrapolated ------------------------------------------

LOGSTATS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \[scrapy\.extensions\.logstats\] INFO: Crawled (\d+) pages")


def crawled_over_time(stderr: str) -> list[tuple[float, int]]:
    """(seconds since the first LogStats line, pages crawled) from Scrapy's periodic LogStats."""
    points = [(datetime.fromisoformat(m.group(1)), int(m.group(2)))
              for m in map(LOGSTATS.match, stderr.splitlines()) if m]
    return [((t - points[0][0]).total_seconds(), n) for t, n in points]


def extrapolate(run: CrawlRun, total_requests: int) -> tuple[float | None, float | None]:
    """Steady rate over the second half of the bounded run, and the time the whole crawl would take:
    elapsed + (requests left) / rate."""
    points = crawled_over_time(run.measured.stderr)
    if len(points) < 3 or run.engine_s is None:
        return None, None
    end_t, end_n = points[-1]
    mid_t, mid_n = next(p for p in points if p[0] >= end_t / 2)
    if end_t <= mid_t or end_n <= mid_n:
        return None, None
    rate = (end_n - mid_n) / (end_t - mid_t)
    done = int(run.stats.get("response_received_count", end_n))
    return rate, run.engine_s + max(0, total_requests - done) / rate


# --- where the time goes ------------------------------------------------------------------------

def area_of(filename: str, function: str) -> str:
    """Group a profile entry: project module, third-party package, stdlib module or C builtin."""
    if filename == "~":
        found = re.search(r"of '([\w.]+)\.", function) or re.search(r"method ([\w]+)\.", function)
        return f"C: {found.group(1)}" if found else "C: builtins"
    path = Path(filename)
    parts = path.parts
    if "orstats_crawler" in parts:
        return "orstats_crawler/" + "/".join(parts[parts.index("orstats_crawler") + 1:])
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for index, part in enumerate(parts):
        if re.fullmatch(r"python3\.\d+", part) and index + 1 < len(parts):
            return "stdlib: " + parts[index + 1].removesuffix(".py")
    return path.name


# Phases of a crawl process, by the functions that run them (cumulative time, their callees included).
PHASES = [
    ("start-up: imports", lambda f, fn: fn == "_find_and_load"),
    ("spider callbacks (decoding)", lambda f, fn: f.endswith("spiders/rankings.py") and fn.startswith("parse_")),
    ("item pipelines", lambda f, fn: f.endswith("orstats_crawler/pipelines.py") and fn == "process_item"),
    ("history write (quality gate, write_crawl)", lambda f, fn: f.endswith("feed.py") and fn == "_merge"),
    ("report render", lambda f, fn: f.endswith("report/extension.py") and fn == "feed_exporter_closed"),
]


def phase_rows(entries: dict[Any, Any], total: float) -> list[list[str]]:
    """Where a crawl's CPU goes, by phase; the rest is Scrapy, Twisted and asyncio moving requests."""
    rows, counted = [], 0.0
    for label, match in PHASES:
        seconds = sum(ct for (f, _, fn), (_, _, _, ct, _) in entries.items() if match(f, fn))
        counted += seconds
        rows.append([label, f"{seconds:.2f}", f"{seconds / total:.0%}"])
    rest = total - counted
    rows.append(["the rest: engine, downloader, HTTP, scheduling", f"{rest:.2f}", f"{rest / total:.0%}"])
    return rows


def profile_tables(profile: Path, top: int = 12) -> str:
    stats = pstats.Stats(str(profile))
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in entries.values())
    areas: dict[str, float] = {}
    for (filename, _, function), (_, _, tt, _, _) in entries.items():
        area = area_of(filename, function)
        areas[area] = areas.get(area, 0.0) + tt
    by_area = sorted(areas.items(), key=lambda kv: -kv[1])[:top]
    project = sorted(((ct, f"{Path(f).name}:{line} {fn}") for (f, line, fn), (_, _, _, ct, _) in entries.items()
                      if "orstats_crawler" in f), reverse=True)[:top]
    functions = sorted(((tt, n, f"{Path(f).name}:{line} {fn}") for (f, line, fn), (_, n, tt, _, _) in entries.items()),
                       reverse=True)[:top]
    return "\n\n".join([
        f"Profiled CPU time (main thread, cProfile overhead included): {total:.2f} s",
        "By phase:\n\n" + table(["phase", "s", "share"], phase_rows(entries, total)),
        "Own time by area:\n\n" + table(["area", "own s", "share"],
                                         [(a, f"{t:.2f}", f"{t / total:.0%}") for a, t in by_area]),
        "Project functions by cumulative time (inclusive of what they call):\n\n"
        + table(["function", "cum s", "share"], [(name, f"{ct:.2f}", f"{ct / total:.0%}") for ct, name in project]),
        "Functions by own time:\n\n" + table(["function", "calls", "own s"],
                                             [(name, n, f"{tt:.2f}") for tt, n, name in functions]),
    ])


# --- the benchmark --------------------------------------------------------------------------------

def crawl_row(run: CrawlRun, concurrency: int, latency_s: float, sequential_s: float | None) -> list[Any]:
    if not run.ok:
        return [run.label, concurrency, run.requests or "n/a", "FAILED", f"rc={run.measured.returncode}"
                + (" timeout" if run.measured.timed_out else ""), "", "", "", "", "", ""]
    bound = latency_bound(run.requests, concurrency, latency_s)
    return [
        run.label, concurrency, run.requests, f"{run.engine_s:.2f}", f"{run.measured.wall_s:.2f}",
        f"{run.measured.cpu_s:.2f}", f"{run.requests / run.engine_s:.0f}", f"{bound:.2f}",
        f"{run.engine_s / bound:.2f}",
        f"{sequential_s / run.engine_s:.1f}x faster" if sequential_s else "", f"{run.measured.max_rss_mb:.0f}",
    ]


def sequential_row(measured: Measured, result: dict[str, Any], total: int,
                   latency_s: float) -> tuple[list[Any], float | None]:
    """The loop's row and its time for all `total` URLs: measured, or extrapolated per request
    when its time budget stopped it early (it is strictly sequential, so time grows linearly)."""
    fetched = result.get("fetched", 0)
    if not fetched:
        return ["requests loop", 1, "FAILED", "", f"rc={measured.returncode}", "", "", "", "", "", ""], None
    seconds = result["seconds"] * total / fetched
    label = "requests loop" + ("" if fetched == total else f" (est. from {fetched} of {total})")
    bound = latency_bound(total, 1, latency_s)
    return [label, 1, total, f"{seconds:.2f}", f"{measured.wall_s:.2f}", f"{measured.cpu_s:.2f}",
            f"{fetched / result['seconds']:.1f}", f"{bound:.2f}", f"{seconds / bound:.2f}", "1.0x",
            f"{measured.max_rss_mb:.0f}"], seconds


HEADERS = ["run", "C", "requests", "engine s", "wall s", "CPU s", "req/s", "bound s", "engine/bound",
           "vs sequential", "peak RSS MB"]


def unthrottled(concurrency: int, **extra: str) -> dict[str, str]:
    return {**UNTHROTTLED, "CONCURRENT_REQUESTS": str(concurrency), "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
            **extra}


def bench_latency(snapshot: Path, latency_ms: float, concurrencies: list[int], workdir: Path, timeout: float,
                  sequential_seconds: float, detail: bool) -> tuple[list[list[Any]], dict[str, Any]]:
    """Scrapy at each C, the sequential loop; with `detail` also Scrapy's own CONCURRENT_ITEMS
    (before the project's setting), the default selection, and a profiled crawl."""
    latency_s = latency_ms / 1000
    extra: dict[str, Any] = {}
    name = f"{latency_ms:g}ms"
    with replay_server(snapshot, latency_ms, max_seconds=timeout * (len(concurrencies) + 5)) as server:
        base_url = server.base_url
        runs = [(c, scrapy_crawl(base_url, workdir, f"scrapy-{name}-C{c}", unthrottled(c), {"top": "all"}, timeout))
                for c in concurrencies]
        seq_rows, seq_s, loop_fetched = [], None, 0
        if sequential_seconds > 0 and runs and runs[0][1].ok:
            urls = crawled_urls(runs[0][1])
            measured, result = sequential_loop(urls, workdir, f"requests-{name}", sequential_seconds)
            loop_fetched = result.get("fetched", 0)
            row, seq_s = sequential_row(measured, result, len(urls), latency_s)
            seq_rows.append(row)
        rows = [crawl_row(run, c, latency_s, seq_s) for c, run in runs] + seq_rows
        if detail and concurrencies:
            c = concurrencies[-1]
            run = scrapy_crawl(base_url, workdir, f"scrapy-{name}-C{c}, CONCURRENT_ITEMS=100 (Scrapy's default)",
                               unthrottled(c, CONCURRENT_ITEMS="100"), {"top": "all"}, timeout)
            rows.append(crawl_row(run, c, latency_s, seq_s))
            run = scrapy_crawl(base_url, workdir, f"scrapy-{name}-C{concurrencies[0]}, default selection",
                               unthrottled(concurrencies[0]), {}, timeout)
            rows.append(crawl_row(run, concurrencies[0], latency_s, None))
            extra["default_selection"] = run
            profile_path = workdir / f"crawl-{name}-C{c}.prof"
            run = scrapy_crawl(base_url, workdir, f"scrapy-{name}-C{c} under cProfile", unthrottled(c), {"top": "all"},
                               timeout, profile_to=profile_path)
            rows.append(crawl_row(run, c, latency_s, None))
            if run.ok and profile_path.exists():
                extra["profile"] = (run, profile_tables(profile_path))
    crawled = [row for row in rows if not row[0].startswith("requests loop") and str(row[2]).isdigit()]
    served = loop_fetched + sum(int(row[2]) for row in crawled)
    extra["server"] = (server.cpu_s, served)
    return rows, extra


def bench_polite(snapshot: Path, latency_ms: float, seconds: float, workdir: Path, expected: int | None,
                 top_all: int | None) -> str:
    """The project's default settings (robots.txt, 1 s delay, AutoThrottle, 2 per host, the default
    selection), bounded by CLOSESPIDER_TIMEOUT=`seconds`; extrapolated if that stopped it, and for
    `-a top=all` (`top_all` requests) at the same steady rate."""
    with replay_server(snapshot, latency_ms, max_seconds=seconds + 120) as server:
        run = scrapy_crawl(server.base_url, workdir, f"polite-{latency_ms:g}ms, default selection", {
            "CLOSESPIDER_TIMEOUT": str(seconds), "LOGSTATS_INTERVAL": "5"}, {}, timeout=seconds + 120)
    if run.engine_s is None:
        return f"polite run failed (rc={run.measured.returncode}); see {workdir}/{run.label}.stderr"
    finished = run.stats.get("finish_reason", "").strip("'") == "finished"
    whole = run.requests if finished else (expected + 1 if expected else None)  # + robots.txt
    rate, estimate = extrapolate(run, whole or 0)
    estimate = estimate if whole else None
    rows = [[run.label, "finished" if finished else f"CLOSESPIDER_TIMEOUT={seconds:g}", run.requests,
             f"{run.engine_s:.1f}", f"{rate:.2f}" if rate else "n/a", whole or "n/a",
             f"{run.engine_s:.0f} s = {run.engine_s / 60:.1f} min, measured" if finished else
             f"{estimate:.0f} s = {estimate / 60:.1f} min, est." if estimate else "n/a"]]
    if rate and top_all:
        all_s = top_all / rate
        rows.append(["the same with -a top=all", "", "", "", f"{rate:.2f}", top_all + 1,
                     f"{all_s:.0f} s = {all_s / 60:.0f} min, est."])
    notes = ("Steady rate: requests per second over the second half of the run, from Scrapy's LogStats every 5 s. "
             "Estimates: elapsed + (requests left) / steady rate; the requests of a whole crawl come from the "
             "unthrottled crawls above, plus robots.txt.")
    return table(["run", "stopped by", "requests done", "engine s", "steady req/s", "whole crawl (requests)",
                  "whole crawl"], rows) + "\n\n" + notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument("--latency", default="200,50", help="latencies in ms, comma separated")
    parser.add_argument("--concurrency", default="16,32", help="values of C, comma separated")
    parser.add_argument("--polite-seconds", type=float, default=180,
                        help="bound of the polite run, then extrapolated (0 skips it)")
    parser.add_argument("--sequential-seconds", type=float, default=60,
                        help="time budget of each sequential loop, then extrapolated (0 skips it)")
    parser.add_argument("--no-detail", action="store_true",
                        help="skip the CONCURRENT_ITEMS=100, default-selection and profiled crawls")
    parser.add_argument("--timeout", type=float, default=300, help="per process, seconds")
    parser.add_argument("--machine", action="store_true", help="print the machine first")
    args = parser.parse_args(argv)
    if not (args.snapshot / "manifest.json").is_file():
        print(f"crawl benchmark skipped: no snapshot at {args.snapshot}")
        return 0
    if args.machine:
        print_machine()
    latencies = [float(v) for v in args.latency.split(",") if v]
    concurrencies = [int(v) for v in args.concurrency.split(",") if v]
    print(f"\n## Crawl: {args.snapshot.name}, `scrapy crawl rankings -a top=all`, replayed with a fixed latency\n")
    print("Politeness off (DOWNLOAD_DELAY=0, AUTOTHROTTLE_ENABLED=False, ROBOTSTXT_OBEY=False), "
          "CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN = C. engine s = Scrapy's elapsed_time_seconds; "
          "wall s = the whole process (startup, history write, report); CPU s = the process's user+system; "
          f"bound = latency x (1 + ceil((requests - {FIRST_WAVE}) / C)). The requests loop fetches the URLs the "
          "first crawl fetched, one after another, from the same server (bound: requests x latency); it stops "
          f"after {args.sequential_seconds:g} s and is extrapolated per request when the URLs are not all done "
          "(its engine s is then that estimate).")
    started = time.perf_counter()
    expected = top_all = None
    with tempfile.TemporaryDirectory(prefix="orstats-bench-crawl-") as tmp:
        workdir = Path(tmp)
        profiles = []
        for latency in latencies:
            rows, extra = bench_latency(args.snapshot, latency, concurrencies, workdir, args.timeout,
                                        args.sequential_seconds,
                                        detail=not args.no_detail and latency == min(latencies))
            print(f"\n### latency {latency:g} ms\n")
            print(table(HEADERS, rows))
            server_cpu, served = extra["server"]
            if server_cpu is not None and served:
                print(f"\nThe replay server (its own process) used {server_cpu:.1f} s of CPU "
                      f"for these {served} requests: "
                      f"{1000 * server_cpu / served:.2f} ms per request.")
            if "default_selection" in extra and extra["default_selection"].ok:
                expected = extra["default_selection"].requests
            top_all = next((int(row[2]) for row in rows
                            if row[0].startswith("scrapy-") and str(row[2]).isdigit()), top_all)
            if "profile" in extra:
                profiles.append((latency, extra["profile"]))
        for _latency, (run, text) in profiles:
            print(f"\n### where the time goes: {run.label} (cProfile of the scrapy process)\n")
            print(text)
        if args.polite_seconds > 0:
            polite_latency = min(latencies)
            print(f"\n### the project's default polite settings, latency {polite_latency:g} ms\n")
            print(bench_polite(args.snapshot, polite_latency, args.polite_seconds, workdir, expected, top_all))
    print(f"\n(crawl benchmark: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
