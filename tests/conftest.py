"""Shared test fixtures: snapshots built by tests/factory.py, the real ../shared captures when they
exist, whole-engine crawls (in process, and as the `scrapy` command a user runs, in its own process or
in this one) and a replay server.

Tests write only under pytest's tmp_path; ../shared is read-only.
"""

from __future__ import annotations

import gc
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import greenlet
import pytest
import pytest_twisted
from scrapy import cmdline, signals
from scrapy.crawler import AsyncCrawlerRunner, CrawlerRunner
from scrapy.utils import log as scrapy_log
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.log import install_scrapy_root_handler
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred

from orstats_crawler.snapshots.reader import Snapshot
from orstats_crawler.snapshots.server import ReplayHandler, ReplayServer
from orstats_crawler.signals import StoredVerdict, crawl_verdict, report_rendered
from orstats_crawler.spiders.rankings import RankingsSpider
from tests.factory import build_snapshot

# The guard fails the run if the checkout's data/ or reports/ changed during it; pytester runs it on a
# tiny project of its own (tests/test_checkout_guard.py).
pytest_plugins = ["tests.checkout_guard", "pytester"]

ROOT = Path(__file__).resolve().parent.parent
MEMORY = Path("/dev/shm")  # a tmpfs on Linux: the tests' folders live there when it can be written
IN_MEMORY = pytest.StashKey[Path]()  # the run's folder there, when it is used
PASSED = pytest.StashKey[bool]()
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "captures"

# Settings for engine tests: the project's own settings, minus the politeness delays (a replayed
# snapshot or a loopback server has no one to be polite to) and the log noise.
FAST = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "LOG_LEVEL": "WARNING",
    "RETRY_TIMES": 1,
}


# The tiers of the suite (pyproject.toml's markers), by test module; a module in neither set is `unit`.
# `pytest -m "not integration"` is the inner loop; CI runs everything.
INTEGRATION = {"test_scrapyd", "test_datasette", "test_datasette_dashboards", "test_report_mermaid",
               "test_report_render", "test_readme", "test_deploy", "test_workflow", "test_bench_smoke",
               "test_checkout_guard"}  # the guard's proof runs pytest itself, in child processes
ENGINE = {"test_backfill", "test_concurrency", "test_crawl_command", "test_crawl_engine", "test_data_api",
          "test_effective", "test_estimate", "test_exit_codes", "test_exporter", "test_faults", "test_faults_data",
          "test_faults_network", "test_history_feed", "test_import_history", "test_legacy", "test_quality",
          "test_report", "test_report_command", "test_monday_series", "test_providers"}
ENGINE |= {"test_archive"}
ENGINE |= {"test_integrity"}
TIER_ORDER = ("integration", "engine", "unit")  # the order they run in: the longest first


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: Any) -> None:
    """The run's temporary folders go to memory (MEMORY) where the machine has it, unless
    ``--basetemp`` says where: every crawl commits to SQLite histories there, and on a disk each
    commit waits for its sync. Before pytest's own configure reads ``basetemp``; xdist's workers
    get their folders inside it. Removed after a run that passed, kept (and named) after one that failed."""
    if config.option.basetemp or hasattr(config, "workerinput") or not os.access(MEMORY, os.W_OK | os.X_OK):
        return
    config.option.basetemp = tempfile.mkdtemp(prefix="orstats-tests-", dir=MEMORY)
    config.stash[IN_MEMORY] = Path(config.option.basetemp)


def pytest_unconfigure(config: Any) -> None:
    folder = config.stash.get(IN_MEMORY, None)
    if folder is None:
        return
    if config.stash.get(PASSED, False):
        for _ in range(3):  # a worker's own last clean-up may still be under way
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                break
            time.sleep(0.1)
    else:
        print(f"\nthe tests' temporary folders are kept in {folder}", file=sys.stderr)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    session.config.stash[PASSED] = exitstatus == 0


def pytest_collection_modifyitems(items: list[Any]) -> None:
    tiers = {}
    for item in items:
        module = item.module.__name__.rpartition(".")[2]
        tier = "integration" if module in INTEGRATION else "engine" if module in ENGINE else "unit"
        item.add_marker(getattr(pytest.mark, tier))
        tiers[item] = tier
    # The long tiers first, each module's tests kept together: the workers end on the short unit tests
    # instead of one of them finishing a long crawl while the other waits.
    items.sort(key=lambda item: TIER_ORDER.index(tiers[item]))


def project_crawler(folder: Path, **settings: Any) -> Any:
    """A crawler outside the engine with the project's settings (their defaults live only there),
    ``settings`` on top; its stats are open. Its history feed opens (and creates) the history when
    the crawler is built, so the history and the report go under ``folder`` (a test's tmp_path)."""
    inside = {"ORSTATS_DB": str(folder / "data" / "history.db"), "ORSTATS_REPORT_DIR": str(folder / "reports")}
    crawler = get_crawler(RankingsSpider, {**get_project_settings().copy_to_dict(), **inside, **settings})
    crawler.stats.open_spider()
    return crawler


def shared_capture(name: str) -> Path:
    """A real capture from ../shared, or skip the test where ../shared is absent."""
    path = CAPTURES / name
    if not (path / "manifest.json").is_file():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(autouse=True)
def no_data_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own OPENROUTER_API_KEY must not send test crawls (in process or `scrapy` child
    processes) to the Data API; the tests of that path set a key of their own."""
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The fault suite's world (tests/test_faults.py ``build_world``): a seeded history and week B,
    built once per test process for the three fault modules, read-only (each fault crawl copies it)."""
    from tests.test_faults import build_world

    return pytest_twisted.blockon(Deferred.fromCoroutine(build_world(tmp_path_factory)))


@pytest.fixture
def demo_snapshot(tmp_path: Path) -> Path:
    return build_snapshot(tmp_path / "snapshot")


@pytest.fixture
def history_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.db"


class CrawlResult:
    """A finished crawl: its scraped items, its stats and the verdict the history feed signalled."""

    def __init__(self, crawler: Any, items: list[Any], verdict: StoredVerdict | None, report: Path | None):
        self.crawler = crawler
        self.items = items
        self.stats = crawler.stats.get_stats()
        self.verdict = verdict
        self.report = report  # the README.md the report extension signalled it wrote

    @property
    def status(self) -> str | None:
        return self.verdict.status if self.verdict else None

    @property
    def crawl_id(self) -> str | None:
        return self.verdict.crawl_id if self.verdict else None

    @property
    def history(self) -> Path:
        return Path(self.crawler.settings.get("ORSTATS_DB"))

    def of(self, cls: type) -> list[Any]:
        return [item for item in self.items if isinstance(item, cls)]


async def crawl(settings: dict[str, Any] | None = None, spider: type = RankingsSpider,
                **spider_args: Any) -> CrawlResult:
    """Run a spider (the rankings spider unless told) through the real engine in this process;
    collect scraped items."""
    project = get_project_settings()
    settings = dict(settings or {})
    if settings.get("ORSTATS_DB"):  # the report goes beside the test's history, never into the repo
        settings.setdefault("ORSTATS_REPORT_DIR", str(Path(settings["ORSTATS_DB"]).parent / "reports"))
    project.setdict({**FAST, **settings}, priority="cmdline")
    runner = CrawlerRunner(project)
    crawler = runner.create_crawler(spider)
    items: list[Any] = []
    verdicts: list[StoredVerdict] = []

    def collect(item: Any) -> None:
        items.append(item)

    def keep_verdict(verdict: StoredVerdict) -> None:
        verdicts.append(verdict)

    def keep_report(crawl_id: str, readme: Path, error: str | None) -> None:
        reports.append(readme)

    reports: list[Path] = []
    crawler.signals.connect(collect, signal=signals.item_scraped)
    crawler.signals.connect(keep_verdict, signal=crawl_verdict)
    crawler.signals.connect(keep_report, signal=report_rendered)
    await runner.crawl(crawler, **spider_args)
    return CrawlResult(crawler, items, verdicts[-1] if verdicts else None, reports[-1] if reports else None)


@pytest.fixture(scope="session")
def capture_2026_08_08(tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    """The real 2026-08-08 capture crawled once per test process at the project's settings (the FAST
    ones), its history and report beside it, for the tests that only read them: a test that writes
    to the history works on a copy."""
    capture = shared_capture("openrouter-2026-08-08")
    history = tmp_path_factory.mktemp("capture-2026-08-08") / "history.db"
    result = pytest_twisted.blockon(Deferred.fromCoroutine(crawl({"ORSTATS_DB": str(history)},
                                                                 snapshot=str(capture))))
    assert result.status == "published"
    return result


def run_scrapy(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 300,
               wrapper: list[str] | None = None, fast: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `scrapy <args>` as a user would, in its own process; returns exit code and output. A
    `crawl` gets the FAST settings unless ``fast=False`` (the project's polite defaults).
    ``wrapper``: a command that runs the rest (``prlimit --fsize=N``, a namespace with its own mounts)."""
    full_env = {**os.environ, "SCRAPY_LOG_LEVEL": "INFO", **(env or {})}
    db = next((arg.split("=", 1)[1] for arg in args if arg.removeprefix("-s").startswith("ORSTATS_DB=")), None)
    if db:  # a `-s ORSTATS_REPORT_DIR=...` still wins over this default: the report beside the history
        full_env.setdefault("ORSTATS_REPORT_DIR", str(Path(db).parent / "reports"))
    full_env.pop("SCRAPY_SETTINGS_MODULE", None)
    crawling = fast and args[:1] == ("crawl",)
    fast_settings = [f"-s{key}={value}" for key, value in FAST.items() if key != "LOG_LEVEL"] if crawling else []
    return subprocess.run([*(wrapper or []), sys.executable, "-m", "scrapy", *args, *fast_settings], cwd=cwd,
                          env=full_env,
                          capture_output=True, text=True, timeout=timeout)


class LastResort(logging.StreamHandler):
    """What Python's logging.lastResort does in a `scrapy` process that configured no logging (a
    command that crawls nothing): WARNING and above, the bare message, on stderr. In the test's
    process pytest's own handlers would keep lastResort from writing."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setLevel(logging.WARNING)


class CrawlsUnderTheTestsReactor(AsyncCrawlerRunner):
    """Stands in for the AsyncCrawlerProcess `scrapy.cmdline` makes, for a command run in the test's
    process (scrapy_here). It logs as that process does (Scrapy's root handler on stderr, in place of
    the last resort), but pytest-twisted's reactor is already running: start() hands the crawls to
    scrapy_here to wait for under it, instead of running a reactor of its own."""

    def __init__(self, settings: Any):
        super().__init__(settings)
        logging.root.handlers[:] = [h for h in logging.root.handlers if not isinstance(h, LastResort)]
        install_scrapy_root_handler(self.settings)

    def start(self, *args: Any, **kwargs: Any) -> None:
        greenlet.getcurrent().parent.switch(deferred_from_coro(self.join()))


@contextmanager
def command_output() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """The stdout and stderr of a command run in the block, its log included; the root logger, and
    Scrapy's record of its root handler, as they were afterwards."""
    stdout, stderr = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with redirect_stdout(stdout), redirect_stderr(stderr), mock.patch.object(scrapy_log, "_scrapy_root_handler", None):
        root.addHandler(LastResort())
        try:
            yield stdout, stderr
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)


def execute_command(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """scrapy.cmdline.execute(argv): its exit code, and what it wrote (stderr: its log and argparse's errors)."""
    code: Any = 0
    with mock.patch.object(cmdline, "AsyncCrawlerProcess", CrawlsUnderTheTestsReactor), \
            command_output() as (stdout, stderr):
        try:
            cmdline.execute(list(argv))  # it takes the command name out of the list it is given
        except SystemExit as ended:  # how execute() always ends
            code = ended.code
    return subprocess.CompletedProcess(argv, code or 0, stdout.getvalue(), stderr.getvalue())


def resume(command: greenlet.greenlet, *args: Any) -> Any:
    """Switch into ``command`` until it waits for its crawls (a Deferred) or ends (its result); it
    comes back here, whichever greenlet (the test's or the reactor's) this is."""
    command.parent = greenlet.getcurrent()
    return command.switch(*args)


async def scrapy_here(*args: str, fast: bool = True) -> subprocess.CompletedProcess[str]:
    """`scrapy <args>` as run_scrapy runs it (a `crawl` with the FAST settings unless ``fast=False``: the
    project's polite defaults), through Scrapy's own
    command line (scrapy.cmdline.execute: the project's commands, their options, usage errors and exit
    code), but in this process: a second or two less per command than starting Python, Scrapy and
    Twisted again. The command runs in a greenlet of its own, so that its blocking start() can wait
    for the crawls while the test's reactor runs them. A few tests of the command line run the real
    process (run_scrapy)."""
    fast_settings = [f"-s{key}={value}" for key, value in FAST.items() if key != "LOG_LEVEL"]
    command = greenlet.greenlet(execute_command)
    step = resume(command, ["scrapy", *args, *(fast_settings if fast and args[:1] == ("crawl",) else [])])
    while isinstance(step, Deferred):
        await step
        step = resume(command)
    return step


def command_here(*args: str) -> subprocess.CompletedProcess[str]:
    """scrapy_here for a fixture: fixtures run outside the reactor and can wait for it (a test runs
    inside it, and awaits scrapy_here)."""
    return pytest_twisted.blockon(Deferred.fromCoroutine(scrapy_here(*args)))


@pytest.fixture
def replay_server():
    """Start a loopback HTTP server replaying a snapshot folder: ``replay_server(path, handler=...)``."""
    servers: list[ReplayServer] = []

    def start(folder: Path, handler: type[ReplayHandler] = ReplayHandler, latency_ms: float = 0) -> ReplayServer:
        server = ReplayServer(Snapshot(folder), port=0, latency_ms=latency_ms, handler=handler).start_background()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def pytest_collection_finish(session: Any) -> None:
    """What the run imported and collected lives until its end: frozen out of the garbage collector's
    passes, which otherwise walk all of it again and again during each crawl; and the crawls' many
    short-lived objects collected less often. Memory is not short here; CPU is."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
