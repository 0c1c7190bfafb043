"""Every row a crawl writes (``crawl_records``), from its items, its week summary and the gate's
verdict; and the raw archive as rows (``archive_records``, which imported files use too)."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import fields
from datetime import date, datetime
from typing import Any, Iterable

from itemadapter import ItemAdapter

from orstats_crawler import pricing, weeks
from orstats_crawler.history.price_history import CRAWL
from orstats_crawler.history.provider_summaries import provider_rows
from orstats_crawler.history.records import (ActivityFetchRow, ChartPartialRow, ChartWeekRow, CrawlRecords, CrawlRow,
                                             DailyActivityRow, DatasetDayRow, EffectivePriceRow, ModelWeekRow, PriceRow,
                                             ProblemRow, ResponseBodyRow, ResponseRow)
from orstats_crawler.items import (SPLIT, ChartWeek, EffectivePrice, ModelActivity, ModelPrice, RankingsDaily,
                                   SourceProblem)
from orstats_crawler.publish.crawl_items import CrawlInfo, CrawlItems
from orstats_crawler.publish.week_summary import WeekSummary, flag
from orstats_crawler.raw_responses import ArchivedResponse
from orstats_crawler.sources.activity import SOURCE as ACTIVITY


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
            cached_share_p10=summary.cached_share_p10, cached_share_p90=summary.cached_share_p90,
            platform_fee=info.platform_fee),
        model_weeks=[ModelWeekRow(crawl_id=crawl_id, **row, price_basis=CRAWL, price_observed_on=observed_on)
                     for row in summary.rows],
        daily_activity=list(_daily_rows(crawl_id, items.activity)),
        activity_fetches=list(_fetch_rows(crawl_id, items, summary)),
        prices=list(_price_rows(crawl_id, items.prices, observed_on)),
        problems=[_problem_row(crawl_id, p) for p in items.problems],
        effective_prices=list(_effective_rows(crawl_id, items.effective, untrusted or {})),
        provider_summaries=list(provider_rows(crawl_id, items.effective)),
        responses=responses, response_bodies=bodies,
        chart_weeks=list(finished_chart_rows(crawl_id, items.chart)),
        dataset_daily=list(_dataset_rows(crawl_id, items.rankings_daily)),
        chart_partial_weeks=list(partial_chart_rows(crawl_id, items.chart)),
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
            cache_read_price=price.cache_read_price, is_free=flag(price.is_free),
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
    failed = {(p.permaslug, p.variant): p for p in items.problems if p.source == ACTIVITY}
    measured = {(r["permaslug"], r["variant"]) for r in summary.rows if r["split_source"] == ACTIVITY}
    for plan in items.plans[-1:]:
        for candidate in plan.candidates:
            key = (candidate["permaslug"], candidate["variant"])
            fetched = activity.get(key)
            if key in measured:
                status = "measured"
            elif fetched is not None:
                status = "empty"  # answered, but not every day of the week is there to use
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


_OWN_ROWS = ("provider_summaries", "problems")  # an effective price's fields that go to rows of their own


def _effective_rows(crawl_id: str, prices: list[EffectivePrice],
                    untrusted: dict[tuple[str, str], str]) -> Iterable[EffectivePriceRow]:
    for price in prices:
        # The item's own fields, not ItemAdapter.asdict: that deep-copies the provider summaries too.
        row = {f.name: getattr(price, f.name) for f in fields(price) if f.name not in _OWN_ROWS}
        row["url"] = row.pop("source_url")
        row["fetched_at"] = price.fetched_at.isoformat() if price.fetched_at else None
        yield EffectivePriceRow(crawl_id=crawl_id, **row,
                                rejected_because=untrusted.get((price.permaslug, price.variant)))


def _dataset_rows(crawl_id: str, answers: list[RankingsDaily]) -> Iterable[DatasetDayRow]:
    for answer in answers:
        for row in answer.rows:
            permaslug, variant = pricing.split_id(row["key"])
            yield DatasetDayRow(day=row["day"].isoformat(), key=row["key"], permaslug=permaslug, variant=variant,
                                total_tokens=row["total_tokens"], as_of=answer.as_of, crawl_id=crawl_id)


def finished_chart_rows(crawl_id: str, chart: list[ChartWeek]) -> Iterable[ChartWeekRow]:
    """The chart's finished weeks (what the quality gate compares with the stored ones)."""
    for week in _chart_weeks(chart, finished=True):
        start, end = week.week_start.isoformat(), weeks.chart_week_end(week.week_start).isoformat()
        for key, tokens in week.values.items():
            yield ChartWeekRow(week_start=start, week_end=end, key=key, tokens=tokens, crawl_id=crawl_id)


def partial_chart_rows(crawl_id: str, chart: list[ChartWeek]) -> Iterable[ChartPartialRow]:
    """The chart's weeks not finished yet, with the day the chart was computed."""
    for week in _chart_weeks(chart, finished=False):
        start, seen_on = week.week_start.isoformat(), week.fetched_at.date().isoformat() if week.fetched_at else None
        for key, tokens in week.values.items():
            yield ChartPartialRow(crawl_id=crawl_id, week_start=start, key=key, tokens=tokens, seen_on=seen_on)


def _chart_weeks(chart: list[ChartWeek], *, finished: bool) -> Iterable[ChartWeek]:
    """The chart's weeks that are finished (or, with ``finished=False``, not yet) as of its newest."""
    newest = max((week.week_start for week in chart), default=None)
    return [week for week in chart
            if weeks.chart_week_finished(week.week_start, newest, week.fetched_at) == finished]


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


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
