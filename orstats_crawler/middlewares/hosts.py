"""Only the configured host. The crawl asks one site, ``OPENROUTER_BASE_URL``: the catalogues, the
rankings and stats endpoints, the legacy pages and the official Data API all live there.

- ``HostGuardMiddleware`` (the first downloader middleware, before robots.txt, which would otherwise
  ask the other host for its robots.txt first) refuses a request for any other origin before it
  leaves: an ``OtherHostRefused`` problem of the request's source, naming URL and host. The spider
  builds no such request; this is the net under whatever could (a meta refresh, a future source).
- ``RedirectGuardMiddleware`` (Scrapy's RedirectMiddleware with one more rule, in its place) turns
  a redirect to another origin into a ``RedirectRefused`` problem of the request that got it (URL,
  status, Location): never followed, so neither a request nor the Data API's key goes there. A
  redirect within the origin is left to Scrapy, which follows it (REDIRECT_MAX_TIMES): a site that
  moves a path keeps its week, and the target's body is still decoded as the source's shape.

An origin is scheme, host and port (the port defaulting to the scheme's): the comparison the Fetch
standard and Scrapy's RedirectMiddleware make before keeping an ``Authorization`` header, so
`http://openrouter.ai` (a downgrade) and `https://openrouter.ai:8443` are other hosts. Scrapy's own
OffsiteMiddleware cannot do this: it compares host names only and lets every `dont_filter` request
through, and all of the spider's requests are `dont_filter`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.settings import BaseSettings

from orstats_crawler.credentials import scrub_text

logger = logging.getLogger(__name__)

STATS = "orstats/hosts"
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


class OtherHostRefused(IgnoreRequest):
    """A request for another origin than the configured one: not sent."""


class RedirectRefused(OtherHostRefused):
    """A 3xx pointing at another origin: not followed. ``status`` is the 3xx's."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def origin(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL; None for anything else."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def shown(where: Origin | None) -> str:
    if where is None:
        return "no http(s) host"
    scheme, host, port = where
    return f"{scheme}://{host}" + ("" if DEFAULT_PORTS[scheme] == port else f":{port}")


class ConfiguredHosts:
    """The origins the crawl may ask: OPENROUTER_BASE_URL's (the Data API is asked there too), or
    the one a spider of another site sets in ORSTATS_ALLOWED_URL (the archive spider: the archive's)."""

    def __init__(self, settings: Any):
        allowed = settings.get("ORSTATS_ALLOWED_URL") or settings.get("OPENROUTER_BASE_URL")
        self.origins = frozenset({origin(allowed)} - {None})

    def allows(self, url: str) -> bool:
        return origin(url) in self.origins

    def refusal(self, request: Request) -> OtherHostRefused:
        """The problem of a request for another origin (reached by a redirect: from where)."""
        via = request.meta.get("redirect_urls")
        return OtherHostRefused(scrub_text(
            f"{request.url} is on {shown(origin(request.url))}, not the configured "
            f"{' or '.join(sorted(map(shown, self.origins))) or 'host'}: not sent"
            + (f" (a redirect from {via[0]})" if via else "")))


class HostGuardMiddleware:
    def __init__(self, crawler: Any):
        self.stats = crawler.stats
        self.hosts = ConfiguredHosts(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "HostGuardMiddleware":
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if self.hosts.allows(request.url):
            return None
        self.stats.inc_value(f"{STATS}/refused")
        refused = self.hosts.refusal(request)
        logger.error("refused: %s", refused)
        raise refused


class RedirectGuardMiddleware(RedirectMiddleware):
    """Scrapy's RedirectMiddleware, in its place: its exemptions and its reading of Location decide
    whether and where a 3xx leads; a redirect to another origin is refused there, never followed."""

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.hosts = ConfiguredHosts(settings)

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        if self.hosts.allows(redirected.url):
            return super()._redirect(redirected, request, reason)
        self.crawler.stats.inc_value(f"{STATS}/redirects_refused")
        refused = RedirectRefused(scrub_text(
            f"HTTP {reason} from {request.url} to Location {redirected.url}: another host "
            f"({shown(origin(redirected.url))}), not followed"), reason)
        logger.error("refused: %s", refused)
        raise refused
