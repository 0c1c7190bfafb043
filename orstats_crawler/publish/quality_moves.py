"""The gate's list-price checks: how far a ranked model-variant's list price may move since the last
published crawl before what its traffic paid (its effective price) must confirm the move, and how a
move is reported. `quality_drift` applies the same findings against a median of several crawls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from sqlite_utils import Database

from orstats_crawler import pricing
from orstats_crawler.numbers import price as per_million
from orstats_crawler.publish import quality_effective
from orstats_crawler.publish.quality_effective import EFFECTIVE_OF, beyond, same_way
from orstats_crawler.publish.crawl_items import CrawlItems
from orstats_crawler.publish.results import FAIL, FLAG, LISTED, PASS, SKIP
from orstats_crawler.publish.week_summary import WeekSummary
from orstats_crawler.sources import model_variant


@dataclass(frozen=True)
class PriceLimits:
    """How far a list price may move between published crawls before it must be corroborated."""

    max_move: float  # either way: new / old or old / new
    min_spend_share: float  # of the week's list-price spend, at the old or the new price
    effective_tolerance: float  # how far the effective price's move may be from the list price's
    max_confirmed: float  # a move beyond this is not believed, confirmed or not
    effective: quality_effective.EffectiveLimits  # what an effective price believed is
    drift_crawls: int  # how many published crawls the drift baseline is the median of

    @classmethod
    def from_settings(cls, settings: Any) -> "PriceLimits":
        return cls(settings.getfloat("ORSTATS_MAX_PRICE_MOVE"), settings.getfloat("ORSTATS_PRICE_MOVE_MIN_SPEND"),
                   settings.getfloat("ORSTATS_EFFECTIVE_MOVE_TOLERANCE"),
                   settings.getfloat("ORSTATS_MAX_CONFIRMED_PRICE_MOVE"),
                   quality_effective.EffectiveLimits.from_settings(settings),
                   settings.getint("ORSTATS_PRICE_DRIFT_CRAWLS"))

    def paid_believable(self, list_vs_paid: float | None) -> bool:
        """This crawl's effective price is within what a material row's traffic pays against its list
        price (list / paid, as price_findings computes it)."""
        if list_vs_paid is None:
            return False
        low, high = self.effective.band(True)
        return list_vs_paid > 0 and low <= 1 / list_vs_paid <= high


def published_prices(db: Database, crawl_id: str) -> dict[tuple[str, str], Any]:
    """A published crawl's list prices by (canonical_slug, variant): of several ids of one, the
    lowest, which priced its rows (PriceCatalogue)."""
    found: dict[tuple[str, str], Any] = {}
    if db["prices"].exists():
        for row in db.query("SELECT canonical_slug, variant, prompt_price, completion_price, cache_read_price "
                            "FROM prices WHERE crawl_id = ? ORDER BY public_id", [crawl_id]):
            found.setdefault((row["canonical_slug"], row["variant"]), row)
    return found


def ratio(new: float | None, old: float | None) -> float | None:
    """new / old; infinite for a move from 0, 0 for a move to it; None when either is unknown."""
    if new is None or old is None:
        return None
    if old == 0:
        return 1.0 if new == 0 else float("inf")
    return new / old


def check_price_moves(verdict: Any, summary: WeekSummary, items: CrawlItems, before: dict[tuple[str, str], Any],
                      paid_before: dict[tuple[str, str], Any], previous: dict[str, Any] | None,
                      limits: PriceLimits) -> None:
    """``before`` and ``paid_before``: the latest published crawl's list prices (published_prices)
    and the effective prices the gate believed (quality_effective.believed_effective).

    A ranked model-variant's list price (prompt or completion) that moved more than
    `max_move` either way since the latest published crawl (to or from 0 included), on a
    model-variant holding at least `min_spend_share` of the week's list-price spend at the old or
    the new price, rejects the week unless its effective price moved the same way, within
    `effective_tolerance` of the list price's move. Where either crawl has no effective price for it,
    its list price must instead be within `max_move` of this crawl's effective price. A
    model-variant the published crawl did not price is compared with its own effective price the
    same way. The same findings on smaller model-variants, or corroborated ones, are flagged."""
    if previous is None:
        verdict.add("price_moves", SKIP, "no published crawl to compare list prices with")
        return
    paid_now = {(e.permaslug, e.variant): e for e in items.effective}
    week_spend = quality_effective.week_spend(summary.rows)
    rejected, reviewed, compared = [], [], 0
    for key, row in compared_rows(summary.rows):
        old = before.get(key)
        findings = price_findings(row, old, paid_before.get(key), paid_now.get(key), limits)
        compared += 1
        if not findings:
            continue
        spend_then = (spend_at(row, old["prompt_price"], old["completion_price"]) if old else None)
        significant = max(spend_share(s, row, week_spend) for s in (row["upper_bound_usd"], spend_then)) \
            >= limits.min_spend_share
        sort_findings(findings, significant, rejected, reviewed)
    message = (f"list prices of {compared} ranked model-variants vs published crawl {previous['id']} (week ending "
               f"{previous['week_end']}; more than {limits.max_move:g}x either way, effective price within "
               f"{limits.effective_tolerance:g}x of the move)")
    add_price_findings(verdict, "price_moves", message, "list prices", rejected, reviewed, limits)


def compared_rows(rows: list[dict[str, Any]]) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    """The ranked rows whose list prices are compared, by (canonical_slug, variant): not the always
    free ones, nor those with no tokens to weigh or no list price to compare."""
    for row in rows:
        if row["variant"] != pricing.FREE_VARIANT and row["total_tokens"] is not None \
                and row["prompt_price"] is not None:
            yield (row["permaslug"], row["variant"]), row


def sort_findings(findings: list[tuple[bool, str]], significant: bool, rejected: list[str], reviewed: list[str],
                  suffix: str = "") -> None:
    """A row's findings to ``rejected`` when the row is significant and nothing corroborates them,
    else to ``reviewed``."""
    for corroborated, text in findings:
        (rejected if significant and not corroborated else reviewed).append(text + suffix)


def add_price_findings(verdict: Any, name: str, message: str, what: str, rejected: list[str],
                       reviewed: list[str], limits: PriceLimits) -> None:
    """A price check's result: moves of material model-variants that no effective price confirms
    fail, any other move is flagged for review."""
    if rejected:
        verdict.add(name, FAIL, f"{message}: {len(rejected)} {what} no effective price confirms, of "
                                f"model-variants holding at least {limits.min_spend_share:.1%} of the "
                                f"week's spend: {'; '.join(rejected[:LISTED])}")
    elif reviewed:
        verdict.add(name, FLAG, f"{message}: {len(reviewed)} to review: {'; '.join(reviewed[:LISTED])}")
    else:
        verdict.add(name, PASS, f"{message}: none")


def price_findings(row: dict[str, Any], old: dict[str, Any] | None, paid_before: dict[str, Any] | None,
                   paid_now: Any, limits: PriceLimits) -> list[tuple[bool, str]]:
    """(corroborated, what) for each list price of a row that moved too far, or that (for a row the
    published crawl did not price) is too far from what its traffic paid."""
    name = model_variant(row["permaslug"], row["variant"])
    hit = getattr(paid_now, "cache_hit_rate", None)
    findings = []
    for kind, paid in EFFECTIVE_OF.items():
        effective_now = getattr(paid_now, paid, None)
        effective_then = (paid_before or {}).get(paid)
        list_vs_paid = ratio(quality_effective.listed_as_paid(row, kind, hit), effective_now)
        price_then, price_now = (old or {}).get(f"{kind}_price"), row[f"{kind}_price"]
        if price_then is None:
            if effective_now and not limits.paid_believable(list_vs_paid):
                findings.append((False, f"{name} (not priced by the published crawl) {kind} {per_million(price_now)}, "
                                        f"its traffic paid {per_million(effective_now / 1e6)}"))
            continue
        move = ratio(price_now, price_then)
        if not beyond(move, limits.max_move):
            continue
        if effective_now and effective_then:
            # a cut the traffic has not followed yet is confirmed while it pays what a row pays against its list
            corroborated = (same_way(move, effective_now / effective_then, limits.effective_tolerance)
                            or (move < 1 and limits.paid_believable(list_vs_paid)))
            why = f"effective {per_million(effective_then / 1e6)} -> {per_million(effective_now / 1e6)}"
        elif effective_now:
            corroborated = limits.paid_believable(list_vs_paid)
            why = f"its traffic paid {per_million(effective_now / 1e6)}"
        else:
            corroborated, why = False, "no effective price to confirm it"
        if corroborated and beyond(move, limits.max_confirmed):
            corroborated, why = False, f"{why}; beyond {limits.max_confirmed:g}x either way, confirmed or not"
        findings.append((corroborated, f"{name} {kind} {per_million(price_then)} -> {per_million(price_now)} ({why})"))
    return findings


def spend_at(row: dict[str, Any], prompt_price: float | None, completion_price: float | None) -> float | None:
    """The row's list-price spend with no cache discount (its upper bound) at other prices."""
    if prompt_price is None or completion_price is None:
        return None
    return row["leaderboard_prompt_tokens"] * prompt_price + row["leaderboard_completion_tokens"] * completion_price


def spend_share(spend: float | None, row: dict[str, Any], week_spend: float) -> float:
    """The row's share of the week's list-price spend were its spend `spend` (the others' unchanged)."""
    if not spend:
        return 0.0
    return spend / (week_spend - (row["upper_bound_usd"] or 0.0) + spend)
