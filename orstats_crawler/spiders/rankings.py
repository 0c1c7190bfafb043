"""`scrapy crawl rankings`: prices, the weekly leaderboard and chart, then the token split of the
model-variants that carry the week's spend.

Order matters once: the split requests are chosen by list-price spend, so they wait until the
catalogue(s) and the leaderboard have answered (or failed, or their callback raised). Until then
leaderboard rows are held back; each is released carrying its catalogue entry's prices, which the
price pipeline turns into its list price.

Legacy era (archived copies of the site): when the JSON leaderboard is unusable (an HTTP error, or
a body that is not the JSON leaderboard), the `/rankings` page is asked instead; if it embeds flight
data its leaderboard and chart are used, and splits it does not give come from the model pages.

Arguments (arguments.py: each is a setting every component reads): `-a snapshot=PATH` replays a
recorded snapshot (no network), `-a record=PATH` saves this crawl in the same layout, `-a top=N|all`
overrides the spend-coverage target, `-a force=1` publishes a week the quality gate rejects (marked
forced).
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

from scrapy import Spider
from scrapy.exceptions import CloseSpider
from scrapy.http import JsonRequest, Request, Response
from twisted.python.failure import Failure

from orstats_crawler import arguments, normalize, pricing, selection
from orstats_crawler import signals as orstats_signals
from orstats_crawler.credentials import data_api_key
from orstats_crawler.history.formulas import upper_bounds
from orstats_crawler.items import LeaderboardRow, ModelPrice
from orstats_crawler.middlewares import reachability
from orstats_crawler.sources import SourceError, problem
from orstats_crawler.sources.activity import SOURCE as ACTIVITY
from orstats_crawler.sources.activity import decode_activity
from orstats_crawler.sources import data_api
from orstats_crawler.sources.data_api import SOURCE as DATA_API
from orstats_crawler.sources.data_api import decode_rankings_daily
from orstats_crawler.sources.effective import PATH as EFFECTIVE_PATH
from orstats_crawler.sources.effective import SOURCE as EFFECTIVE
from orstats_crawler.sources.effective import decode_effective
from orstats_crawler.sources.flight import is_flight_page
from orstats_crawler.sources.legacy import (RANKINGS_PAGE_PATH, decode_model_page, decode_rankings_page,
                                            model_page_path)
from orstats_crawler.sources.prices import SOURCE as PRICES
from orstats_crawler.sources.prices import decode_catalogue
from orstats_crawler.sources.rankings import CHART, LEADERBOARD, decode_chart, decode_leaderboard
from orstats_crawler.spiders.failures import failure_problem

PRICES_PATHS = ("/api/v1/models", "/api/v1/models?output_modalities=all")
LEADERBOARD_PATH = "/api/frontend/v1/rankings/models?view=week"
CHART_PATH = "/api/frontend/v1/rankings/model-rankings-chart"
ACTIVITY_PATH = "/api/frontend/v1/stats/model-activity"
# What the traffic actually paid; `shape` and `range` are what the site's own page asks for.
EFFECTIVE_QUERY = {"shape": "v7", "range": "1w"}
SPLIT_PRIORITY = 10  # split requests go before the queued effective-price requests


def releases_barrier(callback: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """For the callback of a source the split requests wait for: after its items, its barrier key is
    released whatever it raised (the error still reaches Scrapy as a spider error, which the gate
    counts), unless it handed the key on to a request that settles it instead."""
    @functools.wraps(callback)
    def wrapper(self: "RankingsSpider", response: Response, key: str, **kwargs: Any) -> Iterator[Any]:
        handed_on = False
        try:
            for item in callback(self, response, key, **kwargs):
                handed_on = handed_on or (isinstance(item, Request) and item.meta.get("barrier") == key)
                yield item
        except GeneratorExit:
            raise
        except Exception:
            yield from self._settle(key)
            raise
        if not handed_on:
            yield from self._settle(key)
    return wrapper


class RankingsSpider(Spider):
    name = "rankings"
    accepted_arguments = arguments.CRAWL_ARGUMENTS  # any other `-a` is a usage error

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Entries of both catalogues, complete before any leaderboard row is released: it ranks the
        # split candidates by spend and gives each released row its catalogue entry.
        self.catalogue = pricing.PriceCatalogue()
        self._leaderboard: list[LeaderboardRow] = []
        self._waiting: set[str] = set()
        self._released = False
        self._planner: selection.SplitPlanner | None = None
        self._unreached: set[str] = set()  # catalogue URLs that failed to connect or resolve

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> "RankingsSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Settings are still open here (Crawler.crawl applies them after creating the spider).
        found = arguments.as_settings(kwargs, crawler.settings, cls.accepted_arguments)
        crawler.settings.setdict(found, priority="cmdline")
        arguments.check_settings(crawler.settings)  # a bad -s value stops the crawl here: exit 2
        return spider

    @property
    def base_url(self) -> str:
        return self.settings.get("OPENROUTER_BASE_URL").rstrip("/")

    def url(self, path: str, **query: str) -> str:
        return self.base_url + path + (("&" if "?" in path else "?") + urlencode(query) if query else "")

    async def start(self) -> Any:
        for precedence, path in enumerate(PRICES_PATHS):
            yield self._source_request(self.url(path), self.parse_prices, PRICES, precedence=precedence)
        yield self._source_request(self.url(LEADERBOARD_PATH), self.parse_leaderboard, LEADERBOARD)
        yield self._source_request(self.url(CHART_PATH), self.parse_chart, CHART, wait=False)
        if data_api_key():  # the official daily series: only with a key
            for age, (first, last) in enumerate(data_api.windows(self.settings, datetime.now(timezone.utc).date())):
                url = self.url(data_api.PATH, start_date=first.isoformat(), end_date=last.isoformat())
                request = self._source_request(url, self.parse_rankings_daily, DATA_API, wait=False)
                # Newest first however the scheduler (last in, first out) dequeues them: a spent quota
                # then loses the oldest days, which the next crawl asks for again.
                yield request.replace(priority=-age)

    def _source_request(self, url: str, callback: Any, source: str, wait: bool = True, **cb_kwargs: Any) -> JsonRequest:
        key = f"{source}:{url}"
        if wait:
            self._waiting.add(key)
        return JsonRequest(url, callback=callback, errback=self.source_failed, dont_filter=True,
                           cb_kwargs={"key": key, **cb_kwargs},
                           meta={"source": source, "barrier": key if wait else None})

    # --- callbacks ---------------------------------------------------------------------------

    @releases_barrier
    def parse_prices(self, response: Response, key: str, precedence: int = 0) -> Iterator[Any]:
        try:
            for item in decode_catalogue(response.body, response.url, precedence):
                if isinstance(item, ModelPrice) and not self.catalogue.add(item):
                    continue  # both catalogues list the text models: the text catalogue's entry wins
                yield item
        except SourceError as exc:
            yield problem(exc, status=response.status)

    @releases_barrier
    def parse_leaderboard(self, response: Response, key: str) -> Iterator[Any]:
        try:
            yield from self._hold_rows(decode_leaderboard(response.body, response.url))
        except SourceError as exc:
            yield problem(exc, status=response.status)
            yield self._rankings_page_request(key)  # the barrier waits for the page instead

    @releases_barrier
    def parse_rankings_page(self, response: Response, key: str) -> Iterator[Any]:
        """The legacy `/rankings` page, asked when the JSON leaderboard was unusable."""
        try:
            yield from self._hold_rows(decode_rankings_page(response.body, response.url, response_date(response)))
        except SourceError as exc:
            yield problem(exc, status=response.status)

    def _hold_rows(self, items: Iterator[Any]) -> Iterator[Any]:
        """Leaderboard rows wait for the barrier; every other item goes on."""
        for item in items:
            if isinstance(item, LeaderboardRow):
                self._leaderboard.append(item)
            else:
                yield item

    def parse_chart(self, response: Response, key: str) -> Iterator[Any]:
        try:
            yield from decode_chart(response.body, response.url)
        except SourceError as exc:
            yield problem(exc, status=response.status)

    def parse_activity(self, response: Response, permaslug: str, variant: str) -> Iterator[Any]:
        # A legacy model page holds the same daily rows, in its flight data.
        decode = decode_model_page if is_flight_page(response.body) else decode_activity
        activity = None
        try:
            activity = decode(response.body, response.url, permaslug, variant, response_date(response))
            yield activity
        except SourceError as exc:
            yield problem(exc, permaslug=permaslug, variant=variant, status=response.status)
        except GeneratorExit:
            raise
        except Exception:  # the wave still learns this split's fate; the error goes on to Scrapy
            yield from self._split_answered(permaslug, variant)
            raise
        yield from self._split_answered(permaslug, variant, activity)

    def parse_rankings_daily(self, response: Response, key: str) -> Iterator[Any]:
        try:
            yield decode_rankings_daily(response.body, response.url)
        except SourceError as exc:
            yield problem(exc, status=response.status)

    def parse_effective(self, response: Response, permaslug: str, variant: str) -> Iterator[Any]:
        try:
            yield decode_effective(response.body, response.url, permaslug, variant, response_date(response))
        except SourceError as exc:
            yield problem(exc, permaslug=permaslug, variant=variant, status=response.status)

    def source_failed(self, failure: Failure) -> Iterator[Any]:
        """Errback of every request: record what failed, and never stall the crawl on it; end it when
        the site cannot be reached at all."""
        request = failure.request
        yield failure_problem(failure, request.meta.get("source", "unknown"), request.cb_kwargs.get("permaslug"),
                              request.cb_kwargs.get("variant"))
        self._close_if_unreachable(request, failure.value)
        if request.meta.get("source") == LEADERBOARD:
            yield self._rankings_page_request(request.meta["barrier"])
        elif request.meta.get("barrier"):
            yield from self._settle(request.meta["barrier"])
        elif request.meta.get("source") == ACTIVITY:
            yield from self._split_answered(request.cb_kwargs["permaslug"], request.cb_kwargs["variant"])

    def _close_if_unreachable(self, request: Request, error: BaseException) -> None:
        """Nothing can be priced without a catalogue: when every catalogue request failed to connect
        or resolve (middlewares/reachability.py), the site is unreachable and the crawl ends now."""
        if request.meta.get("source") != PRICES or not reachability.is_connection_failure(error):
            return
        self._unreached.add(request.url)
        if len(self._unreached) == len(PRICES_PATHS):
            self.crawler.signals.send_catch_log(signal=orstats_signals.site_unreachable,
                                                where=reachability.could_not_reach(request.url, error))
            raise CloseSpider(reachability.UNREACHABLE)

    # --- the split requests, once prices and leaderboard are in ------------------------------

    def _settle(self, key: str) -> Iterator[Any]:
        self._waiting.discard(key)
        if self._waiting or self._released:
            return
        self._released = True
        for row in self._leaderboard:
            yield self.catalogue.attach(row)
        self._planner = selection.SplitPlanner(
            self._split_candidates(), arguments.top(self.settings.get("ORSTATS_TOP")),
            self.settings.getfloat("ORSTATS_SPEND_COVERAGE"), self.settings.getint("CONCURRENT_REQUESTS"))
        self.crawler.stats.set_value("orstats/activity/candidates", len(self._planner.ordered))
        yield from self._wave(self._planner.first_wave())
        if self.settings.getbool("ORSTATS_EFFECTIVE_PRICES") and not self.legacy_era:
            # What every ranked paid model-variant's traffic paid: no split needed, so no selection.
            for row in self._leaderboard:
                if row.variant != pricing.FREE_VARIANT:
                    yield self._effective_request(row.permaslug, row.variant)

    def _split_candidates(self) -> list[selection.Candidate]:
        rows = []
        for row in self._leaderboard:
            if row.cached_tokens is not None:
                continue  # this leaderboard gives the split itself (legacy era)
            try:
                prompt, completion = normalize.count(row.prompt_tokens), normalize.count(row.completion_tokens)
            except ValueError:
                continue  # the pipelines report the bad row
            rows.append((row, prompt, completion, self.catalogue.price_for(row.permaslug, row.variant)))
        bounds = upper_bounds((prompt, completion, price) for _, prompt, completion, price in rows)
        return [selection.Candidate(row.permaslug, row.variant, prompt + completion, bound)
                for (row, prompt, completion, _), bound in zip(rows, bounds)]

    def _wave(self, candidates: list[selection.Candidate]) -> Iterator[Any]:
        """The plan so far, then one split request per candidate of the wave."""
        planner = self._planner
        stats = self.crawler.stats
        stats.set_value("orstats/activity/selected", len(planner.selected))
        stats.set_value("orstats/activity/waves", planner.waves)
        yield planner.plan()
        for candidate in candidates:
            yield self._activity_request(candidate.permaslug, candidate.variant)

    def _split_answered(self, permaslug: str, variant: str, activity: Any = None) -> Iterator[Any]:
        """Tell the planner what a split request brought; yield the next wave when it asks for one."""
        spend = None
        if activity is not None:
            price = self.catalogue.price_for(permaslug, variant)
            tokens = self._planner.selected[permaslug, variant].tokens
            spend = selection.measured_list_spend(activity.days, activity.fetched_at, price, tokens)
        wave = self._planner.answered((permaslug, variant), spend)
        if wave or not self._planner.pending:
            yield from self._wave(wave)


    @property
    def legacy_era(self) -> bool:
        """The leaderboard came from a legacy page (an archived copy of the site)."""
        return any(row.era == "legacy" for row in self._leaderboard)

    def _activity_request(self, permaslug: str, variant: str) -> Request:
        """Before any effective-price request: the next wave is decided on the splits' answers."""
        if self.legacy_era:
            return self._model_page_request(permaslug, variant)
        url = self.url(ACTIVITY_PATH, permaslug=permaslug, variant=variant)
        return self._model_request(JsonRequest, url, self.parse_activity, ACTIVITY, permaslug, variant,
                                   priority=SPLIT_PRIORITY)

    def _model_page_request(self, permaslug: str, variant: str) -> Request:
        """Legacy era: a model-variant's daily split is embedded in its page, `/<public id>`."""
        entry = self.catalogue.entry_for(permaslug, variant)
        public_id = entry.public_id if entry is not None and entry.variant == variant else None
        url = self.url(model_page_path(permaslug, variant, public_id))
        return self._model_request(Request, url, self.parse_activity, ACTIVITY, permaslug, variant,
                                   priority=SPLIT_PRIORITY)

    def _effective_request(self, permaslug: str, variant: str) -> Request:
        url = self.url(EFFECTIVE_PATH, permaslug=permaslug, variant=variant, **EFFECTIVE_QUERY)
        return self._model_request(JsonRequest, url, self.parse_effective, EFFECTIVE, permaslug, variant)

    def _model_request(self, request_class: type[Request], url: str, callback: Any, source: str,
                       permaslug: str, variant: str, priority: int = 0) -> Request:
        """A request about one model-variant: its callback, and its errback's problem, name it."""
        return request_class(url, callback=callback, errback=self.source_failed, dont_filter=True, priority=priority,
                             cb_kwargs={"permaslug": permaslug, "variant": variant}, meta={"source": source})

    def _rankings_page_request(self, key: str) -> Request:
        """The `/rankings` page, under the leaderboard's barrier key: its callback or errback settles it."""
        return Request(self.url(RANKINGS_PAGE_PATH), callback=self.parse_rankings_page, errback=self.source_failed,
                       dont_filter=True, cb_kwargs={"key": key}, meta={"source": "leaderboard_page", "barrier": key})

def response_date(response: Response) -> datetime | None:
    """The server's Date header, as a fallback clock for sources without `cachedAt`."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.decode("latin-1")).astimezone(timezone.utc)
    except (TypeError, ValueError):
        return None
