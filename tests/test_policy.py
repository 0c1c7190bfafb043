"""Policy: the defaults a user gets are polite and safe. Lowering one must be a visible decision."""

from __future__ import annotations

from pathlib import Path

from scrapy.utils.project import get_project_settings

from orstats_crawler import __version__
from orstats_crawler.report.folder import report_folder


def test_defaults_are_a_good_citizen_of_the_site():
    settings = get_project_settings()
    assert settings.getbool("ROBOTSTXT_OBEY")
    user_agent = settings["USER_AGENT"]
    assert user_agent.startswith(f"orstats_crawler/{__version__} (") and "+https://" in user_agent
    assert settings.getbool("AUTOTHROTTLE_ENABLED") and settings.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY") <= 1
    assert settings.getfloat("DOWNLOAD_DELAY") >= 1
    assert settings.getfloat("DOWNLOAD_DELAY_JITTER") == 0  # a jittered delay may be half of DOWNLOAD_DELAY
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    # Retries back off and honour Retry-After: Scrapy's immediate retry is replaced, not stacked.
    middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert "orstats_crawler.middlewares.retry.BackoffRetryMiddleware" in middlewares
    assert 429 in settings.getlist("RETRY_HTTP_CODES") and settings.getfloat("ORSTATS_RETRY_BACKOFF_BASE") >= 1
    assert settings.getint("CLOSESPIDER_TIMEOUT") > 0 and settings.getint("CLOSESPIDER_ERRORCOUNT") > 0


def test_no_local_control_servers():
    settings = get_project_settings()
    assert settings.getbool("REMOTE_CONTROL_ENABLED") is False
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False


def test_history_and_report_are_on_by_default():
    settings = get_project_settings()
    assert settings["ORSTATS_DB"] == "data/history.db"
    # no report folder set: the project's history renders into the project's reports/
    assert settings["ORSTATS_REPORT_DIR"] is None
    assert report_folder(settings["ORSTATS_REPORT_DIR"], settings["ORSTATS_DB"]) == Path("reports")
    assert settings.getfloat("ORSTATS_SPEND_COVERAGE") >= 0.95
    assert settings.getfloat("ORSTATS_MIN_SPEND_COVERAGE") >= 0.9
