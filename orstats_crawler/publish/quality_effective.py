"""The gate on effective prices: what traffic paid (effective-pricing) is a source like any other,
checked before the best estimate believes it.

Each ranked model-variant's effective price is judged on its own (``effective_price_problem``: a
plausible ratio to its list price, free and batch rules, consistency with its own provider
summaries; ``moved_alone``: a bound on its move since its last published one unless its list price
moved the same way), and the answers are judged together (``shared_answers``: an answer identical to
another model-variant's, or naming its endpoints, belongs to neither). A price not believed is kept
as the source gave it with the reason (``effective_prices.rejected_because``) and the row falls back
to its list price (formulas.row); when those rows hold a material share of the week's spend, the
week is rejected. ``check_basis_switch`` rejects a week whose headline basis moved from effective to
list for more than a small share of the spend (a renamed key, a failing source).

The settings ("the gate on effective prices" block of settings.py) are calibrated on the real
weekly captures (bench/calibration.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from sqlite_utils import Database

from orstats_crawler import pricing
from orstats_crawler.numbers import price as per_million
from orstats_crawler.publish.results import FAIL, FLAG, LISTED, PASS, SKIP
from orstats_crawler.sources import model_variant

BATCH_VARIANT = "batch"
# The effective price (USD per million, effective-pricing) that each list price is compared with.
EFFECTIVE_OF = {"prompt": "weighted_input_price", "completion": "weighted_output_price"}
PROVIDER_PRICE = {"weighted_input_price": "effective_input_price", "weighted_output_price": "effective_output_price"}
RELATIVE_SLACK = 1e-6  # a weighted average equal to its range's end, give or take float rounding


@dataclass(frozen=True)
class EffectiveLimits:
    material_share: float  # of the week's list spend: a row held to the tight rules
    max_over_list: float  # a material row's effective price / its list price, at most
    min_of_list: float  # and at least
    small_ratio: float  # any other row's, either way
    max_move: float  # a material row's effective price vs its last published one
    move_tolerance: float  # how far its list price's move may be from it to confirm it
    max_switch_share: float  # of the week's spend whose basis left `effective`

    @classmethod
    def from_settings(cls, settings: Any) -> "EffectiveLimits":
        return cls(settings.getfloat("ORSTATS_EFFECTIVE_MATERIAL_SHARE"),
                   settings.getfloat("ORSTATS_EFFECTIVE_MAX_OVER_LIST"),
                   settings.getfloat("ORSTATS_EFFECTIVE_MIN_OF_LIST"),
                   settings.getfloat("ORSTATS_EFFECTIVE_SMALL_RATIO"), settings.getfloat("ORSTATS_MAX_EFFECTIVE_MOVE"),
                   settings.getfloat("ORSTATS_EFFECTIVE_MOVE_TOLERANCE"),
                   settings.getfloat("ORSTATS_MAX_BASIS_SWITCH_SHARE"))

    def band(self, material: bool) -> tuple[float, float]:
        """(lowest, highest) effective / list price believed."""
        return (self.min_of_list, self.max_over_list) if material else (1 / self.small_ratio, self.small_ratio)


def listed_as_paid(row: dict[str, Any], kind: str, cache_hit_rate: float | None) -> float | None:
    """A row's list price as its traffic would pay it, USD per million: the prompt price with the
    cache discount at the effective price's own cache-hit rate (the effective input price is per
    total prompt token), the completion price as it is."""
    price = row.get(f"{kind}_price")
    if price is None:
        return None
    if kind == "prompt":
        hit = cache_hit_rate or 0.0
        cache = row.get("cache_read_price")
        price = price * (1 - hit) + (cache if cache is not None else price) * hit
    return price * 1e6


def effective_price_problem(row: dict[str, Any], effective: Any, material: bool,
                            limits: EffectiveLimits) -> str | None:
    """Why one model-variant's effective prices are not believed, or None.

    ``row``: its list prices (``prompt_price``, ``completion_price``, ``cache_read_price``, USD per
    token; ``variant``, ``is_free``); ``effective``: anything with ``weighted_input_price``,
    ``weighted_output_price`` ($/M), ``cache_hit_rate`` and optionally ``provider_summaries`` (the
    live answer, or a week-weighted figure built from several); ``material``: the row holds a
    material share of the week's spend."""
    prices = {paid: getattr(effective, paid, None) for paid in EFFECTIVE_OF.values()}
    if all(value is None for value in prices.values()):
        return None
    if row.get("variant") == pricing.FREE_VARIANT:
        return "a :free variant is free, yet its effective price is not 0"
    if row.get("is_free"):
        return None  # both list prices 0: the best estimate prices it 0 whatever its traffic paid
    low, high = limits.band(material)
    if row.get("variant") == BATCH_VARIANT:
        high = 1.0 + RELATIVE_SLACK  # a batch discount: never dearer than the list price
    hit = getattr(effective, "cache_hit_rate", None)
    for kind, paid in EFFECTIVE_OF.items():
        listed, value = listed_as_paid(row, kind, hit), prices[paid]
        if listed and value:
            if not low <= value / listed <= high:
                return (f"effective {kind} {per_million(value / 1e6)} is {value / listed:.3g}x its list price as paid "
                        f"{per_million(listed / 1e6)} (believed from {low:.3g}x to {high:.3g}x)")
    return provider_problem(prices, getattr(effective, "provider_summaries", None) or [])


def provider_problem(prices: dict[str, float | None], summaries: list[dict[str, Any]]) -> str | None:
    """The weighted prices lie within the range of the providers that served tokens, and together
    they served some (where the answer carries its provider summaries). A provider listed with 0
    tokens is real (about 3 % of the summaries in the weekly captures): it paid nothing into the
    weighted price, so its own price bounds nothing."""
    if not summaries:
        return None
    counted = [s["total_tokens"] for s in summaries if s.get("total_tokens") is not None]
    if counted and sum(counted) <= 0:
        return f"its {len(summaries)} providers served {sum(counted)} tokens in all"
    summaries = [s for s in summaries if s.get("total_tokens") != 0]
    for paid, own in PROVIDER_PRICE.items():
        values = [s[own] for s in summaries if s.get(own) is not None]
        value = prices[paid]
        if values and value is not None:
            low, high = min(values), max(values)
            if not low * (1 - RELATIVE_SLACK) <= value <= high * (1 + RELATIVE_SLACK):
                return (f"weighted {paid} {per_million(value / 1e6)} is outside its providers' range "
                        f"{per_million(low / 1e6)}..{per_million(high / 1e6)}")
    return None


def beyond(move: float | None, limit: float) -> bool:
    return move is not None and (move > limit or move < 1 / limit)


def same_way(move: float, paid_move: float, tolerance: float) -> bool:
    """The effective price moved the way the list price did, by a factor within `tolerance` of it."""
    if move in (0.0, float("inf")):
        return False  # to or from 0: no effective price moves that way
    return (move > 1) == (paid_move > 1) and not beyond(move / paid_move, tolerance)


def moved_alone(row: dict[str, Any], old_list: dict[str, Any] | None, effective: Any,
                published: dict[str, Any] | None, limits: EffectiveLimits) -> str | None:
    """A material row's effective price that moved more than ``max_move`` either way since its last
    published one, its list price not moving the same way (within ``move_tolerance``)."""
    if not published:
        return None
    for kind, paid in EFFECTIVE_OF.items():
        now, then = getattr(effective, paid, None), published.get(paid)
        if not now or not then:
            continue
        move = now / then
        if not beyond(move, limits.max_move):
            continue
        list_then, list_now = (old_list or {}).get(f"{kind}_price"), row.get(f"{kind}_price")
        if list_then and list_now and same_way(list_now / list_then, move, limits.move_tolerance):
            continue
        return (f"effective {kind} {per_million(then / 1e6)} -> {per_million(now / 1e6)} ({move:.3g}x) since its last "
                f"published one, its list price not moving the same way")
    return None


def answer_key(effective: Any) -> tuple[Any, ...] | None:
    """What makes two effective-pricing answers the same answer (their bodies name no model)."""
    values = (effective.weighted_input_price, effective.weighted_output_price, effective.cache_hit_rate,
              effective.provider_tokens)
    return None if effective.weighted_input_price is None and effective.weighted_output_price is None else values


def shared_answers(answers: Iterable[Any]) -> dict[tuple[str, str], str]:
    """Answers that are not their own model-variant's: the same prices, hit rate and tokens as
    another model-variant's answer (a cache that ignores the query string), or naming an endpoint
    another model-variant's answer names (endpoints serve one model)."""
    by_body: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    by_endpoint: dict[str, list[Any]] = defaultdict(list)
    for answer in answers:
        body = answer_key(answer)
        if body is not None:
            by_body[body].append(answer)
        for summary in getattr(answer, "provider_summaries", None) or []:
            if summary.get("endpoint_id"):
                by_endpoint[summary["endpoint_id"]].append(answer)
    found: dict[tuple[str, str], str] = {}
    for groups, what in ((by_body, "the same answer as"), (by_endpoint, "names an endpoint of")):
        for group in groups.values():
            keys = sorted({(a.permaslug, a.variant) for a in group})
            for key in keys if len(keys) > 1 else ():
                others = [model_variant(*other) for other in keys if other != key]
                found.setdefault(key, f"{what} {', '.join(others[:3])}" + (" and more" if len(others) > 3 else ""))
    return found


def row_spend(row: dict[str, Any], effective: Any) -> float:
    """A row's spend, the larger of its no-cache list spend and its leaderboard tokens at its
    effective prices (a poisoned price makes a row material either way)."""
    listed = row.get("upper_bound_usd") or 0.0
    paid_in, paid_out = (getattr(effective, paid, None) for paid in EFFECTIVE_OF.values())
    prompt, completion = row.get("leaderboard_prompt_tokens") or 0, row.get("leaderboard_completion_tokens") or 0
    paid = (prompt * (paid_in or 0.0) + completion * (paid_out or 0.0)) / 1e6
    return max(listed, paid)


def week_spend(rows: Iterable[dict[str, Any]]) -> float:
    return sum(r["upper_bound_usd"] or 0.0 for r in rows)


def judge_effective_prices(verdict: Any, rows: list[dict[str, Any]], answers: list[Any],
                           list_before: dict[tuple[str, str], Any], paid_before: dict[tuple[str, str], Any],
                           limits: EffectiveLimits) -> dict[tuple[str, str], str]:
    """Adds ``effective_identity`` and ``effective_prices``; returns the prices not believed, with why."""
    ranked = {(r["permaslug"], r["variant"]): r for r in rows}
    priced = [a for a in answers if answer_key(a) is not None and (a.permaslug, a.variant) in ranked]
    untrusted = shared_answers(priced)
    if untrusted:
        detail = "; ".join(f"{model_variant(*key)}: {why}" for key, why in list(untrusted.items())[:LISTED])
        verdict.add("effective_identity", FAIL, f"{len(untrusted)} of {len(priced)} effective-pricing answers are not "
                                                f"their model-variant's (not believed): {detail}")
    elif priced:
        verdict.add("effective_identity", PASS, f"{len(priced)} effective-pricing answers, each its own")
    else:
        verdict.add("effective_identity", SKIP, "no priced effective-pricing answer of a ranked model-variant")
    spend = week_spend(rows) or 1.0
    for answer in priced:
        key = (answer.permaslug, answer.variant)
        if key in untrusted:
            continue
        row = ranked[key]
        material = row_spend(row, answer) / spend >= limits.material_share
        why = effective_price_problem(row, answer, material, limits)
        if why is None and material:
            why = moved_alone(row, list_before.get(key), answer, paid_before.get(key), limits)
        if why:
            untrusted[key] = why
    add_effective_verdict(verdict, untrusted, ranked, {(a.permaslug, a.variant): a for a in priced}, spend,
                          len(priced), limits)
    return untrusted


def add_effective_verdict(verdict: Any, untrusted: dict[tuple[str, str], str], ranked: dict[tuple[str, str], Any],
                          answers: dict[tuple[str, str], Any], spend: float, judged: int,
                          limits: EffectiveLimits) -> None:
    if not judged:
        verdict.add("effective_prices", SKIP, "no effective price of a ranked model-variant to check")
        return
    shares = {key: row_spend(ranked[key], answers[key]) / spend for key in untrusted}
    share = sum(shares.values())
    message = (f"{judged} effective prices checked against list price, providers and their last published one; "
               f"{len(untrusted)} not believed (their rows fall back to list), holding {share:.2%} of the week's "
               f"spend (material: {limits.material_share:.1%})")
    detail = "; ".join(f"{model_variant(*key)} {shares[key]:.2%}: {untrusted[key]}"
                       for key in sorted(untrusted, key=lambda k: -shares[k])[:LISTED])
    if share >= limits.material_share:
        verdict.add("effective_prices", FAIL, f"{message}: {detail}")
    elif untrusted:
        verdict.add("effective_prices", FLAG, f"{message}: {detail}")
    else:
        verdict.add("effective_prices", PASS, message)


def believed_effective(db: Database, crawl_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A published crawl's effective prices the gate believed, by (permaslug, variant)."""
    if not db["effective_prices"].exists():
        return {}
    believed = "rejected_because IS NULL" if "rejected_because" in db["effective_prices"].columns_dict else "1"
    return {(r["permaslug"], r["variant"]): r for r in db.query(
        "SELECT permaslug, variant, weighted_input_price, weighted_output_price, cache_hit_rate FROM effective_prices "
        f"WHERE crawl_id = ? AND {believed} AND (weighted_input_price IS NOT NULL "
        "OR weighted_output_price IS NOT NULL)", [crawl_id])}


def check_basis_switch(verdict: Any, rows: list[dict[str, Any]], answers: list[Any] | None,
                       untrusted: dict[tuple[str, str], str], paid_before: dict[tuple[str, str], Any],
                       previous: dict[str, Any] | None, limits: EffectiveLimits) -> None:
    """Model-variants whose best estimate stood on their effective price in the latest published
    crawl and would stand on their list price now (no effective answer, or one not believed).

    ``answers`` is None when the crawl asked for no effective price at all (a legacy-era week has no
    such source, or ORSTATS_EFFECTIVE_PRICES is off): its basis is list by method, not by a failure.
    A crawl that asked and got nothing is judged like any other."""
    if previous is None or not paid_before:
        verdict.add("basis_switch", SKIP, "no published crawl with effective prices to compare")
        return
    if answers is None:
        verdict.add("basis_switch", SKIP, "this crawl asked for no effective price (legacy era, or switched off)")
        return
    now = {(a.permaslug, a.variant) for a in answers if answer_key(a) is not None} - set(untrusted)
    paid = [r for r in rows if not r["is_free"] and (r["permaslug"], r["variant"]) in paid_before]
    switched = sorted((r for r in paid if (r["permaslug"], r["variant"]) not in now),
                      key=lambda r: -(r["upper_bound_usd"] or 0.0))
    spend = week_spend(rows)
    share = sum(r["upper_bound_usd"] or 0.0 for r in switched) / spend if spend else 0.0
    message = (f"{len(switched)} of {len(paid)} model-variants priced by their effective price in published crawl "
               f"{previous['id']} are not now, {share:.2%} of the week's list spend (maximum "
               f"{limits.max_switch_share:.0%})")
    names = ", ".join(model_variant(r["permaslug"], r["variant"]) for r in switched[:LISTED])
    if share > limits.max_switch_share:
        verdict.add("basis_switch", FAIL, f"{message}: {names}")
    elif switched:
        verdict.add("basis_switch", FLAG if share else PASS, f"{message}: {names}")
    else:
        verdict.add("basis_switch", PASS, message)
