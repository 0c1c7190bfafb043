"""``DataApiMiddleware``: everything about the official Data API's key and limits, for the requests
the spider tags with the Data API's source (`/api/v1/datasets/rankings-daily`, sources/data_api.py).

- Nothing happens without `OPENROUTER_API_KEY` in the environment: the spider asks for no window.
- The key (credentials.py) is read when the crawl starts and only this middleware holds it: it is
  added to the Data API's requests as `Authorization: Bearer ...` on their way to the network, only
  for the configured host (middlewares/hosts.py), and appears in no setting, stat, log line, stored
  row or recorded snapshot (the raw archive keeps URLs and bodies, never request headers), nor in
  Scrapy's HTTP cache (`dont_cache`: it would store the headers). ``DataApiScrubMiddleware`` takes
  it out of the answers as they arrive (an answer may echo it): no callback, problem or archive sees it.
- Limits (30 requests per minute per key, 500 per day per account): the requests go one at a time,
  `ORSTATS_DATA_API_INTERVAL` seconds apart (the next one waits for the previous answer, so a 401
  or the daily quota is known before anything else is sent), each crawl spends at most
  `ORSTATS_DATA_API_MAX_REQUESTS`, a 429 with a short `Retry-After` is left to the project's
  BackoffRetryMiddleware (it waits that long and asks again), and a 429 asking for longer than
  `ORSTATS_DATA_API_MAX_RETRY_AFTER` (the daily quota) or a refused key (401/403) stops the Data API
  for the rest of the crawl, with one clear problem per window left unfetched. The rest of the
  crawl goes on.
- The turn (one request in flight) is taken in process_request and given back when the request's
  outcome comes back: that is why the middleware sits closest to the network (settings.py), where
  its process_response and process_exception see every download's answer or error first, before a
  redirect, a retry or a decompression turns it into something else. A 3xx gives the turn back like
  any answer; a followed redirect is a new request that waits for its own turn.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import DeferredLock

from orstats_crawler.credentials import KEY_ENV, data_api_key, scrub
from orstats_crawler.middlewares.hosts import ConfiguredHosts
from orstats_crawler.middlewares.retry import retry_after_seconds
from orstats_crawler.sources.data_api import SOURCE

logger = logging.getLogger(__name__)

TURN = "data_api_turn"  # meta flag: this request holds the Data API's turn
STATS = "orstats/data_api"


def is_data_api(request: Request) -> bool:
    return request.meta.get("source") == SOURCE  # the spider tags each request with its source


class DataApiMiddleware:
    """Authorizes, paces, budgets and stops the Data API's requests; leaves every other request alone."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self._key = data_api_key()
        self.budget = settings.getint("ORSTATS_DATA_API_MAX_REQUESTS")
        self.max_retry_after = settings.getfloat("ORSTATS_DATA_API_MAX_RETRY_AFTER")
        self.interval = settings.getfloat("ORSTATS_DATA_API_INTERVAL")
        self.sent = 0
        self.last_sent: float | None = None  # time.monotonic() of the last request sent
        self.turn = DeferredLock()  # one Data API request in flight at a time
        self.stopped: str | None = None  # why no further Data API request is sent in this crawl
        self.hosts = ConfiguredHosts(settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "DataApiMiddleware":
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if not is_data_api(request):
            return None
        await maybe_deferred_to_future(self.turn.acquire())
        request.meta[TURN] = True
        try:
            await self._send(request)
        except BaseException:
            self._release(request)
            raise

    async def _send(self, request: Request) -> None:
        if not self.hosts.allows(request.url):
            raise self.hosts.refusal(request)  # the key goes to the configured host only
        if not self._key:
            self._stop(f"{KEY_ENV} is not set")
        if self.stopped is None and self.sent >= self.budget:
            self._stop(f"the per-crawl budget of {self.budget} requests (ORSTATS_DATA_API_MAX_REQUESTS) is spent")
        if self.stopped is not None:
            self.stats.inc_value(f"{STATS}/skipped")
            raise IgnoreRequest(f"Data API window not fetched: {self.stopped}")
        if self.last_sent is not None:
            await sleep(max(0.0, self.last_sent + self.interval - time.monotonic()))
        self.sent += 1
        self.last_sent = time.monotonic()
        self.stats.inc_value(f"{STATS}/requests")
        request.meta["dont_cache"] = True  # Scrapy's HTTP cache writes request headers to disk
        request.headers["Authorization"] = f"Bearer {self._key}"

    def process_response(self, request: Request, response: Response) -> Response:
        if not is_data_api(request):
            return response
        forget_key(request)
        self._release(request)
        status = response.status
        if status in (401, 403):
            raise IgnoreRequest(self._stop(
                f"HTTP {status}: the Data API refused the key in {KEY_ENV} (missing, wrong or revoked)"))
        if status == 429:
            self.stats.inc_value(f"{STATS}/rate_limited")
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is None or wait > self.max_retry_after:
                raise IgnoreRequest(self._stop(
                    f"HTTP 429 with Retry-After {'absent' if wait is None else f'{wait:.0f}s'}: the daily quota "
                    "(500 requests per day per account) is spent; the next crawl asks again"))
            # The per-minute limit: BackoffRetryMiddleware waits Retry-After out and asks again.
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if is_data_api(request):
            forget_key(request)  # the retry middleware's copy is queued, and a JOBDIR queue is a file
            self._release(request)
        return None

    def _release(self, request: Request) -> None:
        """Let the next Data API request go (a replayed response never took the turn)."""
        if request.meta.pop(TURN, False):
            self.turn.release()

    def _stop(self, reason: str) -> str:
        if self.stopped is None:
            self.stopped = reason
            self.stats.set_value(f"{STATS}/stopped", reason)
            logger.error("data_api: %s; no further Data API request in this crawl", reason)
        return reason


def forget_key(request: Request) -> None:
    """Take the key off a request once it has been sent: a retry is a copy that waits in the
    scheduler (on disk with JOBDIR), and the key is added again when the copy is sent."""
    request.headers.pop("Authorization", None)


class DataApiScrubMiddleware:
    """Takes the key out of the Data API's answers (body and headers) as they arrive, once they are
    decompressed (settings.py: below HttpCompressionMiddleware): an answer that echoes it reaches no
    callback, decoder, problem, log line, raw archive or recorded snapshot."""

    def process_response(self, request: Request, response: Response) -> Response:
        if not is_data_api(request):
            return response
        headers = {name: [scrub(value) for value in values] for name, values in response.headers.items()}
        body = scrub(response.body)
        if body == response.body and headers == dict(response.headers.items()):
            return response
        return response.replace(body=body, headers=headers)
