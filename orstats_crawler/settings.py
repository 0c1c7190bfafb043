"""Scrapy settings for orstats_crawler.

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
ORSTATS_REPORT_DIR = os.environ.get("ORSTATS_REPORT_DIR", "reports")
# Fetch the token split of model-variants, biggest list-price spend first, until the measured ones
# hold this share of the week's list-price spend (the spider's `-a top=N|all` overrides it).
ORSTATS_SPEND_COVERAGE = 0.95
# Quality gate: below this share of the list-price spend with a measured split, the week is rejected.
ORSTATS_MIN_SPEND_COVERAGE = 0.90

# --- good citizenship -----------------------------------------------------------------------
USER_AGENT = (
    f"orstats_crawler/{__version__} (weekly OpenRouter rankings statistics; "
    "+https://github.com/orstats/orstats_crawler)"
)
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
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

# --- components -----------------------------------------------------------------------------
ADDONS = {
    # Puts the SQLite history feed into FEEDS after the command line is applied, so `-o`/`-O`
    # (which replace FEEDS) add a feed rather than switching the history off.
    "orstats_crawler.exporters.HistoryFeedAddon": 0,
}
DOWNLOADER_MIDDLEWARES = {
    # Replay first: a snapshot answers before robots.txt, retries or the network are involved.
    "orstats_crawler.snapshot.SnapshotReplayMiddleware": 50,
    # Low order = its process_response runs last, so it archives the final response of a request.
    "orstats_crawler.snapshot.ResponseArchiveMiddleware": 60,
}
ITEM_PIPELINES = {
    "orstats_crawler.pipelines.NormalizePipeline": 200,
    "orstats_crawler.pipelines.ValidatePipeline": 300,
    "orstats_crawler.pipelines.PricePipeline": 400,
}
FEED_STORAGES = {"sqlite": "orstats_crawler.exporters.HistoryFeedStorage"}
FEED_EXPORTERS = {"history": "orstats_crawler.exporters.HistoryItemExporter"}
FEED_EXPORT_ENCODING = "utf-8"

LOG_LEVEL = os.environ.get("SCRAPY_LOG_LEVEL", "INFO")
