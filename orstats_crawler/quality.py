"""The quality gate: a crawl is published only when its week is complete and believable.

Each check adds ``{"name", "result": pass|flag|fail, "message"}`` to a ``Verdict``; the exporter
stores them in the ``crawls`` row (``checks``), puts each result in the crawler stats
(``orstats/check/<name>``, counts under ``orstats/checks/<result>``) and logs each one. Any
``fail`` rejects the crawl (its data is kept, the published week and the report stay as they were)
unless the spider ran with ``-a force=1``; a ``flag`` publishes, marked for review.

The checks, in four groups (settings in settings.py, "quality gate" block):

- structure: every source answered in a shape we understand (else: which URL, which field); the
  crawl ran to its end (not closed by a guard rail);
- completeness: split coverage of the week's spend and tokens, ranked model count versus the
  previous published crawl;
- consistency: cached <= prompt and reasoning <= completion, measured 7-day split versus the
  leaderboard, chart weeks' named values within their total, finished chart weeks unchanged;
- prices: ranked paid model-variants without a price, prices moving more than 10x or to/from 0.

The gate reads the history *before* the crawl is written (previous crawls, stored chart weeks).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from sqlite_utils import Database

from orstats_crawler import pricing
from orstats_crawler.history.crawl_rows import CrawlItems, WeekSummary, finished_chart_rows
from orstats_crawler.history.writer import PUBLISHED, REJECTED
from orstats_crawler.items import SourceProblem
from orstats_crawler.sources import SPIDER
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.prices import SOURCE as PRICES
from orstats_crawler.sources.rankings import CHART, LEADERBOARD

logger = logging.getLogger(__name__)

PASS, FLAG, FAIL = "pass", "flag", "fail"
LOG_LEVEL = {PASS: logging.INFO, FLAG: logging.WARNING, FAIL: logging.ERROR}
# Sources the week cannot do without: no prices, no revenue; no leaderboard, no week.
REQUIRED_SOURCES = (PRICES, LEADERBOARD)
LISTED = 5  # how many offenders a message names


@dataclass
class Verdict:
    checks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, result: str, message: str) -> None:
        self.checks.append({"name": name, "result": result, "message": message})

    @property
    def passed(self) -> bool:
        return all(check["result"] != FAIL for check in self.checks)

    def named(self, result: str) -> list[dict[str, Any]]:
        return [check for check in self.checks if check["result"] == result]

    def status(self, forced: bool = False) -> str:
        return PUBLISHED if self.passed or forced else REJECTED


def evaluate(items: CrawlItems, summary: WeekSummary, db: Database, settings: Any, *,
             crawl_id: str | None = None, finish_reason: str | None = None, forced: bool = False) -> Verdict:
    verdict = Verdict()
    # structure
    check_finished(verdict, finish_reason)
    check_sources(verdict, items)
    check_week(verdict, summary)
    # completeness
    check_split_coverage(verdict, summary, settings.getfloat("ORSTATS_MIN_SPEND_COVERAGE"))
    check_token_coverage(verdict, summary, settings.getfloat("ORSTATS_MIN_TOKEN_COVERAGE"))
    check_best_coverage(verdict, summary, items, settings.getfloat("ORSTATS_MIN_BEST_COVERAGE"))
    check_model_count(verdict, summary, db, crawl_id, settings.getfloat("ORSTATS_MIN_MODEL_RATIO"))
    # consistency
    check_split_bounds(verdict, summary)
    check_leaderboard_totals(verdict, summary, settings.getfloat("ORSTATS_LEADERBOARD_TOLERANCE"))
    check_chart_totals(verdict, items)
    check_chart_history(verdict, items, db, settings.getfloat("ORSTATS_CHART_TOLERANCE"))
    # prices
    check_missing_prices(verdict, summary)
    check_price_moves(verdict, summary, db, crawl_id, settings.getfloat("ORSTATS_PRICE_MOVE_RATIO"))
    if forced and not verdict.passed:
        failed = ", ".join(check["name"] for check in verdict.named(FAIL))
        verdict.add("forced", FLAG, f"published by -a force=1 although these checks failed: {failed}")
    return verdict


def record(verdict: Verdict, stats: Any) -> None:
    """Each check's result in the crawler stats, and how many checks had each result."""
    counts = Counter(check["result"] for check in verdict.checks)
    for check in verdict.checks:
        stats.set_value(f"orstats/check/{check['name']}", check["result"])
    for result in (PASS, FLAG, FAIL):
        stats.set_value(f"orstats/checks/{result}", counts[result])


def log(verdict: Verdict) -> None:
    for check in verdict.checks:
        logger.log(LOG_LEVEL[check["result"]], "check %s %s: %s", check["name"], check["result"].upper(),
                   check["message"])


# --- structure ----------------------------------------------------------------------------------

def check_finished(verdict: Verdict, finish_reason: str | None) -> None:
    """A crawl closed early (a guard rail, a shutdown) saw only part of the week."""
    if finish_reason in (None, "finished"):
        verdict.add("crawl_finished", PASS, "the crawl ran to its end")
    else:
        verdict.add("crawl_finished", FAIL, f"the crawl was closed early ({finish_reason}): its week may be partial")


def usable_counts(items: CrawlItems) -> dict[str, int]:
    return {PRICES: len(items.prices), LEADERBOARD: len(items.leaderboard), CHART: len(items.chart),
            ACTIVITY: sum(1 for a in items.activity if a.days)}


def empty_activity(items: CrawlItems) -> list[SourceProblem]:
    """A ranked model-variant's split that answered with no complete day: its split stays unknown."""
    return [SourceProblem(ACTIVITY, a.source_url, "data.analytics", "no complete day in the answer",
                          permaslug=a.permaslug, variant=a.variant) for a in items.activity if not a.days]


def check_sources(verdict: Verdict, items: CrawlItems) -> None:
    """One check per source: what it answered that we could not use, naming URL and field.

    Nothing usable from a required source, or from the split requests, fails, and so does any error
    of the spider's own code (what it skipped is unknown); a source that failed in part (one
    catalogue of two, one model's split) or an optional one (the chart) flags. Split requests that
    never answered (the crawl was closed first) count as failed.
    """
    usable = usable_counts(items)
    problems: dict[str, list[Any]] = {}
    for problem in [*items.problems, *empty_activity(items)]:
        problems.setdefault(problem.source, []).append(problem)
    selected = sum(c["selected"] for plan in items.plans[-1:] for c in plan.candidates)
    for source in dict.fromkeys([*usable, *problems]):
        found, count = problems.get(source, []), usable.get(source, 0)
        name = f"structure_{source}"
        missing = [describe_problems(found)] if found else []
        if source == ACTIVITY and selected > count + len(found):
            missing.append(f"{selected - count - len(found)} of the {selected} split requests never answered")
        if not missing:
            verdict.add(name, PASS if count or source not in REQUIRED_SOURCES else FAIL,
                        f"{source}: {count} usable items" if count else f"{source}: nothing received")
        elif source == SPIDER or (count == 0 and (source in REQUIRED_SOURCES or source == ACTIVITY)):
            verdict.add(name, FAIL, f"{source}: nothing usable, {len(found)} problems: {'; '.join(missing)}")
        else:
            verdict.add(name, FLAG, f"{source}: {count} usable items, {len(found)} problems: {'; '.join(missing)}")


def describe_problems(problems: list[Any]) -> str:
    """`<url> field '<field>': <message>` for the first few kinds of problem, one URL each."""
    kinds: Counter[str] = Counter()
    example: dict[str, str] = {}
    for problem in problems:
        what = f"field {problem.field!r}: {problem.message}" if problem.field else problem.message
        kinds[what] += 1
        example.setdefault(what, problem.url)
    parts = [f"{example[what]} {what}" + (f" (and {count - 1} more URLs)" if count > 1 else "")
             for what, count in kinds.most_common(LISTED)]
    rest = len(kinds) - LISTED
    return "; ".join(parts) + (f"; and {rest} other kinds" if rest > 0 else "")


def check_week(verdict: Verdict, summary: WeekSummary) -> None:
    if summary.week_end is None:
        verdict.add("structure_week", FAIL, "no source said which days the week covers")
    else:
        verdict.add("structure_week", PASS, f"week {summary.week_start}..{summary.week_end}")


# --- completeness -------------------------------------------------------------------------------

def check_split_coverage(verdict: Verdict, summary: WeekSummary, minimum: float) -> None:
    """The measured splits hold enough of the week's list-price spend, counting every unmeasured
    priced model-variant at its no-cache upper bound (a share that holds whatever their splits are)."""
    if summary.spend_coverage is None:
        verdict.add("split_coverage", FAIL, "split coverage unknown: no priced model-variant in the leaderboard")
        return
    message = (f"measured splits hold at least {summary.spend_coverage:.1%} of the week's list-price spend "
               f"(minimum {minimum:.0%})")
    if summary.spend_coverage < minimum:
        missing = sorted((r for r in summary.rows if not r["split_source"] and r["upper_bound_usd"]),
                         key=lambda r: -r["upper_bound_usd"])
        verdict.add("split_coverage", FAIL, f"{message}; missing split (model-activity) for {len(missing)} "
                                            f"model-variants, largest: {variants(missing)}")
    else:
        verdict.add("split_coverage", PASS, message)


def check_token_coverage(verdict: Verdict, summary: WeekSummary, minimum: float) -> None:
    """The token split is measured for enough of the week's tokens (free and cheap models included)."""
    if summary.token_coverage is None:
        verdict.add("token_coverage", FAIL, "token coverage unknown: the leaderboard holds no tokens")
        return
    message = f"token split measured for {summary.token_coverage:.1%} of the week's tokens (minimum {minimum:.0%})"
    if summary.token_coverage < minimum:
        missing = sorted((r for r in summary.rows if not r["split_source"]), key=lambda r: -r["total_tokens"])
        verdict.add("token_coverage", FAIL, f"{message}; missing split (model-activity) for {len(missing)} "
                                            f"model-variants, largest: {variants(missing)}")
    else:
        verdict.add("token_coverage", PASS, message)


def check_best_coverage(verdict: Verdict, summary: WeekSummary, items: CrawlItems, minimum: float) -> None:
    """The best estimate (formulas.py) covers enough of the tokens that have a price of any kind:
    free, a list price, or an effective price."""
    effective = {(e.permaslug, e.variant) for e in items.effective if e.weighted_input_price is not None}

    def has_effective(r: dict[str, Any]) -> bool:
        return (r["permaslug"], r["variant"]) in effective

    def listed(r: dict[str, Any]) -> bool:
        return r["prompt_price"] is not None and r["completion_price"] is not None

    priced = [r for r in summary.rows if r["is_free"] or listed(r) or has_effective(r)]
    estimated = [r for r in priced if r["is_free"] or has_effective(r)
                 or (listed(r) and (r["split_source"] or r.get("cached_share_imputed") is not None))]
    tokens = sum(r["total_tokens"] for r in priced)
    if not tokens:
        verdict.add("best_coverage", FAIL, "no priced tokens in the week: nothing to estimate")
        return
    share = sum(r["total_tokens"] for r in estimated) / tokens
    message = f"the best estimate covers {share:.1%} of the week's priced tokens (minimum {minimum:.0%})"
    if share < minimum:
        missing = sorted((r for r in priced if r not in estimated), key=lambda r: -r["total_tokens"])
        verdict.add("best_coverage", FAIL, f"{message}; no estimate for {variants(missing)}")
    else:
        verdict.add("best_coverage", PASS, message)


def previous_published(db: Database, crawl_id: str | None, week_end: date | None) -> dict[str, Any] | None:
    """The latest published crawl of this week or an earlier one (not this crawl itself)."""
    if week_end is None or not db["crawls"].exists():
        return None
    rows = list(db.query(
        "SELECT id, week_end, models_ranked FROM crawls WHERE status = ? AND id != ? AND week_end <= ? "
        "ORDER BY week_end DESC, started_at DESC LIMIT 1", [PUBLISHED, crawl_id or "", week_end.isoformat()]))
    return rows[0] if rows else None


def check_model_count(verdict: Verdict, summary: WeekSummary, db: Database, crawl_id: str | None,
                      minimum_ratio: float) -> None:
    """A leaderboard that suddenly ranks far fewer model-variants is a broken page, not a quiet week."""
    previous = previous_published(db, crawl_id, summary.week_end)
    ranked = len(summary.rows)
    if not previous or not previous["models_ranked"]:
        verdict.add("model_count", PASS, f"{ranked} ranked model-variants (no previous published crawl to compare)")
        return
    ratio = ranked / previous["models_ranked"]
    message = (f"{ranked} ranked model-variants, {ratio:.0%} of the {previous['models_ranked']} of published crawl "
               f"{previous['id']} (week ending {previous['week_end']}; minimum {minimum_ratio:.0%})")
    verdict.add("model_count", FAIL if ratio < minimum_ratio else PASS, message)


# --- consistency --------------------------------------------------------------------------------

def check_split_bounds(verdict: Verdict, summary: WeekSummary) -> None:
    """Cached tokens are part of prompt tokens, reasoning part of completion: never more."""
    bad = [r for r in summary.rows
           if (r["cached_tokens"] or 0) > r["prompt_tokens"] or (r["reasoning_tokens"] or 0) > r["completion_tokens"]]
    if bad:
        detail = "; ".join(f"{r['permaslug']}:{r['variant']} "
                           f"cached {r['cached_tokens']} / prompt {r['prompt_tokens']}, "
                           f"reasoning {r['reasoning_tokens']} / completion {r['completion_tokens']}"
                           for r in bad[:LISTED])
        verdict.add("split_bounds", FAIL, f"{len(bad)} model-variants with an impossible split: {detail}")
    else:
        verdict.add("split_bounds", PASS, "cached <= prompt and reasoning <= completion in every row")


def relative_gap(measured: float, expected: float) -> float:
    return abs(measured - expected) / expected if expected else (0.0 if measured == expected else float("inf"))


def check_leaderboard_totals(verdict: Verdict, summary: WeekSummary, tolerance: float) -> None:
    """The measured 7-day split adds up to the leaderboard's prompt + completion.

    One model off: its split changed between the two requests (flag). All of them off together:
    the split was summed over the wrong days (fail).
    """
    measured = [r for r in summary.rows if r["split_source"] == "activity"]
    if not measured:
        verdict.add("leaderboard_totals", PASS, "no split measured from model-activity to compare")
        return
    expected = sum(r["leaderboard_prompt_tokens"] + r["leaderboard_completion_tokens"] for r in measured)
    total_gap = relative_gap(sum(r["total_tokens"] for r in measured), expected)
    off = sorted(((relative_gap(r["total_tokens"], r["leaderboard_prompt_tokens"] + r["leaderboard_completion_tokens"]),
                   r) for r in measured), key=lambda pair: -pair[0])
    off = [(gap, r) for gap, r in off if gap > tolerance]
    message = (f"measured 7-day split of {len(measured)} model-variants vs leaderboard prompt + completion: "
               f"total off by {total_gap:.2%} (tolerance {tolerance:.0%})")
    detail = ", ".join(f"{r['permaslug']}:{r['variant']} {gap:+.1%}" for gap, r in off[:LISTED])
    if total_gap > tolerance:
        verdict.add("leaderboard_totals", FAIL,
                    f"{message}; the split covers other days than the leaderboard: {detail}")
    elif off:
        verdict.add("leaderboard_totals", FLAG, f"{message}; {len(off)} rows off by more: {detail}")
    else:
        verdict.add("leaderboard_totals", PASS, message)


def check_chart_totals(verdict: Verdict, items: CrawlItems) -> None:
    """A chart week's named values (top model-variants, Others) are counts within the week's total."""
    bad = []
    for week in items.chart:
        total = sum(week.values.values())
        wrong = {k: v for k, v in week.values.items() if v < 0 or v > total}
        if wrong:
            named = ", ".join(f"{k}={v}" for k, v in list(wrong.items())[:3])
            bad.append(f"{week.week_start}: {named} (total {total})")
    if bad:
        verdict.add("chart_totals", FAIL,
                    f"{len(bad)} chart weeks with values outside their total: {'; '.join(bad[:LISTED])}")
    else:
        verdict.add("chart_totals", PASS, f"{len(items.chart)} chart weeks, every named value within its week's total")


def check_chart_history(verdict: Verdict, items: CrawlItems, db: Database, tolerance: float) -> None:
    """A finished chart week seen again says the same: a revised key is flagged, a revised week total
    (another series, another unit, shifted weeks) fails."""
    new: dict[tuple[str, str], dict[str, int]] = {}
    for row in finished_chart_rows("", items.chart):
        new.setdefault((row.week_start, row.week_end), {})[row.key] = row.tokens
    stored: dict[tuple[str, str], dict[str, int]] = {}
    if new and db["chart_weeks"].exists():
        for row in db.query("SELECT week_start, week_end, key, tokens FROM chart_weeks WHERE week_start >= ?",
                            [min(start for start, _ in new)]):
            stored.setdefault((row["week_start"], row["week_end"]), {})[row["key"]] = row["tokens"]
    common = sorted(set(new) & set(stored))
    if not common:
        verdict.add("chart_history", PASS, f"{len(new)} finished chart weeks, none stored before")
        return
    moved_totals, moved_keys = [], []
    for week in common:
        before, after = stored[week], new[week]
        gap = relative_gap(sum(after.values()), sum(before.values()))
        if gap > tolerance:
            moved_totals.append(f"{week[0]} total {sum(before.values())} -> {sum(after.values())} ({gap:+.1%})")
        moved_keys += [f"{week[0]} {key} {before[key]} -> {after[key]}" for key in sorted(set(before) & set(after))
                       if relative_gap(after[key], before[key]) > tolerance]
    message = f"{len(common)} finished chart weeks seen before (tolerance {tolerance:.0%})"
    if moved_totals:
        verdict.add("chart_history", FAIL,
                    f"{message}; {len(moved_totals)} week totals changed: {'; '.join(moved_totals[:LISTED])}")
    elif moved_keys:
        verdict.add("chart_history", FLAG,
                    f"{message}; {len(moved_keys)} values revised: {'; '.join(moved_keys[:LISTED])}")
    else:
        verdict.add("chart_history", PASS, f"{message}, all unchanged")


# --- prices -------------------------------------------------------------------------------------

def check_missing_prices(verdict: Verdict, summary: WeekSummary) -> None:
    """A ranked model-variant that is not free but has no usable price: its revenue is unknown."""
    unpriced = sorted((r for r in summary.rows
                       if r["variant"] != pricing.FREE_VARIANT and r["price_status"] in ("missing", "invalid")),
                      key=lambda r: -r["total_tokens"])
    if not unpriced:
        verdict.add("prices_missing", PASS, "every ranked paid model-variant has a price")
        return
    tokens = sum(r["total_tokens"] for r in summary.rows)
    share = sum(r["total_tokens"] for r in unpriced) / tokens if tokens else 0.0
    verdict.add("prices_missing", FLAG, f"{len(unpriced)} ranked model-variants without a usable price ({share:.1%} "
                                        f"of the week's tokens; revenue unknown), largest: {variants(unpriced)}")


def previous_prices(db: Database, crawl_id: str | None,
                    week_end: date | None) -> tuple[str | None, dict[tuple[str, str], Any]]:
    """The price catalogue of the latest earlier crawl (of this week or before) that stored one."""
    if week_end is None or not db["prices"].exists():
        return None, {}
    rows = list(db.query(
        "SELECT c.id FROM crawls c WHERE c.id != ? AND c.week_end <= ? AND EXISTS "
        "(SELECT 1 FROM prices p WHERE p.crawl_id = c.id) ORDER BY c.week_end DESC, c.started_at DESC LIMIT 1",
        [crawl_id or "", week_end.isoformat()]))
    if not rows:
        return None, {}
    previous: dict[tuple[str, str], Any] = {}
    # Of several ids of one (canonical_slug, variant), the lowest priced the rows (PriceCatalogue).
    for row in db.query("SELECT canonical_slug, variant, prompt_price, completion_price FROM prices "
                        "WHERE crawl_id = ? ORDER BY public_id", [rows[0]["id"]]):
        previous.setdefault((row["canonical_slug"], row["variant"]), row)
    return rows[0]["id"], previous


def price_move(before: float | None, after: float | None, ratio: float) -> bool:
    if before is None or after is None or before == after:
        return False
    if before == 0 or after == 0:
        return True
    return max(before, after) / min(before, after) > ratio


def check_price_moves(verdict: Verdict, summary: WeekSummary, db: Database, crawl_id: str | None, ratio: float) -> None:
    """A ranked model-variant's price moving more than `ratio` times, or to or from 0, since the last crawl."""
    previous_id, previous = previous_prices(db, crawl_id, summary.week_end)
    if previous_id is None:
        verdict.add("price_moves", PASS, "no earlier crawl's prices to compare")
        return
    moves = []
    for row in summary.rows:
        before = previous.get((row["permaslug"], row["variant"]))
        if before is None:
            continue
        for kind in ("prompt", "completion"):
            if price_move(before[f"{kind}_price"], row[f"{kind}_price"], ratio):
                moves.append(f"{row['permaslug']}:{row['variant']} {kind} {before[f'{kind}_price']!r} -> "
                             f"{row[f'{kind}_price']!r} USD/token")
    message = f"ranked model-variants' prices vs crawl {previous_id} (more than {ratio:g}x or to/from 0)"
    if moves:
        verdict.add("price_moves", FLAG, f"{message}: {len(moves)} moves to review: {'; '.join(moves[:LISTED])}")
    else:
        verdict.add("price_moves", PASS, f"{message}: none")


def variants(rows: Iterable[dict[str, Any]]) -> str:
    return ", ".join(f"{r['permaslug']}:{r['variant']}" for r in list(rows)[:LISTED])
