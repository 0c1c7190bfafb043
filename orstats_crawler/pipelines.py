"""Item pipelines, one job each, each counting what it does under `orstats/<pipeline>/...`.

200 NormalizePipeline  types: counts as ints, dates as UTC days; drop the source's partial day and
                       any day after the crawl's own day
300 ValidatePipeline   cached <= prompt (a day that breaks it is dropped, that day only)
400 PricePipeline      join each model-variant to its list price on (canonical_slug, variant)

A leaderboard row is never dropped: a token count that is not a count (`"1e30"`, `NaN`, -5, 2.5,
beyond SQLite's integer range) leaves the row in the week with unknown tokens and revenue. What a
pipeline finds wrong with an item it keeps becomes a problem in the item's ``problems`` (source, URL,
field and value), stored with the crawl and weighed by the quality gate.

Reasoning tokens above completion tokens on a day are counted, not dropped: the site reports it
(46 days of 7 model-variants in the 2026-08-08 capture) and reasoning tokens enter no revenue
formula, while cached tokens above prompt tokens would make the uncached prompt negative.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime, timezone
from typing import Any

from scrapy.exceptions import DropItem

from orstats_crawler import normalize, pricing
from orstats_crawler.daily_split import DayError, split_error, typed_day
from orstats_crawler.items import (SPLIT, ChartWeek, LeaderboardRow, ModelActivity, ModelPrice, RankingsDaily,
                                   SourceProblem)
from orstats_crawler.sources import model_variant
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.data_api import SOURCE as DATA_API
from orstats_crawler.sources.rankings import CACHED, LEADERBOARD, REASONING

logger = logging.getLogger(__name__)

# Item fields -> the source's field names, for problems (leaderboard rows and daily rows alike).
SOURCE_FIELDS = {"prompt_tokens": "total_prompt_tokens", "completion_tokens": "total_completion_tokens",
                 "cached_tokens": CACHED, "reasoning_tokens": REASONING, "requests": "count",
                 "tool_calls": "total_tool_calls", "last_day": "date", "change": "change"}


class StatsPipeline:
    """Base: keeps the crawler and counts under one prefix."""

    prefix = "orstats"

    def __init__(self, crawler: Any):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> "StatsPipeline":
        return cls(crawler)

    def inc(self, key: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(f"{self.prefix}/{key}", count)

    def drop(self, key: str, message: str) -> DropItem:
        """Count, log (naming the URL and field in `message`) and return the DropItem to raise."""
        self.inc(key)
        logger.warning("dropped: %s", message)
        return DropItem(message)

    def keep_problem(self, item: Any, key: str, source: str, field: str, message: str) -> None:
        """Count and log what is wrong with a value of an item that is kept, and add it to the item's
        problems (which the history stores with the crawl)."""
        self.inc(key)
        permaslug, variant = getattr(item, "permaslug", None), getattr(item, "variant", None)
        logger.warning("%s %s field %s: %s", source, item.source_url, field, message)
        item.problems.append(asdict(SourceProblem(source, item.source_url, field, message, permaslug=permaslug,
                                                  variant=variant)))

    def drop_day(self, item: ModelActivity, day: date | None, field: str, why: str) -> None:
        """One day of a split dropped: a problem, and a mark that makes any week holding it (any
        week at all when the day itself is unknown) have no known split."""
        shown = day if day is not None else "of unknown date"
        self.keep_problem(item, "activity/days_dropped", ACTIVITY, field, f"day {shown}: {why}: day dropped")
        item.dropped_days.append({"date": day, "why": f"{field}: {why}"})

    def crawl_day(self) -> date:
        """The crawl's own day (UTC, from Scrapy's `start_time`): no source can know a later one."""
        started = self.crawler.stats.get_value("start_time") or datetime.now(timezone.utc)
        return normalize.utc_day(started)


class NormalizePipeline(StatsPipeline):
    prefix = "orstats/normalize"

    def process_item(self, item: Any) -> Any:
        if isinstance(item, LeaderboardRow):
            self._leaderboard_row(item)
        elif isinstance(item, ModelActivity):
            self._activity(item)
        elif isinstance(item, ChartWeek):
            self._chart_week(item)
        elif isinstance(item, RankingsDaily):
            self._rankings_daily(item)
        elif isinstance(item, SourceProblem):
            self.inc(f"problems/{item.source}")
            logger.warning("source problem: %s %s field=%s: %s", item.source, item.url, item.field, item.message)
        collapsed = getattr(item, "duplicates", 0) or getattr(item, "duplicate_days", 0)
        if collapsed:
            self.inc(f"duplicates_collapsed/{type(item).__name__}", collapsed)
        self.inc(f"items/{type(item).__name__}")
        return item

    def _leaderboard_row(self, row: LeaderboardRow) -> None:
        unknown = False
        for name in ("prompt_tokens", "completion_tokens"):
            try:
                setattr(row, name, normalize.count(getattr(row, name)))
            except ValueError as exc:
                unknown = True
                self.keep_problem(row, "leaderboard/unknown_tokens", LEADERBOARD, SOURCE_FIELDS[name],
                                  f"{exc}: tokens and revenue of {model_variant(row.permaslug, row.variant)} "
                                  "unknown")
        if unknown:  # one count that is not a count: the row's other counts are not to be trusted either
            row.prompt_tokens = row.completion_tokens = row.cached_tokens = row.reasoning_tokens = None
        for name in ("cached_tokens", "reasoning_tokens", "requests"):
            try:
                setattr(row, name, normalize.optional_count(getattr(row, name)))
            except ValueError as exc:
                self.keep_problem(row, f"leaderboard/bad_{name}", LEADERBOARD, SOURCE_FIELDS[name],
                                  f"{exc}; treated as unknown")
                setattr(row, name, None)
        row.last_day = self._last_day(row)
        change = normalize.finite_number(row.change)
        if row.change is not None and change is None:
            self.keep_problem(row, "leaderboard/bad_change", LEADERBOARD, "change",
                              f"{row.change!r} is not a number; treated as unknown")
        row.change = change

    def _last_day(self, row: LeaderboardRow) -> date | None:
        """The row's last day with traffic; unknown when it is not a day, or after the crawl's day."""
        if row.last_day is None:
            return None
        try:
            day = normalize.utc_day(row.last_day)
        except ValueError as exc:
            self.keep_problem(row, "leaderboard/bad_date", LEADERBOARD, "date", f"{exc}; treated as unknown")
            return None
        if day > self.crawl_day():
            self.keep_problem(row, "leaderboard/future_date", LEADERBOARD, "date",
                              f"{day} is after the crawl's day {self.crawl_day()}; treated as unknown")
            return None
        return day

    def _activity(self, item: ModelActivity) -> None:
        crawl_day = self.crawl_day()
        if item.fetched_at is not None and item.fetched_at.date() > crawl_day:
            # Without its clock the answer cannot say which of its days is partial: none is used.
            self.keep_problem(item, "activity/future_cached_at", ACTIVITY, "data.cachedAt",
                              f"{item.fetched_at.isoformat()} is after the crawl's day {crawl_day}: the answer's "
                              "partial day is unknown, its split is not used")
            item.fetched_at, item.days = None, []
        days = [day for day in (self._day(item, raw) for raw in item.days) if day is not None]
        future = [d for d in days if d["date"] > crawl_day]
        for day in future:
            self.keep_problem(item, "activity/future_days_dropped", ACTIVITY, "date",
                              f"day {day['date']} is after the crawl's day {crawl_day}: day dropped")
        # The source includes today's partial day: the day of `cachedAt` (without one, of the crawl).
        today = item.fetched_at.date() if item.fetched_at else crawl_day
        partial = [d for d in days if today <= d["date"] <= crawl_day]
        if partial:
            item.dropped_partial_day = today
            self.inc("activity/partial_days_dropped", len(partial))
        item.days = sorted((d for d in days if d["date"] < today), key=lambda d: d["date"])
        if not item.days:
            self.inc("activity/empty")
            logger.warning("activity %s field data.analytics: no complete day; split of %s unknown",
                           item.source_url, model_variant(item.permaslug, item.variant))

    def _day(self, item: ModelActivity, raw: dict[str, Any]) -> dict[str, Any] | None:
        """One daily row typed; None (the day dropped, a problem kept) when its date or a split count
        is not one. An optional count that is not one is unknown, and the day stays."""
        try:
            day = typed_day(raw)
        except DayError as exc:
            self.drop_day(item, exc.day, SOURCE_FIELDS.get(exc.field, exc.field), exc.why)
            return None
        for name in ("requests", "tool_calls"):
            try:
                day[name] = normalize.optional_count(raw.get(name))
            except ValueError as exc:
                self.keep_problem(item, f"activity/bad_{name}", ACTIVITY, SOURCE_FIELDS[name],
                                  f"day {day['date']}: {exc}; treated as unknown")
                day[name] = None
        return day

    def _chart_week(self, week: ChartWeek) -> None:
        try:
            week.week_start = normalize.utc_day(week.week_start)
            week.values = {str(k): normalize.rounded_integer(v) for k, v in week.values.items()}
        except ValueError as exc:
            raise self.drop("chart/bad_week", f"chart {week.source_url} week {week.week_start!r}: {exc}") from None
        if week.week_start > self.crawl_day():
            raise self.drop("chart/future_week", f"chart {week.source_url} week {week.week_start}: after the "
                                                 f"crawl's day {self.crawl_day()}")

    def _rankings_daily(self, answer: RankingsDaily) -> None:
        crawl_day = self.crawl_day()
        future = [row for row in answer.rows if row["day"] > crawl_day]
        for row in future:
            self.keep_problem(answer, "data_api/future_days_dropped", DATA_API, "data",
                              f"{row['key']} day {row['day']} is after the crawl's day {crawl_day}: row dropped")
        answer.rows = [row for row in answer.rows if row["day"] <= crawl_day]


class ValidatePipeline(StatsPipeline):
    prefix = "orstats/validate"

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ModelActivity):
            self._activity(item)
        elif isinstance(item, LeaderboardRow):
            self._leaderboard_row(item)
        return item

    def _activity(self, item: ModelActivity) -> None:
        valid = []
        for day in item.days:
            error = split_error(day)
            if error:
                self.drop_day(item, day["date"], SOURCE_FIELDS[error[0]], error[1])
            else:
                valid.append(day)
                if day["reasoning_tokens"] > day["completion_tokens"]:
                    self.inc("activity/reasoning_above_completion")
        item.days = valid
        self.inc("activity/valid")

    def _leaderboard_row(self, row: LeaderboardRow) -> None:
        if row.prompt_tokens is None:
            return  # its tokens are unknown (NormalizePipeline kept the problem)
        error = split_error({name: getattr(row, name) for name in SPLIT}) if row.cached_tokens is not None else None
        if error:
            # Keep the row (its volume is right), forget the split it claims.
            self.keep_problem(row, "leaderboard/invalid_split", LEADERBOARD, SOURCE_FIELDS[error[0]],
                              f"{error[1]}; split treated as unknown")
            row.cached_tokens = row.reasoning_tokens = None
        self.inc("leaderboard/valid")


class PricePipeline(StatsPipeline):
    """List prices of catalogue entries and leaderboard rows, keyed on (canonical_slug, variant).

    A row arrives with the decimal prices of its own catalogue entry (the spider attaches them from
    the complete catalogue: items of different callbacks interleave in the pipelines, so the
    ModelPrice items seen so far prove nothing); no entry means no price, unless the variant is free.
    """

    prefix = "orstats/price"

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.unpriced: list[LeaderboardRow] = []

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ModelPrice):
            self._parse_price(item)
        elif isinstance(item, LeaderboardRow):
            self._price_row(item)
        return item

    def _parse_price(self, item: ModelPrice) -> None:
        price = pricing.list_price(item.pricing, item.variant)
        level = logging.INFO if pricing.only_marked_unpriced(item.pricing) else logging.WARNING
        for problem in price.problems:
            self.inc("invalid")
            logger.log(level, "prices %s model %s field %s", item.source_url, item.public_id, problem)
        item.prompt_price, item.completion_price = price.prompt, price.completion
        item.cache_read_price, item.is_free = price.cache_read, price.is_free
        self.inc(f"catalogue/{price.status}")

    def _price_row(self, row: LeaderboardRow) -> None:
        price = pricing.row_price(row.pricing, row.variant)
        row.name = pricing.display_name(row.name, row.permaslug)
        if price.status == "missing":
            self.unpriced.append(row)
            logger.debug("leaderboard %s row %s:%s: no catalogue entry for this (canonical_slug, variant)",
                         row.source_url, row.permaslug, row.variant)
        row.prompt_price, row.completion_price = price.prompt, price.completion
        row.cache_read_price, row.is_free = price.cache_read, price.is_free
        row.price_status = price.status
        self.inc(f"rows/{price.status}")

    def close_spider(self) -> None:
        """One warning for all unpriced rows (media models are often missing from the catalogue)."""
        if not self.unpriced:
            return
        biggest = sorted(self.unpriced, key=lambda r: (r.total_tokens is None, -(r.total_tokens or 0)))[:10]
        logger.warning(
            "leaderboard %s: %d model-variants have no (canonical_slug, variant) entry in the price catalogue; "
            "their revenue is unknown. Largest: %s", self.unpriced[0].source_url, len(self.unpriced),
            ", ".join(f"{r.permaslug}:{r.variant}" for r in biggest))
