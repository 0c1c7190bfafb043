"""The gate on list prices over several crawls: a series of moves each under the last-crawl guard
(price_moves) adds up here, and an optional catalogue key that vanishes is a change, not a silent
fallback.

``check_price_drift`` compares each ranked model-variant's list prices (prompt, completion, cache
read) with their median over the last ``ORSTATS_PRICE_DRIFT_CRAWLS`` published crawls, with the
same factor and the same confirmation by what the traffic paid as price_moves (quality_moves.py).
``check_vanished_keys`` finds ranked model-variants that had a cache-read price in the latest
published crawl and have none now (their cached tokens would be priced at the prompt price).
"""

from __future__ import annotations

import statistics
from typing import Any, Callable, Iterable

from sqlite_utils import Database

from orstats_crawler.history.writer import PUBLISHED
from orstats_crawler.publish import quality_effective, quality_moves
from orstats_crawler.numbers import price as per_million
from orstats_crawler.publish.results import FAIL, FLAG, LISTED, PASS, SKIP
from orstats_crawler.sources import model_variant

MEDIAN_OF = ("prompt_price", "completion_price", "cache_read_price")


def published_crawls(db: Database, week_end: str, count: int) -> list[str]:
    """The last ``count`` published crawls of the ``count`` weeks up to ``week_end`` (the latest
    published one's), newest first: a crawl further back (an imported week) is no recent baseline."""
    if not db["crawls"].exists():
        return []
    return [r["id"] for r in db.query(
        "SELECT id FROM crawls WHERE status = ? AND week_end <= ? AND week_end > date(?, ?) "
        "ORDER BY week_end DESC, started_at DESC LIMIT ?", [PUBLISHED, week_end, week_end, f"-{7 * count} days",
                                                            count])]


def median_prices(db: Database, crawls: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (canonical_slug, variant), the median of each list price over the crawls that priced it
    (the price that priced each crawl's rows: quality_moves.published_prices)."""
    return medians((quality_moves.published_prices(db, crawl) for crawl in crawls), MEDIAN_OF,
                   lambda value: value is not None)


def median_effective(db: Database, crawls: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (canonical_slug, variant), the median of each believed effective price over the crawls."""
    return medians((quality_effective.believed_effective(db, crawl) for crawl in crawls),
                   ("weighted_input_price", "weighted_output_price"), bool)


def medians(crawls: Iterable[dict[tuple[str, str], Any]], columns: tuple[str, ...],
            known: Callable[[Any], bool]) -> dict[tuple[str, str], dict[str, float]]:
    """Per key, the median of each column over the crawls' rows whose value is ``known``."""
    seen: dict[tuple[str, str], dict[str, list[float]]] = {}
    for rows in crawls:
        for key, row in rows.items():
            for column in columns:
                if known(row[column]):
                    seen.setdefault(key, {}).setdefault(column, []).append(row[column])
    return {key: {c: statistics.median(v) for c, v in values.items()} for key, values in seen.items()}


def check_price_drift(verdict: Any, summary: Any, items: Any, db: Database, previous: dict[str, Any] | None,
                      limits: Any) -> None:
    """List prices against the median of the last N published crawls' (see the module)."""
    count = limits.drift_crawls
    crawls = published_crawls(db, previous["week_end"], count) if previous else []
    if len(crawls) < 2:
        verdict.add("price_drift", SKIP, f"{len(crawls)} published crawls: price_moves compares with the last one")
        return
    listed, paid = median_prices(db, crawls), median_effective(db, crawls)
    paid_now = {(e.permaslug, e.variant): e for e in items.effective}
    week_spend = quality_effective.week_spend(summary.rows)
    rejected, reviewed, compared = [], [], 0
    for key, row in quality_moves.compared_rows(summary.rows):
        baseline = listed.get(key)
        if not baseline:
            continue
        compared += 1
        findings = quality_moves.price_findings(row, baseline, paid.get(key), paid_now.get(key), limits)
        findings += cache_read_findings(row, baseline, paid_now.get(key), limits)
        significant = (row["upper_bound_usd"] or 0.0) / week_spend >= limits.min_spend_share if week_spend else False
        quality_moves.sort_findings(findings, significant, rejected, reviewed, " vs the median")
    message = (f"list and cache-read prices of {compared} ranked model-variants vs their median over the last "
               f"{len(crawls)} published crawls (more than {limits.max_move:g}x either way)")
    quality_moves.add_price_findings(verdict, "price_drift", message, "moves", rejected, reviewed, limits)


def cache_read_findings(row: dict[str, Any], baseline: dict[str, float], paid_now: Any,
                        limits: Any) -> list[tuple[bool, str]]:
    """A cache-read price that moved more than the factor: confirmed while what the traffic paid per
    prompt token is what a row pays against its list price as paid with the new cache-read price."""
    then, now = baseline.get("cache_read_price"), row.get("cache_read_price")
    if not then or not now or then / limits.max_move <= now <= then * limits.max_move:
        return []
    hit = getattr(paid_now, "cache_hit_rate", None)
    effective = getattr(paid_now, "weighted_input_price", None)
    listed = quality_effective.listed_as_paid(row, "prompt", hit)
    corroborated = bool(effective and listed) and limits.paid_believable(listed / effective)
    why = f"its traffic paid {per_million(effective / 1e6)}" if effective else "no effective price to confirm it"
    return [(corroborated, f"{model_variant(row['permaslug'], row['variant'])} cache_read "
                           f"{per_million(then)} -> {per_million(now)} ({why})")]


def check_vanished_keys(verdict: Any, summary: Any, list_before: dict[tuple[str, str], Any],
                        previous: dict[str, Any] | None, material_share: float) -> None:
    """A ranked model-variant that had a cache-read price in the latest published crawl and has
    none now: its cached tokens would be priced at the prompt price. Rejected when those rows hold
    a material share of the week's spend, flagged below it."""
    if previous is None or not list_before:
        verdict.add("catalogue_keys", SKIP, "no published crawl's prices to compare")
        return
    vanished = [r for r in summary.rows if lost_cache_discount(r, list_before.get((r["permaslug"], r["variant"])))]
    spend = quality_effective.week_spend(summary.rows)
    share = sum(r["upper_bound_usd"] or 0.0 for r in vanished) / spend if spend else 0.0
    message = (f"{len(vanished)} ranked model-variants lost the cache-read price they had in published crawl "
               f"{previous['id']}, {share:.2%} of the week's list spend (material: {material_share:.1%})")
    names = ", ".join(model_variant(r["permaslug"], r["variant"]) for r in
                      sorted(vanished, key=lambda r: -(r["upper_bound_usd"] or 0.0))[:LISTED])
    if share >= material_share:
        verdict.add("catalogue_keys", FAIL, f"{message}: {names}")
    elif vanished:
        verdict.add("catalogue_keys", FLAG, f"{message}: {names}")
    else:
        verdict.add("catalogue_keys", PASS, message)


def lost_cache_discount(row: dict[str, Any], before: Any) -> bool:
    """Had a cache-read price below its prompt price, and has none now (pricing.py then prices cached
    tokens at the prompt price)."""
    if not before or before["cache_read_price"] is None or not before["prompt_price"]:
        return False
    had = before["cache_read_price"] < before["prompt_price"]
    prompt, cache = row["prompt_price"], row["cache_read_price"]
    return had and bool(prompt) and (cache is None or cache >= prompt)
