"""Network faults, through the fault suite's world (tests/test_faults.py): redirects on every source,
to another host and within the site, with the Data API's key in the environment; an answer that
echoes the key; a site that cannot be reached at all (a closed port at the polite defaults).

"Another host" is a second loopback server on another port: an origin is scheme, host and port
(middlewares/hosts.py). For every crawl: the exit code, the stored verdict, the previously published
week unchanged row by row (and the report's bytes when rejected), not one request at the other
host, and the key in no stored byte, log line or stat.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import socket
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted
from scrapy.http import Request, TextResponse
from scrapy.utils.project import get_project_settings
from sqlite_utils import Database

from orstats_crawler.commands.crawl import EXIT_ERROR, EXIT_PUBLISHED, EXIT_REJECTED
from orstats_crawler.credentials import KEY_ENV, REDACTED
from orstats_crawler.raw_responses import archived
from orstats_crawler.snapshots.reader import Snapshot
from orstats_crawler.snapshots.server import ReplayHandler, ReplayServer
from orstats_crawler.sources import data_api
from orstats_crawler.spiders.rankings import CHART_PATH, EFFECTIVE_PATH, LEADERBOARD_PATH
from orstats_crawler.sources.legacy import RANKINGS_PAGE_PATH
from tests.conftest import scrapy_here
from tests.test_data_api import FakeDataApi
from tests.test_faults import (ACTIVITY, CATALOGUE, FAST_RETRIES, SMALL, FaultHandler, Run, assert_nothing_lost,
                               copy_history, fault_crawl, state)

__all__ = ["fault_crawl"]  # the fault suite's fixture, used here by name (its world: tests/conftest.py)

KEY = "sk-or-v1-network-fault-0123456789abcdef"
MOVED = "/moved"  # a redirect within the site points here; the path after it is served as itself
WINDOW_DAYS = 5
WINDOWS = 3
REDIRECTS = (301, 302, 307)


def today() -> date:
    return datetime.now(timezone.utc).date()  # the spider's clock for the Data API's windows


def window_days() -> list[str]:
    """Every day the Data API is asked for: WINDOWS windows of WINDOW_DAYS, up to yesterday."""
    return [(today() - timedelta(days=d)).isoformat() for d in range(1, WINDOWS * WINDOW_DAYS + 1)]


def newest_window(path: str) -> bool:
    return (urlsplit(path).path == data_api.PATH
            and parse_qs(urlsplit(path).query)["end_date"] == [(today() - timedelta(days=1)).isoformat()])


DATA_API_ARGS = (f"-sORSTATS_DATA_API_START={window_days()[-1]}", f"-sORSTATS_DATA_API_WINDOW_DAYS={WINDOW_DAYS}",
                 "-sORSTATS_DATA_API_INTERVAL=0.05")

# What each source's redirected request is: one request of each source (a single model-variant's
# for the per-model sources, the newest window for the Data API).
SOURCES: dict[str, Callable[[str], bool]] = {
    "prices": lambda p: p == CATALOGUE,
    "prices_all_modalities": lambda p: p == CATALOGUE + "?output_modalities=all",
    "leaderboard": lambda p: p == LEADERBOARD_PATH,
    "chart": lambda p: p == CHART_PATH,
    "activity": lambda p: p.startswith(ACTIVITY) and SMALL in p,
    "effective": lambda p: p.startswith(EFFECTIVE_PATH) and SMALL in p,
    "data_api": newest_window,
    "leaderboard_page": lambda p: p == RANKINGS_PAGE_PATH,  # asked once the leaderboard answered 404
}
STORED_AS = {"prices_all_modalities": "prices"}  # both catalogues' problems are the prices source's


class NetworkHandler(FaultHandler):
    """The week-B snapshot, the Data API answered by a fake that wants the key, and for the paths
    ``picks`` chooses a ``status`` redirect: to ``other`` (a base URL), or within this site
    (``other`` empty) under MOVED. Every request's Authorization header is recorded."""

    status = 301
    other = ""
    picks: Callable[[str], bool] = staticmethod(lambda path: False)
    leaderboard_down = False

    def inject(self, path, attempt):
        server = self.server
        with server.lock:
            server.__dict__.setdefault("authorizations", []).append((path, self.headers.get("Authorization")))
        moved = path.startswith(MOVED + "/")
        original = path.removeprefix(MOVED) if moved else path
        if not moved and self.picks(path):
            base = self.other or server.base_url + MOVED
            return self.status, {"Location": base + path, "Content-Type": "text/plain"}, b"moved\n"
        if self.leaderboard_down and original == LEADERBOARD_PATH:
            return 404, {"Content-Type": "text/plain"}, b"not here\n"
        if urlsplit(original).path == data_api.PATH:
            return self.data_api(original)
        return ReplayHandler.respond(self, original) if moved else None

    def data_api(self, path: str) -> tuple[int, dict[str, str], bytes]:
        fake = self.server.__dict__.setdefault("fake", FakeDataApi(key=KEY))
        return fake.answer(path, self.headers.get("Authorization"))


def handler(status: int = 301, other: str = "", picks: Callable[[str], bool] = lambda p: False,
            leaderboard_down: bool = False) -> type[NetworkHandler]:
    return type("Handler", (NetworkHandler,), {"status": status, "other": other, "picks": staticmethod(picks),
                                               "leaderboard_down": leaderboard_down})


class OtherHost(ReplayHandler):
    """The other host: serves the same week (a crawl that followed would publish happily) and
    records each request with its Authorization header."""

    def respond(self, path):
        with self.server.lock:
            self.server.__dict__.setdefault("seen", []).append((path, self.headers.get("Authorization")))
        return super().respond(path)


@pytest.fixture
def other_host(world):
    server = ReplayServer(Snapshot(world.week_b), port=0, handler=OtherHost).start_background()
    server.seen = []
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)  # the `scrapy` child process inherits it


# --- what every network crawl must leave behind ---------------------------------------------------

@dataclass
class Seen:
    run: Run
    folder: Path

    @property
    def db(self) -> Database:
        return Database(self.folder / "history.db")

    def problems(self, source: str) -> list[dict]:
        return list(self.db.query("select * from problems where crawl_id = ? and source = ?",
                                  [self.run.crawl["id"], source]))


def published_weeks(history: Path, seed: Path) -> dict[str, list[dict]]:
    """The weeks the seed history shows, as readers of ``history`` see them, row by row."""
    weeks = sorted({r["week_end"] for r in Database(seed)["weeks"].rows})
    db = Database(history)
    where = f"week_end in ({', '.join('?' * len(weeks))})"
    return {view: sorted((r for r in db.query(f"select * from {view} where {where}", weeks)),
                         key=lambda r: json.dumps(r, sort_keys=True, default=str))
            for view in ("weekly_revenue", "weekly_totals")}


def assert_published_weeks_unchanged(history: Path, seed: Path) -> None:
    shown = published_weeks(seed, seed)
    assert shown["weekly_revenue"], "the seed shows a published week"
    assert published_weeks(history, seed) == shown


def stored_text(folder: Path) -> bytes:
    """Every byte the crawl left: the history (raw bodies unzipped), its side files, the report."""
    history = folder / "history.db"
    bodies = b"".join(gzip.decompress(row["body_gz"]) for row in Database(history)["response_bodies"].rows)
    files = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    return files + bodies


def assert_key_nowhere(seen: Seen) -> None:
    assert KEY not in seen.run.process.stderr + seen.run.process.stdout
    assert KEY not in json.dumps(seen.run.stats)
    assert KEY.encode() not in stored_text(seen.folder)


def assert_guarded(seen: Seen, world, other: ReplayServer) -> None:
    """The common outcome: nothing at the other host, nothing lost, the key nowhere."""
    assert other.seen == []
    assert_nothing_lost(seen.run)
    assert_published_weeks_unchanged(seen.folder / "history.db", world.seed / "history.db")
    assert_key_nowhere(seen)


def key_sent_only_to_the_data_api(server: ReplayServer) -> None:
    sent = [(path, auth) for path, auth in server.authorizations if auth]
    assert sent, "the Data API was asked with the key"
    assert all(urlsplit(path.removeprefix(MOVED)).path == data_api.PATH and auth == f"Bearer {KEY}"
               for path, auth in sent)


async def network_crawl(fault_crawl, tmp_path, handler_class, *args) -> tuple[Seen, ReplayServer]:
    run, server = await fault_crawl(handler_class, *DATA_API_ARGS, *args)
    return Seen(run, sorted(tmp_path.glob("run*"))[-1]), server


def stored_days(seen: Seen) -> set[str]:
    return {r["day"] for r in seen.db.query("select distinct day from dataset_daily")}


# --- redirects to another host: a problem of the source, never followed ---------------------------

# Exit code, stored status and the checks that differ from a clean run of the week.
REFUSED = {
    "prices": (EXIT_PUBLISHED, "published", {"structure_prices": "flag"}),
    "prices_all_modalities": (EXIT_PUBLISHED, "published", {"structure_prices": "flag"}),
    "leaderboard": (EXIT_REJECTED, "rejected", None),
    # no chart: its own checks have nothing to look at
    "chart": (EXIT_PUBLISHED, "published",
              {"structure_chart": "flag", "chart_totals": "skip", "chart_history": "skip", "chart_week": "skip",
               "chart_partial": "skip"}),
    "activity": (EXIT_PUBLISHED, "published", {"structure_activity": "flag"}),
    # no effective prices: the headline would switch to list prices for the whole spend
    "effective": (EXIT_REJECTED, "rejected", {"structure_effective": "flag", "basis_switch": "fail"}),
    "data_api": (EXIT_PUBLISHED, "published", {"structure_data_api": "flag"}),
    "leaderboard_page": (EXIT_REJECTED, "rejected", None),
}


# The guard treats every redirect code alike: each source meets one of them (each code at least twice),
# the Data API all three, as its key must follow none of them to another host.
CROSS_HOST = [(source, REDIRECTS[n % len(REDIRECTS)]) for n, source in enumerate(s for s in SOURCES if s != "data_api")]
CROSS_HOST += [("data_api", status) for status in REDIRECTS]


@pytest.mark.parametrize("source, status", CROSS_HOST, ids=[f"{source}-{status}" for source, status in CROSS_HOST])
@pytest_twisted.ensureDeferred
async def test_a_redirect_to_another_host_is_a_problem_of_its_source_never_followed(
        source, status, world, fault_crawl, other_host, keyed, tmp_path):
    redirecting = handler(status, other_host.base_url, SOURCES[source], leaderboard_down=source == "leaderboard_page")
    seen, server = await network_crawl(fault_crawl, tmp_path, redirecting)
    run = seen.run
    code, outcome, changed = REFUSED[source]
    assert run.process.returncode == code, run.process.stderr[-3000:]
    assert run.crawl["status"] == outcome
    if changed is not None:
        assert run.changed(world.baseline) == changed
    else:
        assert run.checks["structure_leaderboard"]["result"] == "fail"
    [refused] = [p for p in seen.problems(STORED_AS.get(source, source)) if "RedirectRefused" in p["message"]]
    asked = next(path for path, _ in server.authorizations if SOURCES[source](path))
    assert refused["url"] == server.base_url + asked and refused["status"] == status
    assert f"HTTP {status} from {refused['url']} to Location {other_host.base_url}{asked}" in refused["message"]
    assert "another host" in refused["message"] and f"exit code {code}" in run.process.stderr
    if source == "data_api":  # the turn was given back: the other windows were fetched
        assert len(server.fake.calls) == WINDOWS - 1
        assert stored_days(seen) == set(window_days()[WINDOW_DAYS:])
    key_sent_only_to_the_data_api(server)
    assert_guarded(seen, world, other_host)


# --- redirects within the site: followed, the week as if nothing happened ------------------------

@pytest.mark.parametrize("status", REDIRECTS)
@pytest_twisted.ensureDeferred
async def test_redirects_within_the_site_are_followed_on_every_source(status, world, fault_crawl, other_host, keyed,
                                                                tmp_path):
    every = [picks for name, picks in SOURCES.items() if name != "leaderboard_page"]
    redirecting = handler(status, picks=lambda p: any(pick(p) for pick in every))
    seen, server = await network_crawl(fault_crawl, tmp_path, redirecting)
    run = seen.run
    assert run.process.returncode == EXIT_PUBLISHED, run.process.stderr[-3000:]
    assert run.crawl["status"] == "published" and run.changed(world.baseline) == {}
    followed = {path.removeprefix(MOVED) for path, _ in server.authorizations if path.startswith(MOVED)}
    assert all(any(pick(path) for path in followed) for pick in every)  # one followed redirect per source
    assert stored_days(seen) == set(window_days())  # every window, the redirected one included
    assert len(server.fake.calls) == server.fake.answered == WINDOWS
    newest = [(path, auth) for path, auth in server.authorizations if newest_window(path.removeprefix(MOVED))]
    assert [path.startswith(MOVED) for path, _ in newest] == [False, True]  # redirected, then followed...
    assert {auth for _, auth in newest} == {f"Bearer {KEY}"}  # ...with the key again, within the site
    key_sent_only_to_the_data_api(server)
    assert not [p for p in seen.db["problems"].rows if "Refused" in p["message"] or MOVED in p["url"]]
    assert_guarded(seen, world, other_host)


@pytest.mark.parametrize("status", REDIRECTS)
@pytest_twisted.ensureDeferred
async def test_a_redirect_of_the_legacy_page_within_the_site_is_followed(status, world, fault_crawl, other_host, keyed,
                                                                   tmp_path):
    """The `/rankings` page (asked once the leaderboard failed) redirected within the site: followed,
    to what the site has there (nothing, in week B's snapshot: rejected either way)."""
    redirecting = handler(status, picks=SOURCES["leaderboard_page"], leaderboard_down=True)
    seen, server = await network_crawl(fault_crawl, tmp_path, redirecting)
    assert seen.run.process.returncode == EXIT_REJECTED and seen.run.crawl["status"] == "rejected"
    assert MOVED + RANKINGS_PAGE_PATH in [path for path, _ in server.authorizations]
    [page] = seen.problems("leaderboard_page")
    assert page["message"] == "HTTP 404" and page["url"] == server.base_url + MOVED + RANKINGS_PAGE_PATH
    assert_guarded(seen, world, other_host)


# --- any request for another host: refused before it leaves -------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_meta_refresh_to_another_host_is_refused_before_robots_txt_asks_it(world, fault_crawl, other_host,
                                                                                   keyed, tmp_path):
    page = (f'<html><head><meta http-equiv="refresh" content="0;url={other_host.base_url}/rankings">'
            "</head></html>").encode()

    class MetaRefresh(NetworkHandler):
        leaderboard_down = True

        def inject(self, path, attempt):
            if path == RANKINGS_PAGE_PATH:
                return 200, {"Content-Type": "text/html"}, page
            return super().inject(path, attempt)

    seen, server = await network_crawl(fault_crawl, tmp_path, MetaRefresh)
    assert seen.run.process.returncode == EXIT_REJECTED and seen.run.crawl["status"] == "rejected"
    [refused] = [p for p in seen.problems("leaderboard_page") if "OtherHostRefused" in p["message"]]
    assert refused["url"] == f"{other_host.base_url}/rankings"
    assert f"is on {other_host.base_url}, not the configured {server.base_url}: not sent" in refused["message"]
    assert f"(a redirect from {server.base_url}{RANKINGS_PAGE_PATH})" in refused["message"]
    assert seen.run.stats["orstats/hosts/refused"] == 1
    assert_guarded(seen, world, other_host)  # not even its robots.txt


@pytest_twisted.ensureDeferred
async def test_with_both_host_guards_off_the_data_api_still_sends_its_key_nowhere_else(world, fault_crawl, other_host,
                                                                                 keyed, tmp_path):
    """The last line: DataApiMiddleware adds the key only for the configured host."""
    middlewares = get_project_settings().getdict("DOWNLOADER_MIDDLEWARES")
    for guard in ("HostGuardMiddleware", "RedirectGuardMiddleware"):
        middlewares[f"orstats_crawler.middlewares.hosts.{guard}"] = None
    middlewares["scrapy.downloadermiddlewares.redirect.RedirectMiddleware"] = 600  # redirects followed, unguarded
    seen, server = await network_crawl(fault_crawl, tmp_path, handler(307, other_host.base_url, newest_window),
                         f"-sDOWNLOADER_MIDDLEWARES={json.dumps(middlewares)}")
    assert seen.run.process.returncode == EXIT_PUBLISHED
    [refused] = [p for p in seen.problems("data_api") if "OtherHostRefused" in p["message"]]
    assert refused["url"].startswith(other_host.base_url + data_api.PATH)
    assert [path for path, _ in other_host.seen] == ["/robots.txt"]  # Scrapy's robots.txt, never the Data API
    assert all(auth is None for _, auth in other_host.seen)
    assert stored_days(seen) == set(window_days()[WINDOW_DAYS:])
    key_sent_only_to_the_data_api(server)
    assert_key_nowhere(seen)


# --- an answer that echoes the key ----------------------------------------------------------------

class Echo(NetworkHandler):
    """The Data API echoes the Authorization it got: in a body field and a header (newest window),
    in a value the decoder quotes in its problem (the middle one), in a 400's text (the oldest)."""

    def data_api(self, path):
        status, headers, body = super().data_api(path)
        auth = self.headers.get("Authorization") or ""
        ends = sorted({(today() - timedelta(days=1 + WINDOW_DAYS * n)).isoformat() for n in range(WINDOWS)})
        end = parse_qs(urlsplit(path).query)["end_date"][0]
        payload = json.loads(body)
        if end == ends[2]:
            payload["meta"]["echo"] = auth
            return status, {**headers, "X-Echo": auth}, json.dumps(payload).encode()
        if end == ends[1]:
            payload["data"][0]["total_tokens"] = auth
            return status, headers, json.dumps(payload).encode()
        return 400, {"Content-Type": "text/plain"}, f"bad request from {auth}\n".encode()


@pytest_twisted.ensureDeferred
async def test_an_answer_that_echoes_the_key_is_scrubbed_before_anything_keeps_it(world, fault_crawl, other_host, keyed,
                                                                            tmp_path):
    record = tmp_path / "recorded"
    seen, server = await network_crawl(fault_crawl, tmp_path, Echo, "-a", f"record={record}")
    assert seen.run.process.returncode == EXIT_PUBLISHED, seen.run.process.stderr[-3000:]
    assert len(server.fake.calls) == WINDOWS  # each window was sent the key, and echoed it
    marker = REDACTED.decode()
    bodies = {r["url"]: gzip.decompress(r["body_gz"]).decode() for r in seen.db.query(
        "select url, body_gz from responses join response_bodies using (sha256) where crawl_id = ?",
        [seen.run.crawl["id"]]) if data_api.PATH in r["url"]}
    assert len(bodies) == WINDOWS and all(f"Bearer {marker}" in body for body in bodies.values())
    decoded, failed = sorted(seen.problems("data_api"), key=lambda p: p["message"] == "HTTP 400")
    assert f"'Bearer {marker}' is not a count" in decoded["message"] and failed["message"] == "HTTP 400"
    recorded = b"".join(p.read_bytes() for p in record.rglob("*") if p.is_file())
    assert f"Bearer {marker}".encode() in recorded and KEY.encode() not in recorded
    assert_guarded(seen, world, other_host)


def test_the_archive_scrubs_a_body_and_content_type_that_carry_the_key(keyed):
    """The raw archive's own scrub, under the middleware's: whatever reaches it loses the key."""
    request = Request("http://127.0.0.1/api/v1/datasets/rankings-daily")
    response = TextResponse(request.url, status=200, body=f'{{"echo": "Bearer {KEY}"}}'.encode(),
                            headers={"Content-Type": f"application/json; echo={KEY}"}, request=request)
    kept = archived(response, request)
    assert kept.body == b'{"echo": "Bearer ' + REDACTED + b'"}'
    assert kept.content_type == f"application/json; echo={REDACTED.decode()}"


# --- a site that cannot be reached: exit 1 in seconds, at the polite defaults ---------------------
# but a short retry backoff: what the retries ask is counted here; how long they wait is
# test_faults.py's (Retry-After, backoff) and the settings' (ORSTATS_UNREACHABLE_RETRIES: 2 + 4 s).
# A name that does not resolve is tried at the tests' own settings (FAST): what it adds is how the
# failure is told, not the pace.


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def logged_stat(log: str, name: str) -> int:
    """A count from the stats Scrapy logs when a crawl closes."""
    found = re.search(rf"'{re.escape(name)}': (\d+),", log)
    assert found, f"{name} not in the logged stats"
    return int(found[1])


@pytest.mark.parametrize("where, polite", [("closed port", True), ("unresolvable name", False)])
@pytest_twisted.ensureDeferred
async def test_an_unreachable_site_ends_the_crawl_with_exit_1_in_seconds(where, polite, world, tmp_path, capsys):
    base = f"http://127.0.0.1:{closed_port()}" if where == "closed port" else "http://nonexistent.invalid"
    history, reports = tmp_path / "history.db", tmp_path / "reports"
    copy_history(world.seed / "history.db", history)
    shutil.copytree(world.seed / "reports", reports)
    before = state(history, reports)
    known = {r["id"] for r in Database(history)["crawls"].rows}
    started = time.monotonic()
    process = await scrapy_here("crawl", "rankings", f"-sOPENROUTER_BASE_URL={base}", f"-sORSTATS_DB={history}",
                                f"-sORSTATS_REPORT_DIR={reports}", FAST_RETRIES, fast=not polite)
    took = time.monotonic() - started
    with capsys.disabled():
        pace = f"the polite defaults ({FAST_RETRIES})" if polite else "the tests' settings"
        print(f"\n{where}: `scrapy crawl rankings` at {pace} ended in {took:.1f} s")
    host = urlsplit(base).netloc
    last = process.stderr.strip().splitlines()[-1]
    assert process.returncode == EXIT_ERROR, process.stderr[-3000:]
    assert f"exit code 1: could not reach {host} (" in last
    assert ("Connection was refused" if where == "closed port" else "DNS lookup failed") in last
    assert "Traceback" not in process.stderr
    # not the minutes of retries it took before: robots.txt and one URL with its retries, nothing more
    retries = get_project_settings().getint("RETRY_TIMES")
    assert logged_stat(process.stderr, "retry/count") <= retries
    assert logged_stat(process.stderr, "downloader/request_count") <= retries + 2
    [crawl] = [r for r in Database(history)["crawls"].rows if r["id"] not in known]
    checks = {c["name"]: c for c in json.loads(crawl["checks"])}
    assert crawl["status"] == "rejected" and "unreachable" in checks["crawl_finished"]["message"]
    assert state(history, reports)["weeks"] == before["weeks"]
    assert state(history, reports)["report"] == before["report"]
    assert_published_weeks_unchanged(history, world.seed / "history.db")
