"""History benchmark: a synthetic history of N years x 600 model-variants, one crawl a week, then
the time to upsert the next week (summary, quality gate and write_crawl, as the history feed does),
to render the report (the entry point a crawl and `scrapy report` call), and to answer each Datasette
canned query and each dashboard's chart and filter queries (datasette/metadata.yml), directly with
sqlite3 and through a `datasette serve` on loopback (with each dashboard's page).

    python -m bench.history [--years 1,10] [--models 600] [--no-datasette]

The history is written by the project's one writer (history.writer.write_crawl), one synthetic crawl
record set a week in one transaction, the Monday-week series rebuilt once at the end, so a 10-year
history takes a minute, not the hours 520 real crawls would. Per crawl it holds: one `crawls` row,
600 `model_weeks` rows (80 % with a measured split, 10 % free, 5 % without a price), ~570 `prices`
(a few price changes a week), `activity_fetches`, the 30 complete days of each measured split in
`daily_activity`, effective prices with 3 provider summaries each, 2 problems; the chart's 10 keys
per Monday week; every 26th week a rerun the quality gate rejected. The raw-response archive of
past crawls is left out (it is only ever read by crawl id); the upserted week writes its own.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable



from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.formulas import upper_bounds
from orstats_crawler.publish.crawl_items import CrawlInfo, CrawlItems
from orstats_crawler.publish.week_summary import own_price
from orstats_crawler.history.records import (ActivityFetchRow, ChartWeekRow, CrawlRecords, CrawlRow, DailyActivityRow,
                                             EffectivePriceRow, ModelWeekRow, PriceRow, ProblemRow, ProviderSummaryRow)
from orstats_crawler.history.writer import rebuild_series, write_crawl
from orstats_crawler.items import ActivityPlan, ChartWeek, LeaderboardRow, ModelActivity, ModelPrice, SourceProblem
from orstats_crawler.raw_responses import ArchivedResponse

from bench.common import ROOT, Deadline, print_machine, python, stop, table

METADATA = ROOT / "datasette" / "metadata.yml"
LAST_WEEK_END = date(2026, 8, 7)  # the newest week of the synthetic history (the 2026-08-08 capture's)
AUTHORS = 60
DAILY_DAYS = 30  # complete days of model-activity per fetched split (31 fetched, the partial one dropped)
BASE_URL = "https://openrouter.ai"
IMPUTED_CACHED_SHARE = 0.45  # about the middle of the measured model-variants' shares (0.1 to 0.8)


# --- the synthetic model-variants ----------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    index: int
    permaslug: str
    variant: str
    public_id: str
    name: str
    prompt_price: float | None  # USD per token; None: not in the catalogue
    completion_price: float | None
    cache_read_price: float | None
    tokens: int  # a typical week
    cached_share: float
    completion_share: float
    measured: bool  # its split is fetched

    @property
    def is_free(self) -> bool:
        return self.variant == "free"

    def prices_in(self, week: int) -> tuple[float | None, float | None, float | None]:
        """Each model-variant changes price every two years, on its own week (a few changes a week)."""
        if self.prompt_price is None or self.is_free:
            return self.prompt_price, self.completion_price, self.cache_read_price
        cut = 0.9 ** ((week + (7 * self.index) % 104) // 104)
        return self.prompt_price * cut, self.completion_price * cut, self.cache_read_price * cut

    def week_tokens(self, week: int) -> tuple[int, int, int, int]:
        """(prompt, completion, cached, reasoning) of one week: slow growth, some wobble."""
        total = int(self.tokens * 1.004 ** week * (1 + 0.15 * math.sin(self.index + week / 3)))
        completion = int(total * self.completion_share)
        prompt = total - completion
        return prompt, completion, int(prompt * self.cached_share), int(completion * 0.3)


def synthetic_models(count: int, seed: int = 7) -> list[Model]:
    rng = random.Random(seed)
    models = []
    for i in range(count):
        author = f"author-{i % AUTHORS}"
        variant = "free" if i % 10 == 9 else "batch" if i % 50 == 7 else "standard"
        prompt = 10 ** rng.uniform(-7.5, -4.7)
        priced = i % 20 != 13
        free = variant == "free"
        models.append(Model(
            index=i, permaslug=f"{author}/model-{i}-20250101", variant=variant,
            public_id=f"{author}/model-{i}" + ("" if variant == "standard" else f":{variant}"),
            name=f"Author {i % AUTHORS}: Model {i}" + (" (free)" if free else ""),
            prompt_price=(0.0 if free else prompt) if priced else None,
            completion_price=(0.0 if free else prompt * rng.choice([2, 3, 4, 5, 8])) if priced else None,
            cache_read_price=(0.0 if free else prompt / 10) if priced else None,
            tokens=int(2e12 / (i + 1) ** 1.1) + 10**8, cached_share=rng.uniform(0.1, 0.8),
            completion_share=rng.uniform(0.01, 0.1), measured=i % 5 != 4,
        ))
    return models


# --- a synthetic history, bulk-written --------------------------------------------------------------

def week_end_of(week: int, weeks: int) -> date:
    return LAST_WEEK_END - timedelta(weeks=weeks - 1 - week)


def model_week_row(crawl_id: str, model: Model, week: int, week_end: date, rank: int) -> ModelWeekRow:
    prompt, completion, cached, reasoning = model.week_tokens(week)
    prompt_price, completion_price, cache_read = model.prices_in(week)
    priced = prompt_price is not None
    return ModelWeekRow(
        crawl_id=crawl_id, week_start=(week_end - timedelta(days=6)).isoformat(), week_end=week_end.isoformat(),
        permaslug=model.permaslug, variant=model.variant, public_id=model.public_id if priced else None,
        name=model.name, rank=rank, total_tokens=prompt + completion, prompt_tokens=prompt,
        completion_tokens=completion, cached_tokens=cached if model.measured else None,
        reasoning_tokens=reasoning if model.measured else None, requests=(prompt + completion) // 20000,
        change=0.02, split_source="activity" if model.measured else None,
        leaderboard_prompt_tokens=prompt, leaderboard_completion_tokens=completion,
        prompt_price=prompt_price, completion_price=completion_price, cache_read_price=cache_read,
        is_free=int(model.is_free) if priced else None,
        price_status=("free" if model.is_free else "listed") if priced else "missing",
        upper_bound_usd=None,  # set for the whole week by with_upper_bounds, as the spider computes them
        price_basis="crawl", price_observed_on=(week_end + timedelta(days=1)).isoformat(),
        # As a crawl stores an unmeasured row: the week's cached share, so that its best estimate is known.
        cached_share_imputed=None if model.measured else IMPUTED_CACHED_SHARE,
        cached_share_from=None if model.measured else "week")


def with_upper_bounds(rows: list[ModelWeekRow]) -> list[ModelWeekRow]:
    """The rows with their no-cache upper bound (formulas.upper_bounds, one evaluation for the week)."""
    for row, bound in zip(rows, upper_bounds((r.prompt_tokens, r.completion_tokens, own_price(r)) for r in rows)):
        row.upper_bound_usd = bound
    return rows


def crawl_records_of(models: list[Model], week: int, weeks: int, crawl_id: str, status: str) -> CrawlRecords:
    """Every row one weekly crawl writes (its raw-response archive aside)."""
    week_end = week_end_of(week, weeks)
    week_start = week_end - timedelta(days=6)
    observed = (week_end + timedelta(days=1)).isoformat()
    started = datetime.combine(week_end + timedelta(days=1), dtime(6), tzinfo=timezone.utc)
    ranked = sorted(models, key=lambda m: -sum(m.week_tokens(week)[:2]))
    weeks_rows = with_upper_bounds([model_week_row(crawl_id, m, week, week_end, rank)
                                    for rank, m in enumerate(ranked, start=1)])
    failed = [{"name": "split_coverage", "result": "fail", "message": "spend coverage 41 % < 90 %"}]
    records = CrawlRecords(
        crawl=CrawlRow(
            id=crawl_id, started_at=started.isoformat(), finished_at=(started + timedelta(minutes=20)).isoformat(),
            status=status, era="current", base_url=BASE_URL, snapshot=None, week_start=week_start.isoformat(),
            week_end=week_end.isoformat(), selection="coverage:0.95", coverage=0.96, planned_coverage=0.95,
            token_coverage=0.9, models_ranked=len(models), models_measured=sum(m.measured for m in models),
            problems=2, forced=0,
            checks=json.dumps(failed if status == "rejected" else [{"name": "split_coverage", "result": "pass",
                                                                    "message": ""}]),
            stats=json.dumps({f"downloader/stat_{k}": k for k in range(120)})),  # about the size of real stats
        model_weeks=weeks_rows,
        problems=[ProblemRow(crawl_id=crawl_id, source="activity",
                             url=f"{BASE_URL}/api/frontend/v1/stats/model-activity",
                             field="data.analytics[3].date", message="not a date", permaslug=None, variant=None,
                             status=200) for _ in range(2)],
        chart_weeks=chart_rows(models, week, weeks, crawl_id),
    )
    for row, model in zip(weeks_rows, ranked):
        if row.public_id is not None:
            records.prices.append(PriceRow(
                crawl_id=crawl_id, observed_on=observed, public_id=model.public_id,
                canonical_slug=model.permaslug, variant=model.variant, name=model.name,
                prompt_price=row.prompt_price, completion_price=row.completion_price,
                cache_read_price=row.cache_read_price, is_free=row.is_free,
                pricing=json.dumps({"prompt": str(row.prompt_price), "completion": str(row.completion_price)}),
                created=1735689600))
        records.activity_fetches.append(ActivityFetchRow(
            crawl_id=crawl_id, permaslug=model.permaslug, variant=model.variant, selected=int(model.measured),
            tokens=row.total_tokens, upper_bound_usd=row.upper_bound_usd,
            status="measured" if model.measured else "not_selected", url=None, days=31 if model.measured else None,
            partial_day=None))
        if model.measured:
            for day in range(DAILY_DAYS):  # what a crawl stores: the 30 complete days it fetched
                records.daily_activity.append(DailyActivityRow(
                    crawl_id=crawl_id, permaslug=model.permaslug, variant=model.variant,
                    day=(week_end - timedelta(days=day)).isoformat(), prompt_tokens=row.prompt_tokens // 7,
                    completion_tokens=row.completion_tokens // 7, cached_tokens=row.cached_tokens // 7,
                    reasoning_tokens=row.reasoning_tokens // 7, requests=row.requests // 7, tool_calls=0))
            if row.prompt_price is not None:
                records.effective_prices.append(EffectivePriceRow(
                    crawl_id=crawl_id, permaslug=model.permaslug, variant=model.variant,
                    weighted_input_price=row.prompt_price * 0.6e6, weighted_output_price=row.completion_price * 1e6,
                    cache_hit_rate=model.cached_share, providers=3, provider_tokens=row.total_tokens,
                    status="priced", url=f"{BASE_URL}/api/frontend/v1/stats/effective-pricing",
                    fetched_at=started.isoformat()))
                records.provider_summaries.extend(provider_summary_rows(crawl_id, model, row))
    return records


# The providers of a measured model-variant: its effective prices at three endpoints, the first
# serving most of the sample (as the capture's do).
PROVIDER_MIX = (("first-cloud", 0.7, 0.9), ("second-cloud", 0.2, 1.2), ("third-cloud", 0.1, 1.5))


def provider_summary_rows(crawl_id: str, model: Model, row: ModelWeekRow) -> list[ProviderSummaryRow]:
    endpoints = [(slug, int(row.total_tokens * share / 10), row.prompt_price * 0.6e6 * markup,
                  row.completion_price * 1e6 * markup) for slug, share, markup in PROVIDER_MIX]
    sample = {"sample_tokens": sum(t for _, t, _, _ in endpoints),
              "sample_input_weight": sum(t * price for _, t, price, _ in endpoints),
              "sample_output_weight": sum(t * price for _, t, _, price in endpoints)}
    return [ProviderSummaryRow(
        crawl_id=crawl_id, permaslug=model.permaslug, variant=model.variant, endpoint_id=f"{slug}-{model.permaslug}",
        provider_slug=slug, provider_name=slug.replace("-", " ").title(), effective_input_price=input_price,
        effective_output_price=output_price, cache_hit_rate=model.cached_share, total_tokens=tokens, **sample)
        for slug, tokens, input_price, output_price in endpoints]


def chart_rows(models: list[Model], week: int, weeks: int, crawl_id: str) -> list[ChartWeekRow]:
    """The chart's finished Monday week that ends inside this crawl's window: top 9 and Others."""
    week_end = week_end_of(week, weeks)
    monday = week_end - timedelta(days=week_end.weekday() + 7)
    return [ChartWeekRow(week_start=monday.isoformat(), week_end=(monday + timedelta(days=6)).isoformat(), key=key,
                         tokens=tokens, crawl_id=crawl_id) for key, tokens in chart_values(models, week).items()]


def chart_values(models: list[Model], week: int) -> dict[str, int]:
    """The chart's top 9 and Others for the Monday week ending inside crawl week ``week``: the same
    figures whichever crawl reports them, as the site's chart keeps its finished weeks."""
    values = {f"{m.permaslug}:{m.variant}" if m.variant != "standard" else m.permaslug: sum(m.week_tokens(week)[:2])
              for m in models[:9]}
    values["Others"] = sum(values.values()) // 2
    return values


def build_history(path: Path, weeks: int, models: list[Model]) -> dict[str, Any]:
    """Every week's crawl through the project's one writer, the Monday series rebuilt once at the end."""
    started = time.perf_counter()
    db = open_for_writing(path)
    # A synthetic file needs no crash safety while it is written: no fsync.
    db.execute("PRAGMA synchronous = OFF")
    counts: dict[str, int] = {}
    with immediate(db):
        for week in range(weeks):
            week_end = week_end_of(week, weeks).isoformat()
            crawls = [(f"synthetic-{week_end}", "published")]
            if week % 26 == 25:  # a rerun the quality gate rejected; the week keeps showing the published one
                crawls.append((f"synthetic-{week_end}-rerun", "rejected"))
            for crawl_id, status in crawls:
                records = crawl_records_of(models, week, weeks, crawl_id, status)
                write_crawl(db, records, fold_series=False)
                counts["model_weeks"] = counts.get("model_weeks", 0) + len(records.model_weeks)
        series_started = time.perf_counter()
        rebuild_series(db)
        series_seconds = time.perf_counter() - series_started
    db.execute("PRAGMA synchronous = FULL")
    db.close()
    return {"seconds": time.perf_counter() - started, "series_seconds": series_seconds, "rows": counts,
            "mb": path.stat().st_size / 1e6}


# --- the next week, as the spider's items -----------------------------------------------------------

def next_week_items(models: list[Model], weeks: int) -> tuple[CrawlInfo, CrawlItems, list[ArchivedResponse]]:
    """The items a crawl of the week after the history would yield (after the pipelines), and its
    raw responses (two per measured model-variant, as with effective prices, about 10 KB each)."""
    week = weeks
    week_end = week_end_of(week, weeks)
    computed = datetime.combine(week_end + timedelta(days=1), dtime(6), tzinfo=timezone.utc)
    items = CrawlItems()
    candidates = []
    for model in models:
        prompt, completion, cached, reasoning = model.week_tokens(week)
        prompt_price, completion_price, cache_read = model.prices_in(week)
        priced = prompt_price is not None
        if priced:
            items.prices.append(ModelPrice(
                public_id=model.public_id, canonical_slug=model.permaslug, variant=model.variant, name=model.name,
                pricing={"prompt": str(prompt_price), "completion": str(completion_price)},
                source_url=f"{BASE_URL}/api/v1/models", created=1735689600, prompt_price=prompt_price,
                completion_price=completion_price, cache_read_price=cache_read, is_free=model.is_free))
        items.leaderboard.append(LeaderboardRow(
            permaslug=model.permaslug, variant=model.variant, prompt_tokens=prompt, completion_tokens=completion,
            source_url=f"{BASE_URL}/api/frontend/v1/rankings/models?view=week", era="current", last_day=week_end,
            requests=(prompt + completion) // 20000, change=0.02, public_id=model.public_id if priced else None,
            name=model.name, prompt_price=prompt_price, completion_price=completion_price, cache_read_price=cache_read,
            is_free=model.is_free if priced else None,
            price_status=("free" if model.is_free else "listed") if priced else "missing"))
        candidates.append({"permaslug": model.permaslug, "variant": model.variant, "tokens": prompt + completion,
                           "upper_bound_usd": None, "selected": model.measured})
        if model.measured:
            days = [{"date": week_end - timedelta(days=d),
                     "prompt_tokens": prompt // 7, "completion_tokens": completion // 7,
                     "cached_tokens": cached // 7, "reasoning_tokens": reasoning // 7,
                     "requests": (prompt + completion) // 140000, "tool_calls": 0} for d in range(31)]
            items.activity.append(ModelActivity(
                permaslug=model.permaslug, variant=model.variant, days=days, fetched_at=computed,
                source_url=f"{BASE_URL}/api/frontend/v1/stats/model-activity?permaslug={model.permaslug}"))
    bounds = upper_bounds((row.prompt_tokens, row.completion_tokens, own_price(row)) for row in items.leaderboard)
    for candidate, bound in zip(candidates, bounds):
        candidate["upper_bound_usd"] = bound
    monday = week_end - timedelta(days=week_end.weekday())
    for back in range(52):  # the last is the current, partial week (never stored)
        values = chart_values(models, week - 50 + back)
        items.chart.append(ChartWeek(week_start=monday - timedelta(weeks=51 - back), source_url=f"{BASE_URL}/chart",
                                     era="current", fetched_at=computed, values=values))
    total = sum(c["upper_bound_usd"] or 0 for c in candidates)
    items.plans.append(ActivityPlan(selection="coverage:0.95", candidates=candidates, spend_upper_bound_usd=total,
                                    planned_spend_coverage=0.96))
    items.problems.append(SourceProblem(source="prices", url=f"{BASE_URL}/api/v1/models?output_modalities=all",
                                        field=None, message="HTTP 404", status=404))
    archive = []
    for activity in items.activity:
        analytics = [{**d, "date": d["date"].isoformat()} for d in activity.days]
        body = json.dumps({"data": {"analytics": analytics}}).encode()
        for kind in ("model-activity", "effective-pricing"):
            archive.append(ArchivedResponse(url=activity.source_url.replace("model-activity", kind), status=200,
                                            content_type="application/json", body=body, fetched_at=computed))
    info = CrawlInfo(id=f"bench-{week_end.isoformat()}", started_at=computed, base_url=BASE_URL,
                     finished_at=computed + timedelta(minutes=20))
    return info, items, archive


def time_upsert(path: Path, models: list[Model], weeks: int) -> dict[str, float]:
    """What the history feed does when a crawl of the next week closes (publish_crawl), step by step."""
    from types import SimpleNamespace

    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.project import get_project_settings

    from orstats_crawler.publish import crawl as publish
    from orstats_crawler.publish import quality
    from orstats_crawler.history import crawl_revenue, monday_series_update, monday_weeks

    info, items, archive = next_week_items(models, weeks)
    info.forced = True  # the synthetic week is written whatever the gate says, as a forced crawl would be
    settings = get_project_settings()
    stats = MemoryStatsCollector(SimpleNamespace(settings=settings))  # the crawl's stats, with no engine around
    out: dict[str, float] = {}
    steps = {"open_for_writing": (publish, "open_for_writing"), "summarize_week": (publish, "summarize_week"),
             "quality_gate": (quality, "evaluate"), "crawl_records": (publish, "crawl_records"),
             "write_crawl": (publish, "write_crawl"),
             # inside write_crawl: the Monday-week series after the crawl (monday_weeks, then its estimate)
             "write_crawl: series (monday_weeks)": (monday_weeks, "update"),
             "write_crawl: series (monday_series)": (monday_series_update, "update"),
             "write_crawl: revenue figures (crawl_revenue)": (crawl_revenue, "update")}
    originals = {step: getattr(module, name) for step, (module, name) in steps.items()}
    try:
        for step, (module, name) in steps.items():
            setattr(module, name, timed(originals[step], step, out))
        publish.publish_crawl(path, items, info, archive, settings, stats, finish_reason="finished")
    finally:
        for step, (module, name) in steps.items():
            setattr(module, name, originals[step])
    out[SERIES_REBUILD] = time_series_rebuild(path)
    return out


# The baseline beside the series' update after a crawl: what a rebuild of it from the whole history costs.
SERIES_REBUILD = "series: full rebuild (the baseline, not part of the upsert)"


def time_series_rebuild(path: Path) -> float:
    """rebuild_series on the history as the upsert left it, rolled back (the history stays as it was)."""
    db = open_for_writing(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        start = time.perf_counter()
        rebuild_series(db)
        return time.perf_counter() - start
    finally:
        db.conn.rollback()
        db.close()


def timed(step: Callable[..., Any], name: str, out: dict[str, float]) -> Callable[..., Any]:
    """``step`` adding its duration to ``out[name]``."""
    @functools.wraps(step)
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            out[name] = out.get(name, 0.0) + time.perf_counter() - start
    return run


# --- the report and the canned queries ------------------------------------------------------------

def report_settings() -> tuple[str, int, float]:
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    return (settings.get("ORSTATS_REVENUE_METHOD"), settings.getint("ORSTATS_REPORT_TABLE_ROWS"),
            settings.getfloat("ORSTATS_REPORT_OUTLIER_FACTOR"))


def time_report(path: Path, workdir: Path, everything: bool) -> tuple[float, int]:
    """write_reports as `scrapy report` runs it (``everything``: every page) or as a crawl does (only
    the pages not up to date); (seconds, pages written)."""
    from orstats_crawler.report.render import write_reports

    start = time.perf_counter()
    method, table_rows, outlier_factor = report_settings()
    rendered = write_reports(path, workdir / "reports", method, table_rows, outlier_factor=outlier_factor,
                             everything=everything)
    return time.perf_counter() - start, len(rendered.written) if rendered else 0


@functools.cache
def metadata() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(METADATA.read_text()) if METADATA.is_file() else {}


def canned_queries() -> dict[str, str]:
    return {name: query["sql"] for database in metadata().get("databases", {}).values()
            for name, query in (database.get("queries") or {}).items()}


def dashboards() -> dict[str, Any]:
    return (metadata().get("plugins") or {}).get("datasette-dashboards") or {}


def dashboard_queries() -> dict[str, str]:
    """Every dashboard chart's SQL (`slug/chart`: the page fetches it from /DB.json?sql=) and every
    filter's options query (`slug filter NAME`: the plugin runs it to draw the page)."""
    queries = {}
    for slug, dashboard in dashboards().items():
        for name, choice in (dashboard.get("filters") or {}).items():
            if choice.get("query"):
                queries[f"{slug} filter {name}"] = choice["query"]
        for name, chart in (dashboard.get("charts") or {}).items():
            if chart.get("query"):
                queries[f"{slug}/{name}"] = chart["query"]
    return queries


def datasette_urls(database: str) -> dict[str, str]:
    """What a browser asks Datasette for, by the names of the table's rows: each canned query's JSON
    (its parameters empty, as the form leaves them), each dashboard chart's data as the plugin's page
    fetches it (filters empty: the dashboard's default view) and each dashboard page (the server runs
    its filters' options queries)."""
    urls = {name: f"/{database}/{name}.json?" + urllib.parse.urlencode({p: "" for p in parameters(sql)})
            for name, sql in canned_queries().items()}
    for name, sql in dashboard_queries().items():
        if "/" in name:
            urls[name] = f"/{database}.json?" + urllib.parse.urlencode(
                {"sql": sql, **{p: "" for p in parameters(sql)}, "_shape": "objects"})
    for slug in dashboards():
        urls[f"{slug}: page"] = f"/-/dashboards/{slug}"
    return urls


def median_time(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    result = fn()  # first run: warms SQLite's page cache, as a server that has answered before
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def parameters(sql: str) -> list[str]:
    """The query's named parameters (`:week_end`), which Datasette's form leaves empty by default."""
    return sorted(set(re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", sql)))


def time_query(path: Path, sql: str) -> tuple[float, int]:
    """A query on a read-only connection, its parameters empty (Datasette's default form): its median
    time and how many rows it returned."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        seconds, rows = median_time(lambda: conn.execute(sql, {name: "" for name in parameters(sql)}).fetchall())
        return seconds, len(rows)
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_datasette(path: Path, urls: dict[str, str], timeout: float = 120) -> dict[str, float | str]:
    """Each URL (``datasette_urls``) through `datasette serve` (its default settings: 1 s SQL time limit)."""
    port = free_port()
    proc = subprocess.Popen([str(Path(python()).parent / "datasette"), "serve", str(path), "-m", str(METADATA),
                             "--static", f"orstats:{METADATA.parent / 'static'}", "-h", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    out: dict[str, float | str] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = Deadline(30)
        while deadline.left() > 0:
            try:
                urllib.request.urlopen(f"{base}/{path.stem}.json", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            return {name: "server did not start" for name in urls}
        deadline = Deadline(timeout)
        for name, path_and_query in urls.items():
            url = base + path_and_query
            if deadline.left() <= 0:
                out[name] = "skipped (time budget)"
                continue
            try:
                seconds, _ = median_time(lambda url=url: urllib.request.urlopen(url, timeout=60).read())
                out[name] = seconds
            except urllib.error.HTTPError as error:
                body = error.read().decode(errors="replace")
                out[name] = "time limit" if "too long" in body else f"HTTP {error.code}"
        return out
    finally:
        stop(proc)


# --- the benchmark --------------------------------------------------------------------------------

def bench_size(years: float, models: list[Model], workdir: Path, datasette: bool) -> dict[str, Any]:
    weeks = max(2, round(years * 52))
    path = workdir / f"{years:g}y" / "history.db"  # Datasette names the database after the file: history
    path.parent.mkdir(parents=True)
    result: dict[str, Any] = {"weeks": weeks, "build": build_history(path, weeks, models)}
    # A step that fails (the code under test changed) is reported in its cell; the others still run.
    # The report: every page rendered, then the next week upserted, then the render a crawl runs.
    result["report"] = attempt(lambda: time_report(path, path.parent, everything=True), ("failed", 0))
    result["upsert"] = attempt(lambda: time_upsert(path, models, weeks), {})
    result["report_after_crawl"] = attempt(lambda: time_report(path, path.parent, everything=False), ("failed", 0))
    queries = {**canned_queries(), **dashboard_queries()}
    result["queries"] = {name: attempt(lambda sql=sql: time_query(path, sql), ("failed", 0))
                         for name, sql in queries.items()}
    result["datasette"] = time_datasette(path, datasette_urls(path.stem)) if datasette and queries else {}
    return result


def attempt(step: Callable[[], Any], failed: Any) -> Any:
    try:
        return step()
    except Exception as error:  # noqa: BLE001 (a benchmark reports a broken step and goes on)
        print(f"  step failed: {type(error).__name__}: {error}", file=sys.stderr)
        return failed


def fmt_ms(value: Any) -> str:
    if isinstance(value, (int, float)):
        return f"{value * 1000:,.1f}" if value < 10 else f"{value * 1000:,.0f}"
    return str(value)


def report_table(results: list[tuple[float, dict[str, Any]]]) -> str:
    """Operations down, history sizes across, and how the largest compares with the smallest."""
    headers = ["operation (ms)"] + [f"{y:g} y ({r['weeks']} weeks)" for y, r in results]
    growth = len(results) > 1
    if growth:
        headers.append(f"{results[-1][0]:g} y / {results[0][0]:g} y")
    rows: list[list[Any]] = [
        ["history: model_weeks rows"] + [f"{r['build']['rows'].get('model_weeks', 0):,}" for _, r in results],
        ["history: file MB (built in s, of which series rebuild s)"] + [
            f"{r['build']['mb']:.0f} ({r['build']['seconds']:.0f} s, {r['build']['series_seconds']:.0f} s)"
            for _, r in results],
    ]
    if growth:
        model_weeks = [r["build"]["rows"]["model_weeks"] for _, r in results]
        rows[0].append(f"{model_weeks[-1] / model_weeks[0]:.1f}x")
        rows[1].append("")

    def add(label: str, values: list[Any]) -> None:
        row = [label] + [fmt_ms(v) for v in values]
        if growth:
            first, last = values[0], values[-1]
            numbers = all(isinstance(v, (int, float)) for v in (first, last))
            row.append(f"{last / first:.1f}x" if numbers and first > 0 else "")
        rows.append(row)

    steps = next((list(r["upsert"]) for _, r in results if r["upsert"]), [])
    for step in steps:
        add(f"upsert a week: {step}", [r["upsert"].get(step, "failed") for _, r in results])
    add("upsert a week: total", [
        # a step's parts (named "step: part") are inside it
        sum(v for step, v in r["upsert"].items() if ": " not in step) if r["upsert"] else "failed"
        for _, r in results])
    series = ("write_crawl: series (monday_weeks)", "write_crawl: series (monday_series)")
    add("series after a crawl (monday_weeks + monday_series)", [
        sum(r["upsert"][step] for step in series) if all(step in r["upsert"] for step in series) else "failed"
        for _, r in results])
    add("render the report (every published week)", [r["report"][0] for _, r in results])
    add("report after a crawl (incremental)", [r["report_after_crawl"][0] for _, r in results])
    served = any(r["datasette"] for _, r in results)
    for name in canned_queries():
        add(f"canned query {name} (sqlite3)", [r["queries"][name][0] for _, r in results])
        if served:
            add(f"canned query {name} (datasette HTTP)", [r["datasette"].get(name, "n/a") for _, r in results])
    for name in dashboard_queries():
        chart = "/" in name
        label = f"dashboard chart {name}" if chart else f"dashboard {name} options"
        add(f"{label} (sqlite3)", [r["queries"][name][0] for _, r in results])
        # Datasette returns at most 1,000 rows (max_returned_rows): a chart's query must stay under it.
        rows.append([f"{label}: rows"] + [f"{r['queries'][name][1]:,}" for _, r in results] + ([""] if growth else []))
        if served and chart:
            add(f"{label} (datasette HTTP)", [r["datasette"].get(name, "n/a") for _, r in results])
    if served:
        for name in [n for n in results[0][1]["datasette"] if n.endswith(": page")]:
            add(f"dashboard {name} (datasette HTTP, filters' options included)",
                [r["datasette"].get(name, "n/a") for _, r in results])
    return table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", default="1,10", help="history sizes in years, comma separated")
    parser.add_argument("--models", type=int, default=600)
    parser.add_argument("--no-datasette", action="store_true")
    parser.add_argument("--keep", type=Path, help="build the histories in this (new) folder and keep them")
    parser.add_argument("--machine", action="store_true", help="print the machine first")
    args = parser.parse_args(argv)
    if args.machine:
        print_machine()
    started = time.perf_counter()
    models = synthetic_models(args.models)
    results = []
    with tempfile.TemporaryDirectory(prefix="orstats-bench-history-") as tmp:
        workdir = args.keep or Path(tmp)
        for years in [float(v) for v in args.years.split(",") if v]:
            results.append((years, bench_size(years, models, workdir, datasette=not args.no_datasette)))
    print(f"\n## History and report at scale: {args.models} model-variants, one crawl a week\n")
    print("Upsert = what the history feed does when a crawl closes (open the file, summarize the week, quality "
          "gate, write_crawl with ~950 archived responses). Report = "
          "write_reports: every published week's page (`scrapy report`), then after the upsert only the pages "
          "whose inputs changed (what a crawl runs). Canned queries: datasette/metadata.yml, `week_end` empty "
          "(the latest week); dashboards: each chart's query as its page fetches it (filters empty: the "
          "default view) and each page (its filters' options); sqlite3: median of 3 after a first run; datasette: "
          "`datasette serve` with its defaults (1 s SQL time limit), the .json of each query, median of 3.\n")
    print(report_table(results))
    pages = ", ".join(f"{y:g} y: {r['report'][1]} pages, {r['report_after_crawl'][1]} after a crawl"
                      for y, r in results)
    print(f"\nReport pages written (README.md included): {pages}.")
    print(f"\n(history benchmark: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
