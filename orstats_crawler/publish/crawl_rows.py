"""A crawl's items as history records: the week they describe (``summarize_week``: the leaderboard
joined to the measured split over the crawl's window, what the quality gate reads) and every row
the crawl writes (``crawl_records``).

The week's rows also carry what their best estimate (formulas.py) needs beyond the items: a
measured row's previous 7 days from the same daily activity (week over week), an unmeasured row's
imputed cached share (``impute_cached_shares``), and the coverage of the week's list-price spend the
measured splits guarantee: measured list spend / (measured list spend + the no-cache upper bound of
every priced row not measured), a lower bound of the true share whatever the unmeasured splits are.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Iterable

from itemadapter import ItemAdapter

from orstats_crawler import pricing, weeks
from orstats_crawler.history.formulas import REVENUE_LIST, evaluate, guaranteed_share
from orstats_crawler.history.price_history import CRAWL
from orstats_crawler.history.series import DAILY
from orstats_crawler.history.records import (ActivityFetchRow, ChartWeekRow, CrawlRecords, CrawlRow, DailyActivityRow,
                                             DatasetDayRow, EffectivePriceRow, ModelWeekRow, PriceRow, ProblemRow,
                                             ResponseBodyRow, ResponseRow)
from orstats_crawler.items import (SPLIT, ActivityPlan, ChartWeek, EffectivePrice, LeaderboardRow, ModelActivity,
                                   ModelPrice, RankingsDaily, SourceProblem)
from orstats_crawler.raw_responses import ArchivedResponse


@dataclass
class CrawlInfo:
    """What the crawl knows about itself, apart from its items."""

    id: str
    started_at: datetime
    base_url: str | None
    snapshot: str | None = None
    forced: bool = False
    finished_at: datetime | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class CrawlItems:
    """A crawl's items, by kind."""

    prices: list[ModelPrice] = field(default_factory=list)
    leaderboard: list[LeaderboardRow] = field(default_factory=list)
    chart: list[ChartWeek] = field(default_factory=list)
    activity: list[ModelActivity] = field(default_factory=list)
    plans: list[ActivityPlan] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    effective: list[EffectivePrice] = field(default_factory=list)
    rankings_daily: list[RankingsDaily] = field(default_factory=list)

    def add(self, item: Any) -> None:
        """File an item under its kind; the problems a pipeline found with it join the crawl's."""
        bucket = {
            ModelPrice: self.prices, LeaderboardRow: self.leaderboard, ChartWeek: self.chart,
            ModelActivity: self.activity, ActivityPlan: self.plans, SourceProblem: self.problems,
            EffectivePrice: self.effective, RankingsDaily: self.rankings_daily,
        }.get(type(item))
        if bucket is not None:
            bucket.append(item)
        self.problems.extend(SourceProblem(**problem) for problem in getattr(item, "problems", None) or ())

    @property
    def era(self) -> str:
        eras = {row.era for row in self.leaderboard} or {week.era for week in self.chart}
        return "+".join(sorted(eras)) or "unknown"


@dataclass
class WeekSummary:
    """The crawl's week as ``model_weeks`` rows, and how much of it has a measured split."""

    week_start: date | None
    week_end: date | None
    rows: list[dict[str, Any]]
    coverage: float | None  # share of the no-cache upper bound held by model-variants whose split is known
    token_coverage: float | None
    models_measured: int
    spend_coverage: float | None = None  # share of the list-price spend the measured splits guarantee
    cached_share_p10: float | None = None  # of the measured cached shares: an imputed row's band
    cached_share_p90: float | None = None


def summarize_week(items: CrawlItems) -> WeekSummary:
    """Join the leaderboard to the measured split over the crawl's window.

    A row whose token count is unknown stays in the week with unknown (None) tokens, split, spend
    and revenue, ranked after every row whose count is known; the coverages are shares of the rows
    whose count is known (the quality gate weighs the others on their own)."""
    window = weeks.crawl_window(
        (a.fetched_at.date() for a in items.activity if a.fetched_at),
        (row.last_day for row in items.leaderboard),
    )
    if window is None:
        return WeekSummary(None, None, [], None, None, 0)
    start, end = window
    splits = {(a.permaslug, a.variant): _window_sum(a, start, end) for a in items.activity}
    activity_of = {(a.permaslug, a.variant): a for a in items.activity}
    ranked = sorted(items.leaderboard, key=lambda r: (r.total_tokens is None, -(r.total_tokens or 0), r.permaslug,
                                                      r.variant))
    upper_bounds = {(c["permaslug"], c["variant"]): c["upper_bound_usd"] for p in items.plans for c in p.candidates}
    rows = []
    for rank, row in enumerate(ranked, start=1):
        key = (row.permaslug, row.variant)
        split = splits.get(key) if row.total_tokens is not None else None
        if split is not None:
            source = "activity"
        elif row.cached_tokens is not None and row.reasoning_tokens is not None:
            source = "leaderboard"
            split = {"prompt_tokens": row.prompt_tokens, "completion_tokens": row.completion_tokens,
                     "cached_tokens": row.cached_tokens, "reasoning_tokens": row.reasoning_tokens,
                     "requests": row.requests}
        else:
            source = None
        prompt = split["prompt_tokens"] if split else row.prompt_tokens
        completion = split["completion_tokens"] if split else row.completion_tokens
        upper_bound = upper_bounds.get(key)
        if upper_bound is None and row.total_tokens is not None:  # not a split candidate: the same bound
            price = pricing.ListPrice(row.prompt_price, row.completion_price, row.cache_read_price,
                                      bool(row.is_free), row.price_status or pricing.NO_PRICE.status)
            upper_bound = pricing.upper_bound_usd(row.prompt_tokens, row.completion_tokens, price)
        rows.append({
            "week_start": start.isoformat(), "week_end": end.isoformat(),
            "permaslug": row.permaslug, "variant": row.variant, "public_id": row.public_id,
            "name": row.name or row.permaslug, "rank": rank,
            "total_tokens": row.total_tokens if split is None else prompt + completion,
            "prompt_tokens": prompt, "completion_tokens": completion,
            "cached_tokens": split["cached_tokens"] if split else None,
            "reasoning_tokens": split["reasoning_tokens"] if split else None,
            "requests": split["requests"] if split else row.requests,
            "change": row.change, "split_source": source,
            "leaderboard_prompt_tokens": row.prompt_tokens, "leaderboard_completion_tokens": row.completion_tokens,
            "prompt_price": row.prompt_price, "completion_price": row.completion_price,
            "cache_read_price": row.cache_read_price, "is_free": _flag(row.is_free),
            "price_status": row.price_status, "upper_bound_usd": upper_bound,
        })
        rows[-1].update(previous_week(activity_of.get(key), start) if source == "activity" else NO_PREVIOUS)
    spend = sum(r["upper_bound_usd"] or 0.0 for r in rows)
    measured_spend = sum(r["upper_bound_usd"] or 0.0 for r in rows if r["split_source"])
    tokens = sum(r["total_tokens"] for r in rows if r["total_tokens"] is not None)
    measured_tokens = sum(r["total_tokens"] for r in rows if r["split_source"])
    p10, p90 = impute_cached_shares(rows)
    return WeekSummary(
        start, end, rows,
        coverage=measured_spend / spend if spend else None,
        token_coverage=measured_tokens / tokens if tokens else None,
        models_measured=sum(1 for r in rows if r["split_source"]),
        spend_coverage=guaranteed_spend_coverage(rows),
        cached_share_p10=p10, cached_share_p90=p90,
    )


NO_PREVIOUS = {"previous_prompt_tokens": None, "previous_completion_tokens": None, "previous_cached_tokens": None,
               "previous_source": None}


def previous_week(activity: ModelActivity | None, week_start: date) -> dict[str, Any]:
    """A measured row's previous 7 days, from the same daily activity, when it has all 7 of them."""
    if activity is None:
        return NO_PREVIOUS
    first = week_start - weeks.WEEK
    days = [d for d in activity.days if first <= d["date"] < week_start]
    if len({d["date"] for d in days}) < 7:
        return NO_PREVIOUS
    return {"previous_prompt_tokens": sum(d["prompt_tokens"] for d in days),
            "previous_completion_tokens": sum(d["completion_tokens"] for d in days),
            "previous_cached_tokens": sum(d["cached_tokens"] for d in days), "previous_source": DAILY}


def guaranteed_spend_coverage(rows: list[dict[str, Any]]) -> float | None:
    """Measured list spend / (measured list spend + the upper bound of every priced unmeasured row)."""
    measured = [r for r in rows if r["split_source"]]
    spends = [usd for usd in evaluate(REVENUE_LIST, measured) if usd is not None]
    unmeasured = sum(r["upper_bound_usd"] or 0.0 for r in rows if not r["split_source"])
    return guaranteed_share(sum(spends), unmeasured)


def cached_share(row: dict[str, Any]) -> float | None:
    """The share of a measured row's prompt tokens read from cache."""
    if not row["split_source"] or not row["prompt_tokens"]:
        return None
    return row["cached_tokens"] / row["prompt_tokens"]


def family_of(permaslug: str) -> str:
    """A model's family: its author and the words of its name without versions or dates
    (`anthropic/claude-4.6-sonnet-20260217` -> `anthropic/claude-sonnet`)."""
    author, _, name = permaslug.partition("/")
    return author + "/" + "-".join(word for word in name.split("-") if not any(c.isdigit() for c in word))


def impute_cached_shares(rows: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Give every unmeasured row the cached share of its nearest measured kin (its own model's other
    variants, its family, its author, else the week's prompt-weighted median share), noting which in
    ``cached_share_from``; return the 10th and 90th percentile of the measured shares (the band)."""
    measured = [(r, cached_share(r)) for r in rows]
    measured = [(r, share) for r, share in measured if share is not None]
    groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r, _ in measured:
        for level, group in kin(r["permaslug"]):
            groups.setdefault((level, group), []).append((r["cached_tokens"], r["prompt_tokens"]))
    week = weighted_median([(share, r["prompt_tokens"]) for r, share in measured])
    for r in rows:
        r["cached_share_imputed"] = r["cached_share_from"] = None
        if r["split_source"] or r["prompt_tokens"] is None:
            continue
        found = next(((level, groups[level, group]) for level, group in kin(r["permaslug"])
                      if (level, group) in groups), None)
        if found is not None:
            level, pairs = found
            r["cached_share_imputed"] = sum(c for c, _ in pairs) / sum(p for _, p in pairs)
            r["cached_share_from"] = level
        elif week is not None:
            r["cached_share_imputed"], r["cached_share_from"] = week, "week"
    shares = sorted(share for _, share in measured)
    if not shares:
        return None, None
    return percentile(shares, 0.10), percentile(shares, 0.90)


def kin(permaslug: str) -> list[tuple[str, str]]:
    """The groups a model-variant's cached share is imputed from, nearest first."""
    return [("model", permaslug), ("family", family_of(permaslug)), ("author", permaslug.partition("/")[0])]


def weighted_median(pairs: list[tuple[float, int]]) -> float | None:
    """The value at half of the total weight (values sorted)."""
    total = sum(weight for _, weight in pairs)
    if not total:
        return None
    seen = 0
    for value, weight in sorted(pairs):
        seen += weight
        if seen >= total / 2:
            return value
    return None  # not reached: the weights sum to total


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks of sorted ``values``."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _window_sum(activity: ModelActivity, start: date, end: date) -> dict[str, int] | None:
    days = [d for d in activity.days if start <= d["date"] <= end]
    if not days:
        return None  # fetched but nothing in the week: the split is not known
    if any(d["date"] is None or start <= d["date"] <= end for d in activity.dropped_days):
        return None  # a day of the week was dropped (days outside it change nothing)
    total = {name: sum(d[name] for d in days) for name in SPLIT}
    total["requests"] = sum(d["requests"] or 0 for d in days) if all(d["requests"] is not None for d in days) else None
    return total


def crawl_records(info: CrawlInfo, items: CrawlItems, summary: WeekSummary, status: str,
                  checks: list[dict[str, Any]], archive: Iterable[ArchivedResponse] = (),
                  untrusted: dict[tuple[str, str], str] | None = None) -> CrawlRecords:
    """Everything the crawl writes, with its verdict (``untrusted``: the effective prices the gate did
    not believe, by (permaslug, variant), with why)."""
    crawl_id = info.id
    finished = info.finished_at or info.started_at
    # Prices are dated by the day the sources were computed on (a replay keeps its capture day).
    observed_on = source_day(items, summary, finished).isoformat()
    plan = items.plans[-1] if items.plans else None
    responses, bodies = archive_records(crawl_id, archive)
    return CrawlRecords(
        crawl=CrawlRow(
            id=crawl_id, started_at=info.started_at.isoformat(), finished_at=finished.isoformat(), status=status,
            era=items.era, base_url=info.base_url, snapshot=info.snapshot,
            week_start=_iso(summary.week_start), week_end=_iso(summary.week_end),
            selection=plan.selection if plan else None, coverage=summary.coverage,
            planned_coverage=plan.planned_spend_coverage if plan else None, token_coverage=summary.token_coverage,
            models_ranked=len(summary.rows), models_measured=summary.models_measured, problems=len(items.problems),
            forced=int(info.forced), checks=json.dumps(checks, default=str),
            stats=json.dumps(info.stats, default=str, sort_keys=True), spend_coverage=summary.spend_coverage,
            cached_share_p10=summary.cached_share_p10, cached_share_p90=summary.cached_share_p90),
        model_weeks=[ModelWeekRow(crawl_id=crawl_id, **row, price_basis=CRAWL, price_observed_on=observed_on)
                     for row in summary.rows],
        daily_activity=list(_daily_rows(crawl_id, items.activity)),
        activity_fetches=list(_fetch_rows(crawl_id, items, summary)),
        prices=list(_price_rows(crawl_id, items.prices, observed_on)),
        problems=[_problem_row(crawl_id, p) for p in items.problems],
        effective_prices=[replace(r, rejected_because=(untrusted or {}).get((r.permaslug, r.variant)))
                          for r in _effective_rows(crawl_id, items.effective)],
        responses=responses, response_bodies=bodies,
        chart_weeks=list(finished_chart_rows(crawl_id, items.chart)),
        dataset_daily=list(_dataset_rows(crawl_id, items.rankings_daily)),
    )


def source_day(items: CrawlItems, summary: WeekSummary, finished: datetime) -> date:
    """The day the sources were computed on: the day after the week's last complete day, else the
    newest `cachedAt` any source gave (a replay keeps its capture day), else the crawl's own day."""
    if summary.week_end:
        return weeks.computed_on(summary.week_end)
    stamped = [i.fetched_at for i in (*items.activity, *items.chart) if i.fetched_at is not None]
    return max(stamped).date() if stamped else finished.date()


def _price_rows(crawl_id: str, prices: list[ModelPrice], observed_on: str) -> Iterable[PriceRow]:
    """One row per public id: the entry of the catalogue that takes precedence (as the spider priced)."""
    chosen: dict[str, ModelPrice] = {}
    for price in prices:
        if price.public_id not in chosen or price.precedence < chosen[price.public_id].precedence:
            chosen[price.public_id] = price
    for price in chosen.values():
        yield PriceRow(
            crawl_id=crawl_id, observed_on=observed_on, public_id=price.public_id,
            canonical_slug=price.canonical_slug, variant=price.variant, name=price.name,
            prompt_price=price.prompt_price, completion_price=price.completion_price,
            cache_read_price=price.cache_read_price, is_free=_flag(price.is_free),
            pricing=json.dumps(price.pricing, sort_keys=True), created=price.created)


def _daily_rows(crawl_id: str, activities: list[ModelActivity]) -> Iterable[DailyActivityRow]:
    for activity in activities:
        for day in activity.days:
            yield DailyActivityRow(crawl_id=crawl_id, permaslug=activity.permaslug, variant=activity.variant,
                                   day=day["date"].isoformat(),
                                   **{k: day[k] for k in (*SPLIT, "requests", "tool_calls")})


def _fetch_rows(crawl_id: str, items: CrawlItems, summary: WeekSummary) -> Iterable[ActivityFetchRow]:
    """One row per split candidate: selected or not, and what became of its request."""
    activity = {(a.permaslug, a.variant): a for a in items.activity}
    failed = {(p.permaslug, p.variant): p for p in items.problems if p.source == "activity"}
    measured = {(r["permaslug"], r["variant"]) for r in summary.rows if r["split_source"] == "activity"}
    for plan in items.plans[-1:]:
        for candidate in plan.candidates:
            key = (candidate["permaslug"], candidate["variant"])
            fetched = activity.get(key)
            if key in measured:
                status = "measured"
            elif fetched is not None:
                status = "empty"  # answered, but no complete day inside the week
            elif key in failed:
                status = "failed"
            else:
                status = "selected" if candidate["selected"] else "not_selected"
            yield ActivityFetchRow(
                crawl_id=crawl_id, permaslug=key[0], variant=key[1], selected=int(candidate["selected"]),
                tokens=candidate["tokens"], upper_bound_usd=candidate["upper_bound_usd"], status=status,
                url=(fetched.source_url if fetched else failed[key].url if key in failed else None),
                days=len(fetched.days) if fetched else None,
                partial_day=_iso(fetched.dropped_partial_day) if fetched else None)


def _effective_rows(crawl_id: str, prices: list[EffectivePrice]) -> Iterable[EffectivePriceRow]:
    for price in prices:
        row = ItemAdapter(price).asdict()
        row["url"] = row.pop("source_url")
        row["fetched_at"] = price.fetched_at.isoformat() if price.fetched_at else None
        yield EffectivePriceRow(crawl_id=crawl_id, **row)


def _dataset_rows(crawl_id: str, answers: list[RankingsDaily]) -> Iterable[DatasetDayRow]:
    for answer in answers:
        for row in answer.rows:
            permaslug, variant = pricing.split_id(row["key"])
            yield DatasetDayRow(day=row["day"].isoformat(), key=row["key"], permaslug=permaslug, variant=variant,
                                total_tokens=row["total_tokens"], as_of=answer.as_of, crawl_id=crawl_id)


def finished_chart_rows(crawl_id: str, chart: list[ChartWeek]) -> Iterable[ChartWeekRow]:
    """The chart's finished weeks (what the quality gate compares with the stored ones)."""
    if not chart:
        return
    newest = max(week.week_start for week in chart)
    for week in chart:
        if not weeks.chart_week_finished(week.week_start, newest, week.fetched_at):
            continue
        for key, tokens in week.values.items():
            yield ChartWeekRow(week_start=week.week_start.isoformat(),
                               week_end=weeks.chart_week_end(week.week_start).isoformat(),
                               key=key, tokens=tokens, crawl_id=crawl_id)


def _problem_row(crawl_id: str, problem: SourceProblem) -> ProblemRow:
    row = ItemAdapter(problem).asdict()
    row.pop("extra", None)
    return ProblemRow(crawl_id=crawl_id, **row)


def archive_records(crawl_id: str, archive: Iterable[ArchivedResponse]) -> tuple[list[ResponseRow],
                                                                                   list[ResponseBodyRow]]:
    """The raw archive: each response's row, and its body gzipped once per content (mtime 0, so the
    same body always compresses to the same bytes)."""
    bodies: dict[str, bytes] = {}
    rows = []
    for response in archive:
        digest = hashlib.sha256(response.body).hexdigest()
        if digest not in bodies:
            bodies[digest] = gzip.compress(response.body, compresslevel=6, mtime=0)
        rows.append(ResponseRow(crawl_id=crawl_id, url=response.url, status=response.status,
                                content_type=response.content_type, fetched_at=response.fetched_at.isoformat(),
                                bytes=len(response.body), sha256=digest))
    return rows, [ResponseBodyRow(sha256=digest, body_gz=body) for digest, body in bodies.items()]


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
