"""The earlier project's way of fetching, without its sleeps: one `requests.get` after another,
each body decoded as JSON, nothing in parallel. Run as its own process so its RSS is its own.

    python -m bench.sequential URLS_FILE [--max-seconds 600]   # prints one JSON line of results
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import requests


def fetch_all(urls: list[str], max_seconds: float) -> dict[str, float | int]:
    started = time.perf_counter()
    fetched = failed = 0
    for url in urls:
        if time.perf_counter() - started > max_seconds:
            break
        response = requests.get(url, timeout=60)
        if response.ok and "json" in response.headers.get("Content-Type", ""):
            response.json()
        fetched += 1
        failed += not response.ok
    return {"fetched": fetched, "not_ok": failed, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls_file")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    urls = [line for line in Path(args.urls_file).read_text().splitlines() if line]
    print(json.dumps(fetch_all(urls, args.max_seconds)))


if __name__ == "__main__":
    main()
