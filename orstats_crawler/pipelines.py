"""Item pipelines, one job each, each counting what it does under `orstats/<pipeline>/...`.

200 NormalizePipeline  types: counts as ints, dates as UTC days; drop the source's partial day
300 ValidatePipeline   cached <= prompt, reasoning <= completion, nothing negative
400 PricePipeline      join each model-variant to its list price on (canonical_slug, variant)
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from orstats_crawler import normalize, pricing
from orstats_crawler.items import SPLIT, ChartWeek, LeaderboardRow, ModelActivity, ModelPrice, SourceProblem

logger = logging.getLogger(__name__)


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


class NormalizePipeline(StatsPipeline):
    prefix = "orstats/normalize"

    def process_item(self, item: Any) -> Any:
        if isinstance(item, LeaderboardRow):
            self._leaderboard_row(item)
        elif isinstance(item, ModelActivity):
            self._activity(item)
        elif isinstance(item, ChartWeek):
            self._chart_week(item)
        elif isinstance(item, SourceProblem):
            self.inc(f"problems/{item.source}")
            logger.warning("source problem: %s %s field=%s: %s", item.source, item.url, item.field, item.message)
        self.inc(f"items/{type(item).__name__}")
        return item

    def _leaderboard_row(self, row: LeaderboardRow) -> None:
        where = f"leaderboard {row.source_url} row {row.permaslug}:{row.variant}"
        try:
            row.prompt_tokens = normalize.count(row.prompt_tokens)
            row.completion_tokens = normalize.count(row.completion_tokens)
        except ValueError as exc:
            raise self.drop("leaderboard/bad_tokens", f"{where} field total_prompt/completion_tokens: {exc}") from None
        for name in ("cached_tokens", "reasoning_tokens", "requests"):
            try:
                setattr(row, name, normalize.optional_count(getattr(row, name)))
            except ValueError as exc:
                self.inc(f"leaderboard/bad_{name}")
                logger.warning("%s field %s: %s; treated as unknown", where, name, exc)
                setattr(row, name, None)
        row.last_day = _day_or_none(row.last_day)
        if row.change is not None and not isinstance(row.change, (int, float)):
            row.change = None

    def _activity(self, item: ModelActivity) -> None:
        where = f"activity {item.source_url}"
        days = []
        for raw in item.days:
            try:
                day = {**raw, "date": normalize.utc_day(raw["date"])}
                for name in SPLIT:
                    day[name] = normalize.count(raw[name])
                for name in ("requests", "tool_calls"):
                    day[name] = normalize.optional_count(raw.get(name))
            except (KeyError, ValueError) as exc:
                raise self.drop("activity/bad_row", f"{where} row {raw.get('date')!r}: {exc}") from None
            days.append(day)
        # The source includes today's partial day: the day of `cachedAt` and anything after it.
        today = item.fetched_at.date() if item.fetched_at else None
        if today is not None:
            partial = [d for d in days if d["date"] >= today]
            if partial:
                item.dropped_partial_day = today
                self.inc("activity/partial_days_dropped", len(partial))
            days = [d for d in days if d["date"] < today]
        item.days = sorted(days, key=lambda d: d["date"])
        if not item.days:
            self.inc("activity/empty")
            logger.warning("%s field data.analytics: no complete day; split of %s:%s unknown",
                           where, item.permaslug, item.variant)

    def _chart_week(self, week: ChartWeek) -> None:
        try:
            week.week_start = normalize.utc_day(week.week_start)
            week.values = {str(k): normalize.count(round(v) if isinstance(v, float) else v)
                           for k, v in week.values.items()}
        except ValueError as exc:
            raise self.drop("chart/bad_week", f"chart {week.source_url} week {week.week_start!r}: {exc}") from None


class ValidatePipeline(StatsPipeline):
    prefix = "orstats/validate"

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ModelActivity):
            for day in item.days:
                error = split_error(day)
                if error:
                    raise self.drop("activity/invalid", f"activity {item.source_url} day {day['date']}: {error}")
            self.inc("activity/valid")
        elif isinstance(item, LeaderboardRow):
            if item.prompt_tokens < 0 or item.completion_tokens < 0:
                raise self.drop("leaderboard/negative",
                                f"leaderboard {item.source_url} row {item.permaslug}:{item.variant}: negative tokens")
            error = split_error(ItemAdapter(item).asdict()) if item.cached_tokens is not None else None
            if error:
                # Keep the row (its volume is right), forget the split it claims.
                self.inc("leaderboard/invalid_split")
                logger.warning("leaderboard %s row %s:%s: %s; split treated as unknown",
                               item.source_url, item.permaslug, item.variant, error)
                item.cached_tokens = item.reasoning_tokens = None
            self.inc("leaderboard/valid")
        return item


def split_error(counts: dict[str, Any]) -> str | None:
    """Why a (prompt, completion, cached, reasoning) split is impossible, or None."""
    for name in SPLIT:
        value = counts.get(name)
        if value is not None and value < 0:
            return f"field {name} is negative ({value})"
    if (counts.get("cached_tokens") or 0) > counts["prompt_tokens"]:
        return f"field cached_tokens {counts['cached_tokens']} > prompt_tokens {counts['prompt_tokens']}"
    if (counts.get("reasoning_tokens") or 0) > counts["completion_tokens"]:
        return f"field reasoning_tokens {counts['reasoning_tokens']} > completion_tokens {counts['completion_tokens']}"
    return None


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
        for problem in price.problems:
            self.inc("invalid")
            logger.warning("prices %s model %s field %s", item.source_url, item.public_id, problem)
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
        biggest = sorted(self.unpriced, key=lambda r: -(r.prompt_tokens + r.completion_tokens))[:10]
        logger.warning(
            "leaderboard %s: %d model-variants have no (canonical_slug, variant) entry in the price catalogue; "
            "their revenue is unknown. Largest: %s", self.unpriced[0].source_url, len(self.unpriced),
            ", ".join(f"{r.permaslug}:{r.variant}" for r in biggest))


def _day_or_none(value: Any) -> Any:
    try:
        return normalize.utc_day(value) if value is not None else None
    except ValueError:
        return None
