"""`scrapy crawl archive` against a loopback fake of the Wayback Machine (tests/archive_fake.py): the
spider's requests, the archived weeks and dated catalogues it stores, what a second run asks for, the
problem each bad copy leaves, and how archived weeks live beside the crawl's own."""

from __future__ import annotations

import json
from datetime import date
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted
from scrapy.settings import Settings
from sqlite_utils import Database

from orstats_crawler.archive_selection import (CATALOGUE, LEADERBOARD, MODEL_PAGE, Source, choose, choose_pages,
                                               mondays, new_weeks)
from orstats_crawler.history.price_history import BEFORE, PriceHistory
from orstats_crawler.items import LeaderboardRow
from orstats_crawler.middlewares.hosts import ConfiguredHosts
from orstats_crawler.sources import SourceError
from orstats_crawler.sources.cdx import Capture, capture_of, cdx_url, copy_url, decode_cdx
from orstats_crawler.sources.legacy import decode_rankings_page
from orstats_crawler.spiders.archive import ArchiveSpider
from tests.archive_fake import (ALL_MODELS, MODELS, RANKINGS, RETIRED, FakeArchive, FakeArchiveServer, FakeCopy,
                                catalogue_copy, error_page, leaderboard_copy, model_page_copy, real_page_scenario,
                                weeks_scenario)
from tests.conftest import crawl, run_scrapy, scrapy_here, shared_capture
from tests.factory import SEED_MODELS

SCENARIO_WEEKS = {"since": "2026-06-29", "until": "2026-08-02"}


@pytest.fixture
def fake_archive():
    servers: list[FakeArchiveServer] = []

    def start(archive: FakeArchive) -> FakeArchiveServer:
        servers.append(FakeArchiveServer(archive).start_background())
        return servers[-1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


async def archive_crawl(server: FakeArchiveServer, history: Path, **arguments: str):
    return await crawl({"ORSTATS_DB": str(history), "ORSTATS_ARCHIVE_URL": server.url, "ROBOTSTXT_OBEY": False},
                       spider=ArchiveSpider, **arguments)


def archived_weeks(history: Path) -> dict[str, dict]:
    return {row["id"]: row for row in Database(history).query(
        "SELECT id, status, era, week_start, week_end, base_url, started_at, models_ranked FROM crawls "
        "WHERE id LIKE 'archive:%' ORDER BY id")}


# --- the CDX API and the choice of copies --------------------------------------------------------

def test_cdx_answers_and_copy_urls():
    url = cdx_url("https://web.archive.org/", MODELS, date(2026, 6, 29), date(2026, 7, 12))
    assert url.startswith("https://web.archive.org/cdx/search/cdx?url=https%3A%2F%2Fopenrouter.ai%2Fapi%2Fv1%2Fmodels&")
    assert "from=20260629" in url and "to=20260712" in url and "output=json" in url
    body = ('[["timestamp","original","statuscode","mimetype","digest"],'
            '["20260701120000","https://openrouter.ai/api/v1/models","200","application/json","AAA"]]')
    [capture] = decode_cdx(body, url)
    assert capture.day == date(2026, 7, 1) and capture.holds_content
    assert copy_url("https://web.archive.org", capture) == \
        "https://web.archive.org/web/20260701120000id_/https://openrouter.ai/api/v1/models"
    assert capture_of(copy_url("http://127.0.0.1:1", capture)) == (capture.timestamp, capture.original)
    assert decode_cdx("[]", url) == []
    for bad, field in (('{"error": "busy"}', "rows"), ('[["timestamp"]]', "rows[0]"),
                       ('[["timestamp","original","statuscode","mimetype","digest"],["2026","x","200","a","b"]]',
                        "rows[1].timestamp")):
        with pytest.raises(SourceError) as error:
            decode_cdx(bad, url)
        assert (error.value.source, error.value.field) == ("archive", field)


def capture(original: str, stamp: str, status: str = "200") -> Capture:
    return Capture(stamp, original, status, "text/html", "D" + stamp)


def test_a_week_takes_the_first_leaderboard_after_it_and_its_latest_catalogue():
    board, models = Source(LEADERBOARD, RANKINGS), Source(CATALOGUE, MODELS)
    found = {board: [capture(RANKINGS, "20260705120000"), capture(RANKINGS, "20260708120000"),
                     capture(RANKINGS, "20260707120000", "302"), capture(RANKINGS, "20260709000000")],
             models: [capture(MODELS, "20260630120000"), capture(MODELS, "20260702120000"),
                      capture(MODELS, "20260707120000")]}
    weeks = choose(found, mondays(date(2026, 6, 29), date(2026, 7, 8)), set())
    first, second = weeks
    assert first.monday == date(2026, 6, 29)
    # the leaderboard: the first copy holding the page after the week's end (not the 302 before it)
    assert dict((s.kind, c.timestamp) for s, c in first.copies) == {LEADERBOARD: "20260708120000",
                                                                     CATALOGUE: "20260702120000"}
    # a catalogue copy inside a week is that week's own, never the week before's fallback
    assert [(s.kind, c.timestamp) for s, c in second.copies] == [(CATALOGUE, "20260707120000")]
    # a copy known bad is never chosen again: the next one is
    again = choose(found, [date(2026, 6, 29)], {(RANKINGS, "20260708120000")})
    assert dict((s.kind, c.timestamp) for s, c in again[0].copies)[LEADERBOARD] == "20260709000000"
    # model pages: the fewest copies whose 89 complete days cover the weeks any copy can
    page, permaslug = (Source(MODEL_PAGE, "/m", permaslug="a/m", variant="standard"),
                       Source(MODEL_PAGE, "/a/m-1", permaslug="a/m", variant="standard"))
    pages = {page: [capture("/m", "20260727120000"), capture("/m", "20261027120000")],
             permaslug: [capture("/a/m-1", "20260720120000")]}
    parts = choose_pages(pages, mondays(date(2026, 6, 29), date(2026, 10, 20)), set())
    assert [(p.monday, [c.timestamp for _, c in p.copies]) for p in parts] == [
        (date(2026, 6, 29), ["20260727120000"]), (date(2026, 8, 3), ["20261027120000"])]  # 07-27's week: no copy
    # only a week holding a copy the history lacks is fetched
    known = {(c.original, c.timestamp) for _, c in first.copies}
    assert new_weeks(weeks, known) == [second]


# --- the spider against the fake archive ---------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_archive_run_stores_each_week_the_fake_holds_and_asks_only_for_new_copies(tmp_path, fake_archive):
    archive = weeks_scenario()
    server = fake_archive(archive)
    history = tmp_path / "data" / "history.db"
    result = await archive_crawl(server, history, **SCENARIO_WEEKS)
    assert result.status == "published", result.verdict

    # requests: three CDX queries, then one request per chosen copy; the duplicate catalogue rows
    # (same bytes, one listed twice) cost one request, the recorded redirect the CDX lists none
    assert len(archive.cdx_requests()) == 3
    assert sorted(archive.copy_requests()) == sorted([
        "/web/20260706093000id_/https://openrouter.ai/rankings",
        "/web/20260703120000id_/https://openrouter.ai/api/v1/models",
        "/web/20260702080000id_/https://openrouter.ai/api/v1/models?output_modalities=all",
        "/web/20260713101500id_/https://openrouter.ai/rankings",
        "/web/20260710120000id_/https://openrouter.ai/api/v1/models",
        "/web/20260717120000id_/https://openrouter.ai/api/v1/models",
        "/web/20260808070000id_/https://openrouter.ai/rankings",
        "/web/20260801120000id_/https://openrouter.ai/api/v1/models",
    ])

    db = Database(history)
    weeks = archived_weeks(history)
    assert set(weeks) == {"archive:2026-06-29", "archive:2026-07-06", "archive:2026-07-13", "archive:2026-07-27"}
    assert {w["era"] for w in weeks.values()} == {"archive"}
    # the weeks with a leaderboard: the 7 days their copy covers, its provenance on the crawl row
    week_a, week_e = weeks["archive:2026-06-29"], weeks["archive:2026-07-27"]
    assert (week_a["week_start"], week_a["week_end"], week_a["status"]) == ("2026-06-29", "2026-07-05", "published")
    assert week_a["base_url"] == f"{server.url}/web/20260706093000id_/https://openrouter.ai/rankings"
    assert week_a["started_at"].startswith("2026-07-06T09:30:00")
    assert (week_e["week_start"], week_e["week_end"], week_e["status"]) == ("2026-08-01", "2026-08-07", "published")
    assert week_a["models_ranked"] == len(SEED_MODELS) + 1 and week_e["models_ranked"] == len(SEED_MODELS)
    # the weeks whose leaderboard copy was bad: their catalogue only, no week of rows
    for crawl_id in ("archive:2026-07-06", "archive:2026-07-13"):
        assert weeks[crawl_id]["week_end"] is None and weeks[crawl_id]["status"] == "published"
    shown = {r["week_end"]: r["crawl_id"] for r in db.query("SELECT week_end, crawl_id FROM weeks")}
    assert shown == {"2026-07-05": "archive:2026-06-29", "2026-08-07": "archive:2026-07-27"}

    # the leaderboard rows: the page's own split, priced with the week's archived catalogue
    rows = {r["permaslug"]: r for r in db.query("SELECT * FROM model_weeks WHERE crawl_id = 'archive:2026-06-29'")}
    assert {r["split_source"] for r in rows.values()} == {"archived"}
    sonnet = SEED_MODELS[0]
    assert (rows[sonnet.permaslug]["cached_tokens"], rows[sonnet.permaslug]["reasoning_tokens"]) == \
        (sonnet.cached, sonnet.reasoning)
    assert rows[sonnet.permaslug]["prompt_price"] == pytest.approx(float(sonnet.pricing["prompt"]))
    assert rows[sonnet.permaslug]["price_observed_on"] == "2026-07-03"

    # dated catalogues: every archived catalogue's entries, dated by their copy's capture day
    observed = {r["crawl_id"]: r["observed_on"] for r in db.query(
        "SELECT DISTINCT crawl_id, observed_on FROM prices WHERE crawl_id LIKE 'archive:%'")}
    assert observed == {"archive:2026-06-29": "2026-07-03", "archive:2026-07-06": "2026-07-10",
                        "archive:2026-07-13": "2026-07-17", "archive:2026-07-27": "2026-08-01"}

    # a problem per bad copy, naming its archive URL; the copies recorded, good and bad
    problems = {r["url"].removeprefix(server.url): r for r in db.query(
        "SELECT url, source, field, message, status FROM problems WHERE crawl_id LIKE 'archive:%'")}
    redirect = problems["/web/20260702080000id_/https://openrouter.ai/api/v1/models?output_modalities=all"]
    assert redirect["source"] == "prices" and redirect["status"] == 302 and "redirect" in redirect["message"]
    error = problems["/web/20260713101500id_/https://openrouter.ai/rankings"]
    assert error["source"] == "leaderboard" and "404: This page could not be found." in error["message"]
    listed = problems["/web/20260720101500id_/https://openrouter.ai/rankings"]
    assert listed["status"] == 302 and "HTTP 302" in listed["message"]
    assert len(problems) == 3
    copies = {(r["kind"], r["captured_at"][:10], r["status"]) for r in db.query("SELECT * FROM archive_copies")}
    assert ("catalogue", "2026-07-02", "problem") in copies and ("leaderboard", "2026-07-20", "problem") in copies
    assert len(copies) == 9  # 8 fetched, 1 the CDX said was a redirect

    # a second run asks the CDX again (now for the pages of the model-variants the history knows
    # too, under both their names), and for nothing else
    archive.requests.clear()
    again = await archive_crawl(server, history, **SCENARIO_WEEKS)
    assert again.status == "published"
    pages = {f"{RANKINGS.removesuffix('/rankings')}/{name}" for m in [*SEED_MODELS, RETIRED]
             for name in (m.public_id, m.permaslug + ("" if m.variant == "standard" else f":{m.variant}"))}
    asked = {parse_qs(urlsplit(path).query)["url"][0] for path in archive.cdx_requests()}
    assert asked == {RANKINGS, MODELS, ALL_MODELS, *pages} and len(archive.cdx_requests()) == len(asked)
    assert archive.copy_requests() == []
    assert archived_weeks(history) == weeks

    # a new copy appears (the week with none): only its week is asked for
    archive.copies.append(leaderboard_copy(date(2026, 7, 27), "20260727100000"))
    archive.requests.clear()
    await archive_crawl(server, history, **SCENARIO_WEEKS)
    assert archive.copy_requests() == ["/web/20260727100000id_/https://openrouter.ai/rankings"]
    assert archived_weeks(history)["archive:2026-07-20"]["week_end"] == "2026-07-26"


@pytest_twisted.ensureDeferred
async def test_a_model_only_in_an_archived_catalogue_is_priced_at_its_archived_price(tmp_path, fake_archive):
    server = fake_archive(weeks_scenario())
    history = tmp_path / "data" / "history.db"
    await archive_crawl(server, history, **SCENARIO_WEEKS)
    db = Database(history)
    # retired since: in the archived catalogues of 06-29's week only
    listed = {r["crawl_id"] for r in db.query("SELECT crawl_id FROM prices WHERE canonical_slug = ?",
                                               [RETIRED.permaslug])}
    assert listed == {"archive:2026-06-29"}
    later = PriceHistory(db).at(RETIRED.permaslug, "standard", "2026-11-29")
    assert (later.price_basis, later.price_observed_on) == (BEFORE, "2026-07-03")
    assert (later.prompt_price, later.completion_price, later.cache_read_price) == \
        (pytest.approx(4.2e-06), pytest.approx(1.68e-05), pytest.approx(4.2e-07))
    [row] = db.query("SELECT prompt_price, completion_price, revenue_list_usd FROM weekly_revenue WHERE permaslug = ?",
                     [RETIRED.permaslug])
    assert row["prompt_price"] == pytest.approx(4.2e-06) and row["revenue_list_usd"] > 0
    # the Monday-week series: the archived week (a Monday window) is measured, at the archived price
    [monday] = db.query("SELECT basis, source, prompt_price, price_observed_on, total_tokens FROM monday_weeks "
                        "WHERE permaslug = ?", [RETIRED.permaslug])
    assert (monday["basis"], monday["source"], monday["price_observed_on"]) == ("measured", "archived", "2026-07-03")
    assert monday["prompt_price"] == pytest.approx(4.2e-06) and monday["total_tokens"] == RETIRED.total


@pytest_twisted.ensureDeferred
async def test_the_real_2025_11_07_page_is_stored_as_an_archived_week(tmp_path, fake_archive):
    page = shared_capture("openrouter-2025-11-07-rankings-page") / "rankings.html"
    archive = real_page_scenario(page)
    server = fake_archive(archive)
    history = tmp_path / "data" / "history.db"
    result = await archive_crawl(server, history, since="2025-10-27", until="2025-11-02")
    assert result.status == "published"
    db = Database(history)
    week = archived_weeks(history)["archive:2025-10-27"]
    assert (week["era"], week["week_start"], week["week_end"], week["models_ranked"]) == \
        ("archive", "2025-11-01", "2025-11-07", 344)
    checks = {c["name"]: (c["result"], c["message"]) for c in json.loads(
        next(db.query("SELECT checks FROM crawls WHERE id = 'archive:2025-10-27'"))["checks"])}
    # published; the factory's catalogue of that week prices the seed models only: the rest is flagged
    assert week["status"] == "published" and checks["prices_missing"][0] == "flag"
    assert not [name for name, (result, _) in checks.items() if result == "fail"]
    # the same totals as the legacy decoder gives from the page itself (tests/test_legacy.py)
    decoded = [r for r in decode_rankings_page(page.read_bytes(), "page") if isinstance(r, LeaderboardRow)]
    stored = next(db.query(
        "SELECT count(*) n, sum(split_source = 'archived') archived, sum(prompt_tokens) prompt, "
        "sum(completion_tokens) completion, sum(cached_tokens) cached, sum(reasoning_tokens) reasoning, "
        "sum(cached_tokens > 0) with_cached, sum(reasoning_tokens > 0) with_reasoning "
        "FROM model_weeks WHERE crawl_id = 'archive:2025-10-27'"))
    assert stored["n"] == stored["archived"] == 344
    assert stored["with_cached"] > 100 and stored["with_reasoning"] > 50
    for name in ("prompt", "completion", "cached", "reasoning"):
        assert stored[name] == sum(int(getattr(r, f"{name}_tokens")) for r in decoded)
    shown = next(db.query("SELECT crawl_id, status FROM weeks WHERE week_end = '2025-11-07'"))
    assert shown == {"crawl_id": "archive:2025-10-27", "status": week["status"]}


@pytest_twisted.ensureDeferred
async def test_a_crawl_of_the_site_afterwards_keeps_its_own_week_as_measured(tmp_path, fake_archive):
    capture = shared_capture("openrouter-2026-08-08")
    archive = weeks_scenario()
    # The week's archived catalogue is the capture's own (read, not copied): the crawl's price guard
    # compares its prices with the latest published week's, here the archived one.
    week_catalogue = archive.copy("20260801120000", MODELS)
    week_catalogue.body = (capture / "api/v1/models.json").read_bytes
    server = fake_archive(archive)
    history = tmp_path / "data" / "history.db"
    await archive_crawl(server, history, **SCENARIO_WEEKS)
    db = Database(history)
    shown = next(db.query("SELECT crawl_id FROM weeks WHERE week_end = '2026-08-07'"))
    assert shown["crawl_id"] == "archive:2026-07-27"

    # The archived week's rows are the factory's, at factory volumes, not the capture's: the gate rightly
    # calls the real week a jump from them (its totals, the chart week it finishes) and rejects it.
    site = await crawl({"ORSTATS_DB": str(history)}, snapshot=str(capture))
    assert site.status == "rejected"
    assert {c["name"] for c in site.verdict.checks if c["result"] == "fail"} >= {"week_totals", "chart_partial"}
    assert next(db.query("SELECT crawl_id FROM weeks WHERE week_end = '2026-08-07'"))["crawl_id"] == \
        "archive:2026-07-27"  # a rejected crawl never takes a published week's place
    # What this test is about is which week is shown once the crawl publishes: forced past that gate.
    site = await crawl({"ORSTATS_DB": str(history)}, snapshot=str(capture), force="1")
    assert site.status == "published", site.verdict
    shown = next(db.query("SELECT w.crawl_id, c.era FROM weeks w JOIN crawls c ON c.id = w.crawl_id "
                          "WHERE w.week_end = '2026-08-07'"))
    assert shown == {"crawl_id": site.crawl_id, "era": "current"}
    measured = next(db.query("SELECT count(*) n FROM weekly_revenue WHERE week_end = '2026-08-07' "
                             "AND split_source = 'activity'"))["n"]
    assert measured > 0

    # the archived week is stored again (a later catalogue copy inside it): it stays behind the crawl's
    archive.copies.append(replace(archive.copy("20260801120000", MODELS), timestamp="20260802120000"))
    archive.requests.clear()
    await archive_crawl(server, history, **SCENARIO_WEEKS)
    assert "/web/20260802120000id_/https://openrouter.ai/api/v1/models" in archive.copy_requests()
    assert next(db.query("SELECT crawl_id FROM weeks WHERE week_end = '2026-08-07'"))["crawl_id"] == site.crawl_id
    archived = next(db.query("SELECT status, week_end, checks FROM crawls WHERE id = 'archive:2026-07-27'"))
    assert archived["week_end"] == "2026-08-07"
    # gated like a crawl: its 10 model-variants against the crawl's week of hundreds
    failed = [c["name"] for c in json.loads(archived["checks"]) if c["result"] == "fail"]
    assert archived["status"] == "rejected" and "model_count" in failed
    assert "2026-08-02" in {r["captured_at"][:10] for r in db.query(
        "SELECT captured_at FROM archive_copies WHERE crawl_id = 'archive:2026-07-27'")}


@pytest_twisted.ensureDeferred
async def test_the_daily_cap_counts_the_days_archive_requests_across_runs(tmp_path, fake_archive):
    archive = weeks_scenario()
    server = fake_archive(archive)
    history = tmp_path / "data" / "history.db"
    # 3 CDX queries and the 3 copies of the first week; the second week would pass the cap
    result = await crawl({"ORSTATS_DB": str(history), "ORSTATS_ARCHIVE_URL": server.url, "ROBOTSTXT_OBEY": False,
                          "ORSTATS_ARCHIVE_DAILY_CAP": 7}, spider=ArchiveSpider, **SCENARIO_WEEKS)
    assert len(archive.requests) == 6 and result.stats["orstats/archive/capped"] == 1
    assert set(archived_weeks(history)) == {"archive:2026-06-29"}
    # the same day: 6 of the 7 are spent, too few for the CDX queries: nothing is asked
    archive.requests.clear()
    again = await crawl({"ORSTATS_DB": str(history), "ORSTATS_ARCHIVE_URL": server.url, "ROBOTSTXT_OBEY": False,
                         "ORSTATS_ARCHIVE_DAILY_CAP": 7}, spider=ArchiveSpider, **SCENARIO_WEEKS)
    assert archive.requests == [] and again.stats["orstats/archive/requests_today_before"] == 6


@pytest_twisted.ensureDeferred
async def test_an_archive_run_recorded_as_a_snapshot_replays_the_same_weeks(tmp_path, fake_archive):
    server = fake_archive(weeks_scenario())
    recorded = tmp_path / "recorded"
    first = tmp_path / "first" / "history.db"
    await archive_crawl(server, first, record=str(recorded), **SCENARIO_WEEKS)
    server.shutdown()  # the replay asks nobody
    replayed = tmp_path / "replayed" / "history.db"
    result = await crawl({"ORSTATS_DB": str(replayed), "ORSTATS_ARCHIVE_URL": server.url}, spider=ArchiveSpider,
                         snapshot=str(recorded), **SCENARIO_WEEKS)
    assert result.status == "published"
    columns = "crawl_id, week_start, week_end, permaslug, variant, prompt_tokens, cached_tokens, prompt_price"
    assert list(Database(replayed).query(f"SELECT {columns} FROM model_weeks ORDER BY 1, 4")) == \
        list(Database(first).query(f"SELECT {columns} FROM model_weeks ORDER BY 1, 4"))
    assert {r["status"] for r in Database(replayed).query("SELECT status FROM archive_copies")} == {"stored", "problem"}


@pytest_twisted.ensureDeferred
async def test_scrapy_crawl_archive_refuses_a_bad_day_with_exit_2(tmp_path):
    for argument, named in (("since=2026-13-01", "ORSTATS_ARCHIVE_SINCE='2026-13-01'"),
                            ("until=next week", "ORSTATS_ARCHIVE_UNTIL='next week'"),
                            ("since=2026-08-01", "is after -a until=2026-07-01")):
        other = "until=2026-07-01" if "after" in named else "force=0"
        run = await scrapy_here("crawl", "archive", "-a", argument, "-a", other,
                                "-s", f"ORSTATS_DB={tmp_path / 'history.db'}", "-s", "ORSTATS_ARCHIVE_URL=http://127.0.0.1:9")
        assert run.returncode == 2, run.stderr[-2000:]
        assert named in run.stderr and "Traceback" not in run.stderr


@pytest_twisted.ensureDeferred
async def test_model_pages_give_daily_splits_folded_into_monday_weeks(tmp_path, fake_archive):
    archive = weeks_scenario()
    server = fake_archive(archive)
    history = tmp_path / "data" / "history.db"
    await archive_crawl(server, history, **SCENARIO_WEEKS)  # the history now knows the leaderboard's models
    sonnet, opus, flash = SEED_MODELS[0], SEED_MODELS[1], SEED_MODELS[4]
    archive.copies += [
        # a copy holds 89 complete days: the latest one (under either name) covers all five weeks
        model_page_copy(sonnet, date(2026, 7, 20), "20260720120000"),
        model_page_copy(sonnet, date(2026, 7, 27), "20260727120000", form="permaslug"),
        model_page_copy(sonnet, date(2026, 8, 3), "20260803120000"),
        # not the page of its URL: another model's, and the site's error page
        model_page_copy(opus, date(2026, 7, 8), "20260708120000", about=flash),
        FakeCopy(f"{RANKINGS.removesuffix('/rankings')}/{flash.public_id}", "20260713120000", error_page),
        # and a later catalogue inside 06-29's week: the week is stored again in the same run as its pages
        replace(archive.copy("20260703120000", MODELS), timestamp="20260704120000"),
    ]
    archive.requests.clear()
    result = await archive_crawl(server, history, **SCENARIO_WEEKS)
    assert result.status == "published"
    assert sorted(archive.copy_requests()) == sorted([
        f"/web/20260803120000id_/https://openrouter.ai/{sonnet.public_id}",
        f"/web/20260708120000id_/https://openrouter.ai/{opus.public_id}",
        f"/web/20260713120000id_/https://openrouter.ai/{flash.public_id}",
        "/web/20260706093000id_/https://openrouter.ai/rankings",
        "/web/20260704120000id_/https://openrouter.ai/api/v1/models",
    ])
    # the week's rows wait for the week's catalogue, not for its pages
    priced = next(Database(history).query(
        "SELECT count(*) n, count(prompt_price) priced, min(price_observed_on) day FROM model_weeks "
        "WHERE crawl_id = 'archive:2026-06-29'"))
    assert priced == {"n": len(SEED_MODELS) + 1, "priced": len(SEED_MODELS) + 1, "day": "2026-07-04"}
    db = Database(history)
    parts = {r["id"]: r for r in db.query("SELECT id, status, week_end, checks FROM crawls WHERE id LIKE '%:pages'")}
    assert set(parts) == {"archive:2026-06-29:pages"}
    assert all(p["status"] == "published" and p["week_end"] is None for p in parts.values())
    checks = {c["name"]: c["result"] for c in json.loads(parts["archive:2026-06-29:pages"]["checks"])}
    assert checks["identity"] == "flag" and checks["structure_activity"] == "flag"
    problems = {r["url"].removeprefix(server.url): r for r in db.query(
        "SELECT url, source, field, permaslug FROM problems WHERE crawl_id = 'archive:2026-06-29:pages'")}
    assert problems[f"/web/20260708120000id_/https://openrouter.ai/{opus.public_id}"]["field"] == "model.permaslug"
    assert problems[f"/web/20260713120000id_/https://openrouter.ai/{flash.public_id}"]["source"] == "activity"

    # the daily split, complete days only, folded into Monday weeks as a crawl's daily activity is
    days = {r["day"]: r for r in db.query("SELECT * FROM daily_activity WHERE crawl_id = 'archive:2026-06-29:pages'")}
    assert len(days) == 89 and max(days) == "2026-08-02" and {r["permaslug"] for r in days.values()} == \
        {sonnet.permaslug}
    week = next(db.query("SELECT * FROM monday_weeks WHERE permaslug = ? AND week_start = '2026-07-27'",
                         [sonnet.permaslug]))
    assert (week["basis"], week["source"], week["crawl_id"]) == ("measured", "daily", "archive:2026-06-29:pages")
    assert (week["prompt_tokens"], week["cached_tokens"]) == (sonnet.prompt, sonnet.cached)
    # the archived leaderboard's Monday window (06-29..07-05) gives way to the page's daily week
    first = next(db.query("SELECT source, crawl_id FROM monday_weeks WHERE permaslug = ? AND week_start = '2026-06-29'",
                          [sonnet.permaslug]))
    assert first == {"source": "daily", "crawl_id": "archive:2026-06-29:pages"}


def test_scrapy_crawl_archive_exits_0_with_bad_copies_and_asks_only_the_archive(tmp_path, fake_archive):
    archive = weeks_scenario()
    server = fake_archive(archive)
    history = tmp_path / "history.db"
    run = run_scrapy("crawl", "archive", "-a", "since=2026-06-29", "-a", "until=2026-08-02",
                     "-s", f"ORSTATS_DB={history}", "-s", f"ORSTATS_ARCHIVE_URL={server.url}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "archive_weeks PASS: 4 archived weeks stored (4 published), 3 copies turned down" in run.stderr
    overridden = run.stderr.partition("Overridden settings:")[2][:3000]
    assert "'CLOSESPIDER_TIMEOUT': 14400.0" in overridden  # the archive run's guard rail, not the site crawl's hour
    assert "'DOWNLOAD_DELAY': '0'" in overridden  # the command line (the tests' FAST settings) over the spider's 4 s
    # robots.txt, the CDX and the copies: nothing but the archive's origin, nothing of the site's
    assert archive.requests[0] == "/robots.txt" and len(archive.requests) == 1 + 3 + 8
    assert "orstats/hosts/refused" not in run.stderr
    hosts = ConfiguredHosts(Settings({"OPENROUTER_BASE_URL": "https://openrouter.ai",
                                      "ORSTATS_ALLOWED_URL": server.url}))
    assert hosts.allows(server.url + "/cdx/search/cdx") and not hosts.allows("https://openrouter.ai/rankings")


@pytest_twisted.ensureDeferred
async def test_an_archived_catalogue_beyond_the_price_bound_prices_nothing(tmp_path, fake_archive):
    """Gated like a crawl: a decimal point gone astray in an archived catalogue rejects its week, and a
    rejected week's catalogue stays out of the price history (kept for inspection)."""
    astray = replace(RETIRED, pricing={"prompt": "0.0042", "completion": "0.0168"})  # $4,200 per million tokens
    archive = FakeArchive([catalogue_copy(date(2026, 7, 1), "20260701120000", [*SEED_MODELS, astray])])
    server = fake_archive(archive)
    history = tmp_path / "data" / "history.db"
    await archive_crawl(server, history, since="2026-06-29", until="2026-07-05")
    db = Database(history)
    week = next(db.query("SELECT status, checks FROM crawls WHERE id = 'archive:2026-06-29'"))
    failed = {c["name"]: c["message"] for c in json.loads(week["checks"]) if c["result"] == "fail"}
    assert week["status"] == "rejected" and "example-lab/retired-model" in failed["price_bound"]
    assert next(db.query("SELECT count(*) n FROM prices WHERE crawl_id = 'archive:2026-06-29'"))["n"] > 0
    assert PriceHistory(db).at(astray.permaslug, "standard", "2026-07-05").prompt_price is None


@pytest_twisted.ensureDeferred
async def test_model_pages_beyond_the_cap_are_asked_about_by_the_next_runs_first(tmp_path, fake_archive):
    archive = weeks_scenario()
    server = fake_archive(archive)
    history = tmp_path / "data" / "history.db"
    await archive_crawl(server, history, **SCENARIO_WEEKS)  # 11 requests; the history knows 11 model-variants
    asked: list[set[str]] = []
    for cap in (11 + 7, 11 + 5 + 7):  # each run: the 3 queries of the week, and 2 of its 4 left: 2 page URLs
        archive.requests.clear()
        await crawl({"ORSTATS_DB": str(history), "ORSTATS_ARCHIVE_URL": server.url, "ROBOTSTXT_OBEY": False,
                     "ORSTATS_ARCHIVE_DAILY_CAP": cap}, spider=ArchiveSpider, **SCENARIO_WEEKS)
        urls = {parse_qs(urlsplit(path).query)["url"][0] for path in archive.cdx_requests()}
        asked.append(urls - {RANKINGS, MODELS, ALL_MODELS})
    assert [len(urls) for urls in asked] == [2, 2] and not asked[0] & asked[1]
    # the first run asks about the pages of the model-variant with the most tokens
    biggest = max([*SEED_MODELS, RETIRED], key=lambda m: m.total)
    assert f"https://openrouter.ai/{biggest.public_id}" in asked[0]
