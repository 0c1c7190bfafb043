"""The quality gate: a crawl is published only when its week is complete and believable.

Each check adds ``{"name", "result": pass|flag|fail|skip, "message"}`` to a ``Verdict``; the
exporter stores them in the ``crawls`` row (``checks``), puts each result in the crawler stats
(``orstats/check/<name>``, counts under ``orstats/checks/<result>``) and logs each one. Any
``fail`` rejects the crawl (its data is kept, the published week and the report stay as they were)
unless the spider ran with ``-a force=1``; a ``flag`` publishes, marked for review; a ``skip`` says
the check had nothing to compare (no published crawl yet, no chart) and never rejects.

The checks, in four groups (settings in settings.py, "quality gate" block; docs/RELIABILITY.md
lists them all):

- structure: every source answered in a shape we understand (else: which URL, which field); the
  crawl ran to its end (not closed by a guard rail); every per-model answer is about the
  model-variant asked for; no key listed twice with different values;
- completeness: split coverage of the week's spend and tokens, the share of the week's tokens in
  rows whose count is unknown, ranked model count versus the latest published crawl;
- consistency: cached <= prompt (reasoning <= completion flagged), measured 7-day split versus the
  leaderboard, chart weeks' named values within their total, finished chart weeks unchanged;
- prices: ranked paid model-variants without a price, list prices above an absolute bound, list
  prices that moved far since the latest published crawl with no effective price moving with them.

The gate reads the history *before* the crawl is written (published crawls, stored chart weeks).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Iterable

from sqlite_utils import Database

from orstats_crawler import pricing
from orstats_crawler.publish.crawl_items import CrawlItems
from orstats_crawler.publish.crawl_records import finished_chart_rows
from orstats_crawler.publish.week_summary import WeekSummary
from orstats_crawler.history.writer import PUBLISHED, REJECTED
from orstats_crawler.publish import quality_drift, quality_effective, quality_moves, quality_totals
from orstats_crawler.publish.results import FAIL, FLAG, LISTED, PASS, RESULTS, SKIP
from orstats_crawler.items import SourceProblem
from orstats_crawler.numbers import price as per_million
from orstats_crawler.numbers import tokens as token_count
from orstats_crawler.sources import DUPLICATE, IDENTITY, SPIDER, model_variant
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.effective import SOURCE as EFFECTIVE
from orstats_crawler.sources.prices import SOURCE as PRICES
from orstats_crawler.sources.rankings import CHART, LEADERBOARD

logger = logging.getLogger(__name__)

LOG_LEVEL = {PASS: logging.INFO, FLAG: logging.WARNING, FAIL: logging.ERROR, SKIP: logging.INFO}
# Sources the week cannot do without: no prices, no revenue; no leaderboard, no week.
REQUIRED_SOURCES = (PRICES, LEADERBOARD)


@dataclass
class Verdict:
    checks: list[dict[str, Any]] = field(default_factory=list)
    # effective prices not believed, by (permaslug, variant), with why: stored, their rows priced at list
    untrusted: dict[tuple[str, str], str] = field(default_factory=dict)

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
    previous = previous_published(db, crawl_id, summary.week_end)
    # structure
    check_finished(verdict, finish_reason)
    check_sources(verdict, items)
    check_week(verdict, summary)
    check_identity(verdict, items)
    check_duplicates(verdict, items)
    # completeness
    check_split_coverage(verdict, summary, settings.getfloat("ORSTATS_MIN_SPEND_COVERAGE"))
    check_token_coverage(verdict, summary, settings.getfloat("ORSTATS_MIN_TOKEN_COVERAGE"))
    check_best_coverage(verdict, summary, items, settings.getfloat("ORSTATS_MIN_BEST_COVERAGE"))
    check_unknown_tokens(verdict, summary, items, db, settings.getfloat("ORSTATS_MAX_UNKNOWN_SHARE"))
    check_model_count(verdict, summary, previous, settings.getfloat("ORSTATS_MIN_MODEL_RATIO"))
    # consistency
    check_split_bounds(verdict, summary)
    check_leaderboard_totals(verdict, summary, settings.getfloat("ORSTATS_LEADERBOARD_TOLERANCE"))
    check_chart_totals(verdict, items)
    check_chart_history(verdict, items, db, settings.getfloat("ORSTATS_CHART_TOLERANCE"))
    # prices
    check_missing_prices(verdict, summary)
    check_price_bound(verdict, items, settings.getfloat("ORSTATS_MAX_LIST_PRICE"))
    limits = quality_moves.PriceLimits.from_settings(settings)
    list_before = quality_moves.published_prices(db, previous["id"]) if previous else {}
    paid_before = quality_effective.believed_effective(db, previous["id"]) if previous else {}
    verdict.untrusted = quality_effective.judge_effective_prices(verdict, summary.rows, items.effective, list_before,
                                                                 paid_before, limits.effective)
    asked = bool(items.effective) or any(p.source == EFFECTIVE for p in items.problems)
    quality_effective.check_basis_switch(verdict, summary.rows, items.effective if asked else None, verdict.untrusted,
                                         paid_before, previous, limits.effective)
    trusted = believed(items, verdict.untrusted)
    quality_moves.check_price_moves(verdict, summary, trusted, list_before, paid_before, previous, limits)
    quality_drift.check_price_drift(verdict, summary, trusted, db, previous, limits)
    quality_drift.check_vanished_keys(verdict, summary, list_before, previous, limits.effective.material_share)
    # totals
    totals = quality_totals.TotalLimits.from_settings(settings)
    quality_totals.check_week_totals(verdict, summary, items, db, previous, totals)
    quality_totals.check_token_jumps(verdict, summary, trusted, db, previous, totals)
    if forced and not verdict.passed:
        failed = ", ".join(check["name"] for check in verdict.named(FAIL))
        verdict.add("forced", FLAG, f"published by -a force=1 although these checks failed: {failed}")
    return verdict


def record(verdict: Verdict, stats: Any) -> None:
    """Each check's result in the crawler stats, and how many checks had each result."""
    counts = Counter(check["result"] for check in verdict.checks)
    for check in verdict.checks:
        stats.set_value(f"orstats/check/{check['name']}", check["result"])
    for result in RESULTS:
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


def problems_of(items: CrawlItems, kind: str) -> list[SourceProblem]:
    return [p for p in items.problems if (p.extra or {}).get("kind") == kind]


def check_identity(verdict: Verdict, items: CrawlItems) -> None:
    """Every per-model answer (model-activity, effective-pricing, a legacy model page) is about the
    model-variant asked for. One that is not is left out (that split or effective price unknown),
    and the week is rejected: an answer mixed up once may be mixed up where nothing shows it (an
    effective price names no model), so no answer of the crawl can be trusted to be its own."""
    mixed = problems_of(items, IDENTITY)
    answers = len(items.activity) + len(items.effective) + len(mixed)
    if mixed:
        detail = "; ".join(f"{p.url} field {p.field!r}: {p.message}" for p in mixed[:LISTED])
        verdict.add("identity", FAIL, f"{len(mixed)} of {answers} per-model answers are about another model-variant "
                                      f"than the one asked for (left out): {detail}")
    elif answers:
        verdict.add("identity", PASS, f"{answers} per-model answers, each about the model-variant asked for")
    else:
        verdict.add("identity", SKIP, "no per-model answer to check")


def check_duplicates(verdict: Verdict, items: CrawlItems) -> None:
    """A key a source listed twice (a leaderboard row, a catalogue id, a chart week or key, a day of
    a split): identical copies were collapsed into one, counted here; copies with different values
    reject the week, naming the key (which of the two is right is unknown)."""
    differing = problems_of(items, DUPLICATE)
    collapsed = Counter()
    for kind, found in ((LEADERBOARD, items.leaderboard), (PRICES, items.prices), (CHART, items.chart)):
        collapsed[kind] += sum(item.duplicates for item in found)
    collapsed[ACTIVITY] += sum(a.duplicate_days for a in items.activity)
    copies = ", ".join(f"{source} {n}" for source, n in collapsed.items() if n)
    note = f"identical copies collapsed into one: {copies}" if copies else "no entry listed twice"
    if differing:
        detail = "; ".join(f"{p.source} {p.url} field {p.field!r}: {p.message}" for p in differing[:LISTED])
        verdict.add("duplicates", FAIL, f"{len(differing)} keys listed twice with different values: {detail}; {note}")
    else:
        verdict.add("duplicates", PASS, note)


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
        missing = largest_first(r for r in summary.rows if not r["split_source"])
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
    tokens = known_tokens(priced)
    if not tokens:
        verdict.add("best_coverage", FAIL, "no priced tokens in the week: nothing to estimate")
        return
    share = known_tokens(estimated) / tokens
    message = f"the best estimate covers {share:.1%} of the week's priced tokens (minimum {minimum:.0%})"
    if share < minimum:
        estimated_rows = {id(r) for r in estimated}  # one set, not a list scanned per row
        missing = largest_first(r for r in priced if id(r) not in estimated_rows)
        verdict.add("best_coverage", FAIL, f"{message}; no estimate for {variants(missing)}")
    else:
        verdict.add("best_coverage", PASS, message)


def check_unknown_tokens(verdict: Verdict, summary: WeekSummary, items: CrawlItems, db: Database,
                         maximum: float) -> None:
    """Ranked rows whose token count is unknown (the source's count was not a count) stay in the
    week; the week is rejected when they hold more than `maximum` of its tokens. Each is weighed by
    an estimate (``estimate_tokens``); one with nothing to estimate it from rejects the week, since
    its weight cannot be bounded."""
    unknown = [r for r in summary.rows if r["total_tokens"] is None]
    if not unknown:
        verdict.add("unknown_tokens", PASS if summary.rows else SKIP,
                    f"every ranked model-variant's token count is known ({len(summary.rows)})")
        return
    known = sum(r["total_tokens"] for r in summary.rows if r["total_tokens"] is not None)
    chart = newest_finished_chart_week(items)
    estimates = [(r, *estimate_tokens(db, r, chart)) for r in unknown]
    unbounded = [r for r, tokens, _ in estimates if tokens is None]
    estimated = sum(tokens for _, tokens, _ in estimates if tokens is not None)
    share = estimated / (known + estimated) if known + estimated else 1.0
    detail = "; ".join(f"{model_variant(r['permaslug'], r['variant'])} "
                       + (f"~{token_count(tokens)} ({basis})" if tokens is not None else "no estimate")
                       for r, tokens, basis in sorted(estimates, key=lambda e: -(e[1] or float("inf")))[:LISTED])
    message = (f"{len(unknown)} ranked model-variants with unknown tokens (and revenue) hold about {share:.2%} of "
               f"the week's tokens (maximum {maximum:.0%}): {detail}")
    if unbounded:
        verdict.add("unknown_tokens", FAIL, f"{message}; {len(unbounded)} with nothing to estimate them from (no "
                                            "published week of theirs, no finished chart week): their weight is "
                                            "not bounded")
    else:
        verdict.add("unknown_tokens", FAIL if share > maximum else FLAG, message)


def newest_finished_chart_week(items: CrawlItems) -> tuple[str, dict[tuple[str, str], int]] | None:
    """(week_start, tokens by (permaslug, variant)) of the chart's newest finished week, Others left out."""
    weeks: dict[str, dict[tuple[str, str], int]] = {}
    for row in finished_chart_rows("", items.chart):
        if row.key != "Others":
            weeks.setdefault(row.week_start, {})[pricing.split_id(row.key)] = row.tokens
    if not weeks:
        return None
    newest = max(weeks)
    return newest, weeks[newest]


def estimate_tokens(db: Database, row: dict[str, Any],
                    chart: tuple[str, dict[tuple[str, str], int]] | None) -> tuple[int | None, str]:
    """(tokens, where from) of a row whose count is unknown: its own latest published week before
    this one, else its value in the chart's newest finished week, else (the chart names its top
    model-variants only) the smallest value that week names, which it cannot have exceeded."""
    if db["model_weeks"].exists():
        for found in db.query(
                "SELECT total_tokens, week_start, week_end FROM weekly_revenue WHERE permaslug = ? AND variant = ? "
                "AND status = ? AND week_end < ? AND total_tokens IS NOT NULL ORDER BY week_end DESC LIMIT 1",
                [row["permaslug"], row["variant"], PUBLISHED, row["week_end"]]):
            return found["total_tokens"], f"its published week {found['week_start']}..{found['week_end']}"
    if chart is None or not chart[1]:
        return None, "no estimate"
    week_start, values = chart
    key = (row["permaslug"], row["variant"])
    if key in values:
        return values[key], f"chart week of {week_start}"
    return min(values.values()), f"at most the smallest value the chart names in the week of {week_start}"


def previous_published(db: Database, crawl_id: str | None, week_end: date | None) -> dict[str, Any] | None:
    """The published crawl (not this one) to compare with: the latest of this week or an earlier one,
    else, for a crawl of an older week or of no week at all, the nearest later one."""
    if not db["crawls"].exists():
        return None
    end = week_end.isoformat() if week_end else "9999-12-31"
    rows = list(db.query(
        "SELECT id, week_end, models_ranked FROM crawls "
        "WHERE status = :status AND id != :crawl AND week_end IS NOT NULL "
        "ORDER BY week_end > :end, CASE WHEN week_end <= :end THEN week_end END DESC, week_end, started_at DESC "
        "LIMIT 1", {"status": PUBLISHED, "crawl": crawl_id or "", "end": end}))
    return rows[0] if rows else None


def check_model_count(verdict: Verdict, summary: WeekSummary, previous: dict[str, Any] | None,
                      minimum_ratio: float) -> None:
    """A leaderboard that suddenly ranks far fewer model-variants is a broken page, not a quiet week."""
    ranked = len(summary.rows)
    if not previous or not previous["models_ranked"]:
        verdict.add("model_count", SKIP, f"{ranked} ranked model-variants; no published crawl ranked any to compare")
        return
    ratio = ranked / previous["models_ranked"]
    message = (f"{ranked} ranked model-variants, {ratio:.0%} of the {previous['models_ranked']} of published crawl "
               f"{previous['id']} (week ending {previous['week_end']}; minimum {minimum_ratio:.0%})")
    verdict.add("model_count", FAIL if ratio < minimum_ratio else PASS, message)


# --- consistency --------------------------------------------------------------------------------

def check_split_bounds(verdict: Verdict, summary: WeekSummary) -> None:
    """Cached tokens are part of prompt tokens: never more (the uncached prompt would be negative),
    which the pipelines make impossible day by day, so this guards the sums. Reasoning tokens above
    completion tokens are flagged: the site reports such days, and reasoning enters no revenue."""
    split = [r for r in summary.rows if r["cached_tokens"] is not None]
    if not split:
        verdict.add("split_bounds", SKIP, "no row with a known split")
        return
    bad = [r for r in split if r["cached_tokens"] > r["prompt_tokens"]]
    if bad:
        detail = "; ".join(f"{r['permaslug']}:{r['variant']} "
                           f"cached {r['cached_tokens']} / prompt {r['prompt_tokens']}, "
                           f"reasoning {r['reasoning_tokens']} / completion {r['completion_tokens']}"
                           for r in bad[:LISTED])
        verdict.add("split_bounds", FAIL, f"{len(bad)} model-variants with an impossible split: {detail}")
        return
    above = [r for r in split if (r["reasoning_tokens"] or 0) > r["completion_tokens"]]
    if above:
        detail = "; ".join(f"{r['permaslug']}:{r['variant']} reasoning {r['reasoning_tokens']} / completion "
                           f"{r['completion_tokens']}" for r in above[:LISTED])
        verdict.add("split_bounds", FLAG, f"cached <= prompt in every row; {len(above)} model-variants with more "
                                          f"reasoning than completion tokens (as the site reports them): {detail}")
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
        verdict.add("leaderboard_totals", SKIP, "no split measured from model-activity to compare")
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
    if not items.chart:
        verdict.add("chart_totals", SKIP, "no chart week to check")
        return
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
        verdict.add("chart_history", SKIP, f"{len(new)} finished chart weeks, none stored before to compare")
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

def largest_first(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows by tokens, largest first; those whose count is unknown last."""
    return sorted(rows, key=lambda r: (r["total_tokens"] is None, -(r["total_tokens"] or 0)))


def known_tokens(rows: Iterable[dict[str, Any]]) -> int:
    """The tokens of the rows whose count is known (the others are weighed by ``unknown_tokens``)."""
    return sum(r["total_tokens"] for r in rows if r["total_tokens"] is not None)


def check_missing_prices(verdict: Verdict, summary: WeekSummary) -> None:
    """A ranked model-variant that is not free but has no usable price: its revenue is unknown."""
    unpriced = largest_first(r for r in summary.rows
                             if r["variant"] != pricing.FREE_VARIANT and r["price_status"] in ("missing", "invalid"))
    if not unpriced:
        verdict.add("prices_missing", PASS, "every ranked paid model-variant has a price")
        return
    tokens = known_tokens(summary.rows)
    share = known_tokens(unpriced) / tokens if tokens else 0.0
    verdict.add("prices_missing", FLAG, f"{len(unpriced)} ranked model-variants without a usable price ({share:.1%} "
                                        f"of the week's tokens; revenue unknown), largest: {variants(unpriced)}")


TEXT_PRICES = ("prompt", "completion", "cache_read")  # ModelPrice's <kind>_price, USD per token


def check_price_bound(verdict: Verdict, items: CrawlItems, maximum: float) -> None:
    """No text price of any catalogue entry above `maximum` USD per million tokens (ten times the
    dearest model OpenRouter listed in 2026): a price beyond it is a decimal point gone astray."""
    if not items.prices:
        verdict.add("price_bound", SKIP, "no catalogue entry to check")
        return
    over = [f"{p.public_id} ({model_variant(p.canonical_slug, p.variant)}) {kind} "
            f"{per_million(getattr(p, f'{kind}_price'))}"
            for p in items.prices for kind in TEXT_PRICES
            if (getattr(p, f"{kind}_price") or 0) * 1e6 > maximum]
    message = f"text prices of {len(items.prices)} catalogue entries (maximum {per_million(maximum / 1e6)})"
    if over:
        verdict.add("price_bound", FAIL, f"{message}: {len(over)} above it: {'; '.join(over[:LISTED])}")
    else:
        verdict.add("price_bound", PASS, f"{message}: none above it")


def believed(items: CrawlItems, untrusted: dict[tuple[str, str], str]) -> CrawlItems:
    """The crawl's items with only the effective prices the gate believes."""
    return replace(items, effective=[e for e in items.effective if (e.permaslug, e.variant) not in untrusted])


def variants(rows: Iterable[dict[str, Any]]) -> str:
    return ", ".join(f"{r['permaslug']}:{r['variant']}" for r in list(rows)[:LISTED])
