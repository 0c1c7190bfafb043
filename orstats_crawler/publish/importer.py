"""Import the earlier project's weekly JSON snapshots into the history (`scrapy import-history PATH...`).

Layout: ../shared/anchor-history/README.md. Each file becomes a pseudo crawl `import:<date>` (era
`import`) with the same rows a crawl writes, so weekly_revenue, the Monday series and the report
show the imported weeks next to the crawled ones:

- **which week**: a file dated on a Sunday is a backfilled week ending that day; a file dated on a
  Monday is a weekly run whose window is the 7 days before it. Both are Monday weeks.
- **prices**: each row is priced as its file priced it (`price_basis` `file`), through
  ``pricing.list_price``, except that a `:free` variant is free whatever price the file put on it.
  The prices are also stored as dated observations: a run's on its run day; the backfilled files'
  were fetched once, when the earlier project started (``ORSTATS_IMPORT_BACKFILL_PRICES_ON``).
- **unknown is not zero**: a row whose split is all zeros while its volume is not (a model page
  that failed; every row of 2026-05-11.json) has an unknown split and, unless free, an unknown
  revenue. Each such row is also recorded in ``problems``.
- **check**: the seed formula over the rows must give the file's `total_revenue` to the cent once
  the revenue the file put on `:free` rows is taken out (both rounded by the file: within a cent);
  a file that does not is stored `rejected`. A week whose split is missing altogether is `flag`ged
  (its revenue is unknown, not $0).
- **idempotent**: a file already imported with the same bytes and importer version is skipped; an
  import never takes a week away from a real crawl (it is shown only where no crawl is).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlite_utils import Database

from orstats_crawler import normalize, pricing, weeks
from orstats_crawler.history.connection import immediate
from orstats_crawler.publish.crawl_records import archive_records
from orstats_crawler.history.formulas import REVENUE_SEED, evaluate, upper_bound_usd
from orstats_crawler.history.price_history import FILE
from orstats_crawler.history.records import CrawlRecords, CrawlRow, ModelWeekRow, PriceRow, ProblemRow
from orstats_crawler.history.writer import IMPORT_ERA, PUBLISHED, REJECTED, rebuild_series, write_crawl
from orstats_crawler.items import SPLIT
from orstats_crawler.raw_responses import ArchivedResponse
from orstats_crawler.sources import SourceError, load_json, require, rows_of

SOURCE = "import"
UNCHANGED = "unchanged"  # an ImportResult's status: the file was imported before, byte for byte
IMPORTER_VERSION = 1  # bump when the rows written for the same file change: re-import rewrites them
MODEL_FIELDS = ("slug", "total_tokens", "prompt_tokens", "completion_tokens", "cached_tokens",
                "reasoning_tokens", "prompt_price", "completion_price")


@dataclass
class SnapshotFile:
    """One weekly file, read and placed in time."""

    name: str
    body: bytes
    payload: dict[str, Any]
    day: date  # the file's `date`
    week_start: date
    week_end: date
    prices_on: date  # when the prices it applied were fetched

    @property
    def crawl_id(self) -> str:
        return f"import:{self.day.isoformat()}"

    @property
    def url(self) -> str:
        return f"import:{self.name}"  # location-independent: the same file imports the same rows

    @property
    def fingerprint(self) -> str:
        return f"{hashlib.sha256(self.body).hexdigest()}/v{IMPORTER_VERSION}/{self.prices_on.isoformat()}"


@dataclass
class ImportResult:
    name: str
    crawl_id: str
    week_start: str
    week_end: str
    status: str  # published | rejected | unchanged
    models: int
    unknown_split: int
    check: dict[str, Any]


def snapshot_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders as their `*.json` files, in name (= date) order."""
    found: list[Path] = []
    for path in map(Path, paths):
        found.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return found


def read_snapshot(path: Path, backfill_prices_on: date) -> SnapshotFile:
    body = path.read_bytes()
    payload = load_json(body, SOURCE, str(path))
    if not isinstance(payload, dict):
        raise SourceError(SOURCE, str(path), None, f"expected an object, got {type(payload).__name__}")
    try:
        day = normalize.utc_day(require(payload, "date", SOURCE, str(path)))
    except ValueError as exc:
        raise SourceError(SOURCE, str(path), "date", str(exc)) from None
    if day.weekday() == 6:  # backfilled week, dated by its last day; prices fetched once, later
        week_end, prices_on = day, backfill_prices_on
    elif day.weekday() == 0:  # weekly run: the 7 days before the run day, prices of the run day
        week_end, prices_on = day - timedelta(days=1), day
    else:
        raise SourceError(SOURCE, str(path), "date", f"{day} is neither a Sunday (backfilled week) nor a Monday (run)")
    rows = rows_of(require(payload, "models", SOURCE, str(path)), SOURCE, str(path), "models")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SourceError(SOURCE, str(path), f"models[{index}]", "expected an object")
        for key in MODEL_FIELDS:
            require(row, key, SOURCE, str(path), f" in models[{index}]")
    require(payload, "total_revenue", SOURCE, str(path))
    return SnapshotFile(path.name, body, payload, day, week_end - weeks.SIX_DAYS, week_end, prices_on)


def import_paths(db: Database, paths: Iterable[str | Path], backfill_prices_on: date,
                 platform_fee: float | None = None) -> list[ImportResult | SourceError]:
    """Import every file (one transaction each), then rebuild the Monday-week series once; an
    unreadable file is returned as its SourceError."""
    results = [import_path(db, path, backfill_prices_on, fold_series=False, platform_fee=platform_fee)
               for path in snapshot_paths(paths)]
    rebuild_series_after(db, results)
    return results


def import_path(db: Database, path: Path, backfill_prices_on: date, *, fold_series: bool = True,
                platform_fee: float | None = None) -> ImportResult | SourceError:
    """Import one file in its own transaction; an unreadable file is returned as its SourceError.
    ``fold_series=False``: the caller imports several and calls ``rebuild_series_after`` once."""
    try:
        snapshot = read_snapshot(path, backfill_prices_on)
    except (SourceError, OSError) as exc:
        return exc if isinstance(exc, SourceError) else SourceError(SOURCE, str(path), None, str(exc))
    with immediate(db):
        return import_snapshot(db, snapshot, fold_series=fold_series, platform_fee=platform_fee)


def rebuild_series_after(db: Database, results: Iterable[ImportResult | SourceError]) -> bool:
    """Rebuild the Monday-week series once (its own transaction) after files imported with
    ``fold_series=False``, when any was read (an unchanged one too: importing again heals a series
    an earlier import could not store); whether it did. Folding each file in would redo the
    series' estimates once per file."""
    if not any(isinstance(r, ImportResult) for r in results):
        return False
    with immediate(db):
        rebuild_series(db)
    return True


def import_snapshot(db: Database, snapshot: SnapshotFile, *, fold_series: bool = True,
                    platform_fee: float | None = None) -> ImportResult:
    """Write one file as crawl `import:<date>` (inside the caller's transaction), assuming
    ``platform_fee`` (ORSTATS_PLATFORM_FEE) for OpenRouter's take of its week."""
    previous = next(iter(db["crawls"].rows_where("id = ?", [snapshot.crawl_id])), None)
    rows, prices, problems = _rows(snapshot)
    unknown = sum(1 for r in rows if r.split_source is None)
    if previous and json.loads(previous["stats"] or "{}").get("fingerprint") == snapshot.fingerprint:
        return ImportResult(snapshot.name, snapshot.crawl_id, previous["week_start"], previous["week_end"],
                            UNCHANGED, len(rows), unknown, json.loads(previous["checks"])[0])
    midnight = datetime.combine(snapshot.day, time(), timezone.utc)
    check = _seed_check(snapshot, rows)
    status = REJECTED if check["result"] == "fail" else PUBLISHED
    stats = {"file": snapshot.name, "fingerprint": snapshot.fingerprint, "date": snapshot.day.isoformat(),
             "prices_on": snapshot.prices_on.isoformat(), "file_total_revenue": snapshot.payload["total_revenue"],
             "file_total_tokens": snapshot.payload.get("total_tokens")}
    # The file itself, in the raw archive (stored once per content, like a crawl's responses).
    responses, bodies = archive_records(
        snapshot.crawl_id, [ArchivedResponse(snapshot.url, 200, "application/json", snapshot.body, midnight)])
    week = (snapshot.week_start.isoformat(), snapshot.week_end.isoformat())
    write_crawl(db, CrawlRecords(
        crawl=CrawlRow(
            id=snapshot.crawl_id, started_at=midnight.isoformat(), finished_at=midnight.isoformat(), status=status,
            era=IMPORT_ERA, base_url=None, snapshot=snapshot.name, week_start=week[0], week_end=week[1],
            selection=SOURCE, coverage=None, planned_coverage=None, token_coverage=_token_coverage(rows),
            models_ranked=len(rows), models_measured=len(rows) - unknown, problems=len(problems), forced=0,
            checks=json.dumps([check]), stats=json.dumps(stats, sort_keys=True), platform_fee=platform_fee),
        model_weeks=rows, prices=prices, problems=problems, responses=responses, response_bodies=bodies),
        fold_series=fold_series)
    return ImportResult(snapshot.name, snapshot.crawl_id, *week, status, len(rows), unknown, check)


def _rows(snapshot: SnapshotFile) -> tuple[list[ModelWeekRow], list[PriceRow], list[ProblemRow]]:
    """model_weeks rows, price observations and problems of one file."""
    rows, prices, problems = [], [], []
    for index, model in enumerate(snapshot.payload["models"]):
        permaslug, variant = pricing.split_id(str(model["slug"]))
        # The file's prices as catalogue decimals, so the catalogue's rules apply (`:free` is free).
        quoted = {"prompt": model["prompt_price"], "completion": model["completion_price"]}
        if model.get("cache_read_price") is not None:
            quoted["input_cache_read"] = model["cache_read_price"]
        price = pricing.list_price({k: str(v) for k, v in quoted.items()}, variant)
        total = normalize.count(model["total_tokens"])
        split = {name: normalize.count(model[name]) for name in SPLIT}
        known = total == 0 or split["prompt_tokens"] + split["completion_tokens"] > 0
        if not known:
            split = dict.fromkeys(SPLIT)
            problems.append(ProblemRow(
                crawl_id=snapshot.crawl_id, source=SOURCE, url=snapshot.url, field=f"models[{index}]",
                message=f"prompt, completion, cached and reasoning all 0 with total_tokens {total}: split unknown",
                permaslug=permaslug, variant=variant, status=None))
        rows.append(ModelWeekRow(
            crawl_id=snapshot.crawl_id, week_start=snapshot.week_start.isoformat(),
            week_end=snapshot.week_end.isoformat(), permaslug=permaslug, variant=variant,
            public_id=None, name=pricing.display_name(model.get("name"), permaslug), rank=model.get("rank"),
            total_tokens=total, **split,
            requests=normalize.optional_count(model.get("request_count")) if known else None,
            change=model["percent_change"] / 100 if isinstance(model.get("percent_change"), (int, float)) else None,
            split_source=SOURCE if known else None,
            leaderboard_prompt_tokens=None, leaderboard_completion_tokens=None,
            prompt_price=price.prompt, completion_price=price.completion, cache_read_price=price.cache_read,
            is_free=int(price.is_free), price_status=price.status,
            upper_bound_usd=(upper_bound_usd(split["prompt_tokens"], split["completion_tokens"], price)
                             if known else None),
            price_basis=FILE, price_observed_on=snapshot.prices_on.isoformat()))
        prices.append(PriceRow(
            crawl_id=snapshot.crawl_id, observed_on=snapshot.prices_on.isoformat(), public_id=model["slug"],
            canonical_slug=permaslug, variant=variant, name=model.get("name"),
            prompt_price=price.prompt, completion_price=price.completion, cache_read_price=price.cache_read,
            is_free=int(price.is_free), pricing=json.dumps(quoted, sort_keys=True), created=None))
    return rows, prices, problems


def _seed_revenue(rows: list[ModelWeekRow]) -> tuple[float | None, int]:
    """The seed formula over the file's rows, evaluated by SQLite from the views' own expression: its
    sum over the rows it is known for (None when none), and the paid rows whose split is unknown."""
    known = [usd for usd in evaluate(REVENUE_SEED, (asdict(r) for r in rows)) if usd is not None]
    unknown_paid = sum(1 for r in rows if not r.is_free and r.split_source is None)
    return (sum(known) if known else None), unknown_paid


def _seed_check(snapshot: SnapshotFile, rows: list[ModelWeekRow]) -> dict[str, Any]:
    """The seed formula over the file's rows against the file's total, less what the file charged
    for `:free` rows."""
    usd, unknown_paid = _seed_revenue(rows)
    free_charged = sum(m.get("estimated_revenue") or 0.0 for m in snapshot.payload["models"]
                       if str(m["slug"]).endswith(":" + pricing.FREE_VARIANT))
    expected = round(snapshot.payload["total_revenue"] - free_charged, 2)
    got = round(usd or 0.0, 2)
    paid = sum(1 for r in rows if not r.is_free)
    if paid and unknown_paid == paid:
        return {"name": "seed_total", "result": "flag",
                "message": f"split unknown for all {paid} paid model-variants: revenue unknown "
                           f"(the file's total_revenue {snapshot.payload['total_revenue']} is not a measurement)"}
    message = (f"seed formula ${got:,.2f} vs the file's total_revenue ${snapshot.payload['total_revenue']:,.2f} "
               f"less ${free_charged:,.2f} it charged for :free rows = ${expected:,.2f}")
    # Both figures of the file are rounded to the cent, so a cent apart is a match.
    return {"name": "seed_total", "result": "pass" if abs(got - expected) < 0.0101 else "fail", "message": message}


def _token_coverage(rows: list[ModelWeekRow]) -> float | None:
    total = sum(r.total_tokens for r in rows)
    return sum(r.total_tokens for r in rows if r.split_source) / total if total else None
