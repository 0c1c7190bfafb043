"""Scrapy settings for orstats_crawler: every setting of the project has its default here, and only
here (components read them without a fallback of their own).

Defaults are polite (the site asks for human rates): identify the bot, obey robots.txt, one request
at a time per host with AutoThrottle, retries that back off. Benchmarks and tests override these
explicitly on the command line, never here.
"""

import os

from orstats_crawler import __version__

BOT_NAME = "orstats_crawler"
SPIDER_MODULES = ["orstats_crawler.spiders"]
NEWSPIDER_MODULE = "orstats_crawler.spiders"
COMMANDS_MODULE = "orstats_crawler.commands"

# --- the project's own settings -------------------------------------------------------------
OPENROUTER_BASE_URL = os.environ.get("OPENROUTER_BASE_URL", "https://openrouter.ai")
ORSTATS_DB = os.environ.get("ORSTATS_DB", "data/history.db")  # empty string: no history feed
# Unset: `reports` for the project's own history, else `reports` beside the history file (a crawl into
# another history must not overwrite the project's report: report/folder.py); empty: no report.
ORSTATS_REPORT_DIR = os.environ.get("ORSTATS_REPORT_DIR")
# The spider's arguments (arguments.py) land in these: `-a snapshot=PATH` replays a recorded snapshot
# with no network, `-a record=PATH` records this crawl as one, `-a top=N|all` fetches that many splits
# instead of the coverage target, `-a force=1` publishes a week the gate rejects (marked forced).
ORSTATS_SNAPSHOT = ""
ORSTATS_RECORD = ""
ORSTATS_TOP = ""
ORSTATS_FORCE = False
# The crawl's id in the history: Scrapyd's job id, else set by the spider (a timestamp and a suffix).
ORSTATS_CRAWL_ID = ""
# Fetch the token split of model-variants, biggest list-price spend first, until the measured ones
# hold this share of the week's list-price spend (the spider's `-a top=N|all` overrides it).
ORSTATS_SPEND_COVERAGE = 0.95

# --- quality gate, exit codes, fault tolerance (README "Never publish a wrong week") --------
# Below this share of the list-price spend with a measured split, the week is rejected.
ORSTATS_MIN_SPEND_COVERAGE = 0.90
# Below this share of the tokens with a price of any kind (free, list, effective) covered by the best
# estimate, the week is rejected.
ORSTATS_MIN_BEST_COVERAGE = 0.99
# Below this share of the week's tokens with a measured split, the week is rejected (the split
# is fetched by spend, so cheap high-volume models may stay unmeasured: 81 % on 2026-08-08).
ORSTATS_MIN_TOKEN_COVERAGE = 0.50
# Fewer ranked model-variants than this share of the latest published crawl's: rejected.
ORSTATS_MIN_MODEL_RATIO = 0.5
# Ranked rows whose token count is unknown (the source's was not a count) holding more than this
# share of the week's tokens (estimated from their last published week, else the chart): rejected.
ORSTATS_MAX_UNKNOWN_SHARE = 0.01
# Measured 7-day split vs the leaderboard's prompt + completion: a row off by more than this is
# flagged; the measured rows' total off by more than this rejects (the window is wrong).
ORSTATS_LEADERBOARD_TOLERANCE = 0.02
# A finished chart week seen again: a key moving more than this is flagged, the week's total rejects.
ORSTATS_CHART_TOLERANCE = 0.02
# A list price (prompt or completion) that moved more than this factor either way since the latest
# published crawl, on a model-variant holding at least ORSTATS_PRICE_MOVE_MIN_SPEND of the week's
# list-price spend at the old or the new price, rejects the week unless its effective price moved the
# same way within ORSTATS_EFFECTIVE_MOVE_TOLERANCE of the list price's move (smaller ones are flagged).
ORSTATS_MAX_PRICE_MOVE = 3.0
ORSTATS_PRICE_MOVE_MIN_SPEND = 0.005
ORSTATS_EFFECTIVE_MOVE_TOLERANCE = 2.0
# Any text price (prompt, completion, cache read) above this many USD per million tokens rejects.
ORSTATS_MAX_LIST_PRICE = 1000.0
# --- the gate on effective prices, drift and week totals (publish/quality_effective.py, quality_totals.py) --
# Calibrated on the four weekly captures 2026-07-18..08-08 (`python -m bench.calibration`); each
# comment gives the largest real value and the margin the default leaves over it.
# A model-variant is material when it holds at least this share of the week's list-price spend (at
# its list or at its effective price): its effective price is held to the tight rules below, and
# effective prices not believed on material rows reject the week.
ORSTATS_EFFECTIVE_MATERIAL_SHARE = 0.005
# A material row's effective price (input: against the list prompt price with the cache discount at
# its own hit rate; output: against the completion price) at most this many times its list price
# (real: 4.75, GLM 5.2 on 2026-08-08; margin 2.1x) and at least this share of it (real: 0.689;
# margin 1.38x); any other row within ORSTATS_EFFECTIVE_SMALL_RATIO either way (real: 79.1 and
# 0.258; margins 2.5x and 5.2x): a unit error (per token, x1000) is far outside both.
ORSTATS_EFFECTIVE_MAX_OVER_LIST = 10.0
ORSTATS_EFFECTIVE_MIN_OF_LIST = 0.5
ORSTATS_EFFECTIVE_SMALL_RATIO = 200.0
# A material row's effective price moving more than this either way since its last published one,
# with its list price not moving the same way (real: 2.90x; margin 2.07x).
ORSTATS_MAX_EFFECTIVE_MOVE = 6.0
# A list move its effective price confirms is still rejected beyond this factor (real: 10x, GPT-5.6
# Luna's cut on 2026-08-01, confirmed by a 7.3x effective move; margin 3x).
ORSTATS_MAX_CONFIRMED_PRICE_MOVE = 30.0
# Model-variants whose headline basis was their effective price in the latest published crawl and is
# not now (no answer, or one not believed): above this share of the week's spend, rejected.
ORSTATS_MAX_BASIS_SWITCH_SHARE = 0.02
# List and cache-read prices against the median of the last N published crawls (a series of moves
# each under ORSTATS_MAX_PRICE_MOVE adds up): the same factor and confirmation as price_moves.
ORSTATS_PRICE_DRIFT_CRAWLS = 4
# The week's tokens at least the chart's newest finished week's named model-variants / the gap and
# at most its total x the gap (real: 1.49x..1.99x the named, 0.94x..1.14x the total; margins 2.2x and
# 1.32x); against the published week of the 7 days before within the week factor (real: 0.884x..1.130x,
# the chart's 49 week steps at most 1.33x; margin 1.5x).
ORSTATS_MAX_CHART_GAP = 1.5
ORSTATS_MAX_WEEK_MOVE = 2.0
# A model-variant's week against its own previous 7 days: rejected when the tokens it gained hold
# more than this share of the week's spend (real: 6.7 %, Gemini 3.6 Flash 5.79x in its second week;
# margin 3.7x; a tenfold row holding 8.7 % gains 44 %).
ORSTATS_MAX_JUMP_SPEND_SHARE = 0.25
# Retries (orstats_crawler.middlewares.BackoffRetryMiddleware): wait BASE x 2^(n-1) seconds before
# the n-th retry, at most MAX; a `Retry-After` longer than RETRY_AFTER_MAX is not waited for (the
# request gives up rather than come back early).
ORSTATS_RETRY_BACKOFF_BASE = 2.0
ORSTATS_RETRY_BACKOFF_MAX = 120.0
ORSTATS_RETRY_AFTER_MAX = 600.0
# A request that fails to connect to or resolve a host that has not answered anything in this crawl
# is retried this many times (the backoff's 2 + 4 s: a blip at start-up passes), not RETRY_TIMES;
# once they are spent, or the host has failed that long, it is unreachable and its other requests
# fail at once. When every catalogue request failed so, the crawl ends: exit 1, "could not reach
# HOST" (middlewares/reachability.py).
ORSTATS_UNREACHABLE_RETRIES = 2
# Guard rails: a crawl that runs an hour, or whose callbacks raise 10 times, is closed (and, being
# unfinished, rejected by the gate).
CLOSESPIDER_TIMEOUT = 3600
CLOSESPIDER_ERRORCOUNT = 10

# --- accuracy: effective prices and the official Data API ----------------------------------
# Also fetch what each selected model-variant's traffic actually paid (stats/effective-pricing):
# one more request per split request; False skips it (revenue_effective_usd stays NULL).
ORSTATS_EFFECTIVE_PRICES = True
# The official Data API (/api/v1/datasets/rankings-daily) is asked only when the environment has
# OPENROUTER_API_KEY. The key is read from the environment (orstats_crawler.credentials) and is never
# a setting: settings are logged at start-up and stored with the crawl.
ORSTATS_DATA_API_START = "2025-01-01"  # first day asked for (the dataset starts there)
ORSTATS_DATA_API_WINDOW_DAYS = 366  # days per request: the API's widest window
# Requests per crawl, out of the 500 per day the key allows (a full series is 2 requests today).
ORSTATS_DATA_API_MAX_REQUESTS = 10
# A 429 asking to wait longer than this (seconds) is the daily quota, not the per-minute one: stop.
# Shorter waits are BackoffRetryMiddleware's (Retry-After, RETRY_TIMES).
ORSTATS_DATA_API_MAX_RETRY_AFTER = 120
# 30 requests per minute per key: one at a time, at least this many seconds apart.
ORSTATS_DATA_API_INTERVAL = 2.5

# --- history: legacy pages, the Monday series, imports ---------------------------------------
# `scrapy import-history`: the earlier project fetched the prices of its backfilled weeks (files
# dated on a Sunday, up to 2026-02-08) once, on its first run; they are stored as observed that day.
ORSTATS_IMPORT_BACKFILL_PRICES_ON = "2026-02-09"

# --- the Web Archive (scrapy crawl archive, spiders/archive.py) ----------------------------------
# Where the archive lives: the CDX API at {url}/cdx/search/cdx, copies at {url}/web/{timestamp}id_/{original};
# tests and mirrors point it elsewhere.
ORSTATS_ARCHIVE_URL = os.environ.get("ORSTATS_ARCHIVE_URL", "https://web.archive.org")
# The Monday weeks asked for (`-a since=YYYY-MM-DD`, `-a until=YYYY-MM-DD`, empty: today): the
# legacy pages carried the whole leaderboard until about May 2026.
ORSTATS_ARCHIVE_SINCE = "2025-01-01"
ORSTATS_ARCHIVE_UNTIL = ""
# The archive is a shared public service: at most this many requests to it per UTC day (counted
# over the day's archive runs in the history); the weeks left over are fetched by the next run.
ORSTATS_ARCHIVE_DAILY_CAP = 1000
# Seconds between two requests to the archive (the spider's DOWNLOAD_DELAY, one at a time, and
# AutoThrottle's start): slower than the site's own 1 s. `-s DOWNLOAD_DELAY=...` still wins.
ORSTATS_ARCHIVE_DOWNLOAD_DELAY = 4.0
# The archive run's guard rail (its CLOSESPIDER_TIMEOUT): a day's cap at that pace is over an hour.
ORSTATS_ARCHIVE_TIMEOUT = 14400
# The one origin requests may go to (middlewares/hosts.py); empty: OPENROUTER_BASE_URL's. The archive
# spider sets it to ORSTATS_ARCHIVE_URL: it asks the archive, never the site itself.
ORSTATS_ALLOWED_URL = ""

# --- throughput (bench/crawl.py, docs/BENCHMARKS.md) ---------------------------------------
# Scrapy 2.19 starts CONCURRENT_ITEMS asyncio tasks (default 100) for the output of every response.
# A split request's callback yields one item and the pipelines are synchronous, so items gain
# nothing from running side by side: 4 tasks cut the crawl's CPU time by about a fifth.
CONCURRENT_ITEMS = 4

# --- good citizenship -----------------------------------------------------------------------
USER_AGENT = (
    f"orstats_crawler/{__version__} (weekly OpenRouter rankings statistics; "
    "+https://github.com/orstats/orstats_crawler)"
)
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
# A bot that names itself has nothing to hide behind jitter. Scrapy's random delay (0.5-1.5 x) is
# drawn again each time the slot is checked, which lengthens the average gap to about 1.25 s; a fixed
# 1 s is never closer than 1 s and keeps the crawl to about one request a second.
DOWNLOAD_DELAY_JITTER = 0  # Scrapy 2.19: 0.5 by default (was RANDOMIZE_DOWNLOAD_DELAY)
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [408, 429, 500, 502, 503, 504, 522, 524]
COOKIES_ENABLED = False

# Scrapy 2.19 turns on a local code-execution server by default; a crawler has no use for it.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False

# --- the report ------------------------------------------------------------------------------
# The headline formula of the markdown report (the summary shows the others too): "best" is the best
# estimate of each model-variant (effective prices where published, else list price: history/formulas.py);
# "list" counts cached tokens once at list price; "seed" is the earlier project's formula (cached
# tokens twice); "effective" uses the prices the traffic actually paid, where published.
ORSTATS_REVENUE_METHOD = os.environ.get("ORSTATS_REVENUE_METHOD", "best")
ORSTATS_REPORT_TABLE_ROWS = 25  # model-variants with a known revenue listed in the breakdown table

# --- OpenRouter's own take -----------------------------------------------------------------------
# OpenRouter passes the providers' prices through and keeps a fee on credit purchases: 5.5 % by card
# ($0.80 minimum), 5 % in crypto (https://openrouter.ai/docs/faq, read 2026-12-07; the same figures
# were published in November 2025). Each crawl stores the fee it assumes (crawls.platform_fee) and
# weekly_totals.openrouter_take_usd is the week's best estimate x that fee: as if the week's spend
# were bought by card. BYOK traffic (a 5 % fee on spend OpenRouter does not bill) and negotiated
# discounts are not seen. Change it when the FAQ changes, with the day it did.
ORSTATS_PLATFORM_FEE = 0.055

# A model whose effective and list-price figures differ by more than this factor (either way) is marked
# in the breakdown table with a one-line note: a reader should not quote it unchecked.
ORSTATS_REPORT_OUTLIER_FACTOR = 3.0
EXTENSIONS = {
    # Renders reports/ once the history feed has stored a published crawl.
    "orstats_crawler.report.extension.ReportExtension": 500,
    # With ORSTATS_RECORD: writes every final response out as a snapshot when the spider closes.
    "orstats_crawler.snapshots.recorder.SnapshotRecorder": 510,
}

# --- components -----------------------------------------------------------------------------
ADDONS = {
    # Puts the history feed into FEEDS after the command line is applied, so `-o`/`-O` (which
    # replace FEEDS) add a feed rather than switching the history off.
    "orstats_crawler.addons.HistoryAddon": 0,
}
DOWNLOADER_MIDDLEWARES = {
    # Scrapy's retries, with waits: backoff for 5xx and timeouts, Retry-After for 429.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "orstats_crawler.middlewares.retry.BackoffRetryMiddleware": 550,
    # Only OPENROUTER_BASE_URL's origin (middlewares/hosts.py). First of all: a request for another
    # host is refused before robots.txt (100) would ask that host for its robots.txt.
    "orstats_crawler.middlewares.hosts.HostGuardMiddleware": 40,
    # With ORSTATS_SNAPSHOT, first: a snapshot answers before robots.txt, retries or the network.
    "orstats_crawler.middlewares.replay.SnapshotReplayMiddleware": 50,
    # Above the retries (550): lowers the retries of a connection failure on a host never heard from.
    "orstats_crawler.middlewares.reachability.ReachabilityMiddleware": 560,
    # Below decompression (590): scrubs the key out of the Data API's answers once they are readable.
    "orstats_crawler.middlewares.data_api.DataApiScrubMiddleware": 585,
    # Scrapy's RedirectMiddleware, refusing a redirect to another host (the key must not follow it).
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "orstats_crawler.middlewares.hosts.RedirectGuardMiddleware": 600,
    # Closest to the network, below only the HTTP cache (900, which leaves its dont_cache requests
    # alone): its process_response and process_exception see every Data API answer and error first,
    # before a redirect (600) or a retry (550) replaces it, so the turn it takes is always given back,
    # and the 401 and daily-quota 429 are seen before the retries.
    "orstats_crawler.middlewares.data_api.DataApiMiddleware": 899,
}
ITEM_PIPELINES = {
    "orstats_crawler.pipelines.NormalizePipeline": 200,
    "orstats_crawler.pipelines.ValidatePipeline": 300,
    "orstats_crawler.pipelines.PricePipeline": 400,
}
# The `sqlite` feed format writes a crawl's items into a SQLite file (`-O crawl.sqlite` works too);
# the `history` storage merges that file into the history (publish/feed.py).
FEED_STORAGES = {"history": "orstats_crawler.publish.feed.HistoryFeedStorage"}
FEED_EXPORTERS = {"sqlite": "orstats_crawler.exporters.SqliteItemExporter"}
FEED_EXPORT_ENCODING = "utf-8"

LOG_LEVEL = os.environ.get("SCRAPY_LOG_LEVEL", "INFO")
