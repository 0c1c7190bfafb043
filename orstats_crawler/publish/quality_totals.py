"""The gate on the week's tokens: its total against the chart and the previous published week, the
chart week that finishes in this crawl against the weeks around it, and each model-variant's
tokens against its own previous week where the jump is material to the spend (a row priced only by
its effective price included).

The settings (the "gate on effective prices, drift and week totals" block of settings.py) are
calibrated on the real weekly captures (bench/calibration.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from orstats_crawler.publish import quality_effective
from orstats_crawler.publish.crawl_records import finished_chart_rows
from orstats_crawler.numbers import tokens as token_count
from orstats_crawler.publish.results import FAIL, LISTED, PASS, SKIP
from orstats_crawler.sources import model_variant



@dataclass(frozen=True)
class TotalLimits:
    max_chart_gap: float  # the week's tokens vs the chart's newest finished week, either way
    max_week_move: float  # vs the previous published week; a chart week vs the one before it
    max_jump_share: float  # of the week's spend, gained by one model-variant over its own previous week
    chart_tolerance: float  # how far below its unfinished view a finished chart week may be

    @classmethod
    def from_settings(cls, settings: Any) -> "TotalLimits":
        return cls(settings.getfloat("ORSTATS_MAX_CHART_GAP"), settings.getfloat("ORSTATS_MAX_WEEK_MOVE"),
                   settings.getfloat("ORSTATS_MAX_JUMP_SPEND_SHARE"), settings.getfloat("ORSTATS_CHART_TOLERANCE"))


def within(value: float, reference: float, factor: float) -> bool:
    return reference > 0 and reference / factor <= value <= reference * factor


def chart_totals(items: Any) -> list[tuple[str, int, int]]:
    """(week_start, total tokens with Others, tokens of the named model-variants) of the chart's
    finished weeks, oldest first."""
    totals: dict[str, list[int]] = {}
    for row in finished_chart_rows("", items.chart):
        week = totals.setdefault(row.week_start, [0, 0])
        week[0] += row.tokens
        week[1] += row.tokens if row.key != "Others" else 0
    return [(week, total, named) for week, (total, named) in sorted(totals.items())]


def last_week(previous: dict[str, Any] | None, week_end: Any) -> bool:
    """The published crawl is of this week or of the 7 days before it (an older week, an import
    months back, says nothing of how far the week may move)."""
    if previous is None or week_end is None:
        return False
    gap = date.fromisoformat(str(week_end)) - date.fromisoformat(previous["week_end"])
    return timedelta(0) <= gap <= timedelta(days=7)


def previous_week_tokens(db: Database, previous: dict[str, Any] | None, week_end: Any) -> int | None:
    if not last_week(previous, week_end) or not db["model_weeks"].exists():
        return None
    found = db.execute("SELECT SUM(total_tokens) FROM model_weeks WHERE crawl_id = ? AND week_end = ?",
                       [previous["id"], previous["week_end"]]).fetchone()
    return found[0] if found else None


def check_week_totals(verdict: Any, summary: Any, items: Any, db: Database, previous: dict[str, Any] | None,
                      limits: TotalLimits) -> None:
    """``week_totals``: the leaderboard's tokens against the chart's newest finished week and the
    previous published week; ``chart_week``: the chart's newest finished week (the one finishing in
    this crawl) against the week before it."""
    tokens = sum(r["total_tokens"] for r in summary.rows if r["total_tokens"] is not None)
    chart = chart_totals(items)
    before = previous_week_tokens(db, previous, summary.week_end)
    compared, wrong = [], []
    if chart:
        # the leaderboard holds at most all of the week's tokens and at least its named model-variants'
        week, total, named = chart[-1]
        compared.append(f"the chart's week of {week} {token_count(named)} named of {token_count(total)}")
        if not named / limits.max_chart_gap <= tokens <= total * limits.max_chart_gap:
            wrong.append(f"the chart's week of {week} says {token_count(named)} named of {token_count(total)}")
    if before:
        compared.append(f"published week ending {previous['week_end']} {token_count(before)} ({tokens / before:.3f}x)")
        if not within(tokens, before, limits.max_week_move):
            wrong.append(f"the published week ending {previous['week_end']} had {token_count(before)}")
    message = (f"the week's {token_count(tokens)} tokens vs " + "; ".join(compared)
               + f" (at most {limits.max_chart_gap:g}x from the chart, {limits.max_week_move:g}x from the last week)")
    if not compared:
        verdict.add("week_totals", SKIP, f"the week's {token_count(tokens)} tokens: no chart week or published week "
                                         "to compare")
    elif wrong:
        verdict.add("week_totals", FAIL, f"{message}: {'; '.join(wrong)}")
    else:
        verdict.add("week_totals", PASS, message)
    check_chart_week(verdict, chart, limits)
    check_chart_partial(verdict, chart, db, limits)


def check_chart_week(verdict: Any, chart: list[tuple[str, int]], limits: TotalLimits) -> None:
    if len(chart) < 2:
        verdict.add("chart_week", SKIP, f"{len(chart)} finished chart weeks: none before the newest to compare")
        return
    (week_before, before, _), (week, total, _) = chart[-2], chart[-1]
    message = (f"the chart's week of {week} {token_count(total)} vs the week of {week_before} {token_count(before)} "
               f"(at most {limits.max_week_move:g}x either way)")
    verdict.add("chart_week", PASS if within(total, before, limits.max_week_move) else FAIL, message)


def partial_view(db: Database, week_start: str) -> tuple[int, str | None, str] | None:
    """(total tokens, the day it was seen, the crawl) of the latest published crawl's view of a chart
    week before it finished."""
    if not db["chart_partial_weeks"].exists():
        return None
    found = db.execute(
        "SELECT SUM(p.tokens), p.seen_on, p.crawl_id FROM chart_partial_weeks p JOIN crawls c ON c.id = p.crawl_id "
        "WHERE p.week_start = ? AND c.status = 'published' GROUP BY p.crawl_id ORDER BY p.seen_on DESC, "
        "c.started_at DESC LIMIT 1", [week_start]).fetchone()
    return tuple(found) if found and found[0] is not None else None


def check_chart_partial(verdict: Any, chart: list[tuple[str, int, int]], db: Database, limits: TotalLimits) -> None:
    """``chart_partial``: the chart week finishing in this crawl against a published crawl's view of
    it while it ran: a week only grows (at least what was seen, give or take ``chart_tolerance``),
    and ends within ``max_week_move`` of what its full days seen promised (seen total x 7 / full
    days; no upper bound when no full day was seen)."""
    if not chart:
        verdict.add("chart_partial", SKIP, "no finished chart week")
        return
    week, total, _ = chart[-1]
    seen = partial_view(db, week)
    if seen is None:
        verdict.add("chart_partial", SKIP, f"the chart's week of {week}: no published crawl saw it unfinished")
        return
    partial, seen_on, crawl = seen
    full_days = (date.fromisoformat(seen_on) - date.fromisoformat(week)).days if seen_on else 0
    ceiling = partial * 7 / full_days * limits.max_week_move if 0 < full_days < 7 else None
    message = (f"the chart's week of {week} finished at {token_count(total)}; crawl {crawl} saw "
               f"{token_count(partial)} on {seen_on} ({full_days} full days)"
               + (f", at most {token_count(round(ceiling))}" if ceiling else ""))
    ok = total >= partial * (1 - limits.chart_tolerance) and (ceiling is None or total <= ceiling)
    verdict.add("chart_partial", PASS if ok else FAIL, message)


def published_week_tokens(db: Database, previous: dict[str, Any] | None,
                          week_end: Any) -> dict[tuple[str, str], int | None]:
    """Each model-variant's tokens in the latest published crawl's week, when that week is this one
    or the 7 days before it (``last_week``); else none."""
    if not last_week(previous, week_end) or not db["model_weeks"].exists():
        return {}
    return {(r["permaslug"], r["variant"]): r["total_tokens"] for r in db.query(
        "SELECT permaslug, variant, total_tokens FROM model_weeks WHERE crawl_id = ? AND week_end = ?",
        [previous["id"], previous["week_end"]])}


def own_previous_tokens(row: dict[str, Any], published: dict[tuple[str, str], int | None],
                        previous: dict[str, Any] | None) -> tuple[int | None, str]:
    """A row's tokens of its previous week: its own previous 7 days in the same model-activity
    answer, else its week in the latest published crawl (``published_week_tokens``: of the 7 days
    before, or of this same week: a re-crawl of the week holds the same tokens)."""
    if row.get("previous_prompt_tokens") is not None and row.get("previous_completion_tokens") is not None:
        return row["previous_prompt_tokens"] + row["previous_completion_tokens"], "its previous 7 days"
    key = (row["permaslug"], row["variant"])
    if key in published:
        return published[key], f"its published week ending {previous['week_end']}"
    return None, ""


def check_token_jumps(verdict: Any, summary: Any, items: Any, db: Database, previous: dict[str, Any] | None,
                      limits: TotalLimits) -> None:
    """Each model-variant's tokens against its own previous week: the tokens it gained, at its price
    (list, or effective where that is higher, or the only one), may not hold more than
    ``max_jump_share`` of the week's spend."""
    paid = {(e.permaslug, e.variant): e for e in items.effective}
    spend = quality_effective.week_spend(summary.rows)
    published = published_week_tokens(db, previous, summary.week_end)
    jumps, compared = [], 0
    for row in summary.rows:
        tokens = row["total_tokens"]
        if not tokens:
            continue
        before, basis = own_previous_tokens(row, published, previous)
        if before is None:
            continue
        compared += 1
        gained = max(0, tokens - before) / tokens
        share = gained * quality_effective.row_spend(row, paid.get((row["permaslug"], row["variant"]))) / spend \
            if spend else 0.0
        if share > limits.max_jump_share:
            jumps.append((share, f"{model_variant(row['permaslug'], row['variant'])} {token_count(tokens)} vs "
                                 f"{token_count(before)} ({basis}): gained {share:.1%} of the week's spend"))
    message = (f"{compared} model-variants' tokens vs their own previous week (the tokens gained may hold at most "
               f"{limits.max_jump_share:.0%} of the week's spend)")
    if not compared:
        verdict.add("token_jumps", SKIP, "no model-variant with a previous week to compare")
    elif jumps:
        verdict.add("token_jumps", FAIL, f"{message}: " + "; ".join(t for _, t in sorted(jumps, reverse=True)[:LISTED]))
    else:
        verdict.add("token_jumps", PASS, message)
