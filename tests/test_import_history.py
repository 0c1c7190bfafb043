"""`scrapy import-history`: the earlier project's weekly files, recomputed, with their defects recognised."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.history import monday_series
from orstats_crawler.publish.importer import import_path, import_paths, read_snapshot
from orstats_crawler.history.connection import open_for_writing
from orstats_crawler.sources import SourceError
from tests.anchor_factory import SAMPLE, SAMPLE_FOLDER, anchor_file, price_of, write
from tests.conftest import ROOT, SHARED, crawl, scrapy_here
from tests.factory import SEED_MODELS

BACKFILL_PRICES_ON = date(2026, 2, 9)
ANCHOR_SAMPLE = ROOT / SAMPLE_FOLDER


def anchor_history() -> Path:
    """The earlier project's real files in ../shared, or skip where ../shared is absent."""
    folder = SHARED / "anchor-history"
    if not any(folder.glob("*.json")):
        pytest.skip(f"{folder} not available")
    return folder


def table_hashes(path: Path) -> dict[str, str]:
    """A content hash of every table (rows in a stable order, blobs as hex)."""
    db = Database(path)
    hashes = {}
    for table in db.table_names():
        rows = sorted(json.dumps(row, sort_keys=True, default=lambda b: b.hex()) for row in db[table].rows)
        hashes[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return hashes


def run_import(history: Path, *paths: Path) -> list:
    history.parent.mkdir(parents=True, exist_ok=True)
    db = open_for_writing(str(history))
    try:
        return import_paths(db, paths, BACKFILL_PRICES_ON)
    finally:
        db.close()


def test_sunday_and_monday_files_become_the_same_kind_of_week(tmp_path, history_path):
    backfilled = write(tmp_path / "files", anchor_file(date(2026, 1, 25)))  # a Sunday: the week ending that day
    run = write(tmp_path / "files", anchor_file(date(2026, 2, 16)))  # a Monday: the 7 days before it
    results = run_import(history_path, backfilled, run)
    assert [(r.week_start, r.week_end, r.status) for r in results] == [
        ("2026-01-19", "2026-01-25", "published"), ("2026-02-09", "2026-02-15", "published")]
    db = Database(history_path)
    rows = list(db.query("select * from weekly_revenue where week_end = '2026-02-15'"))
    assert len(rows) == len(SEED_MODELS) and {r["split_source"] for r in rows} == {"import"}
    for model in SEED_MODELS:
        row = next(r for r in rows if r["permaslug"] == model.permaslug)
        p, c, r = (price_of(model, k, price_of(model, "prompt")) for k in ("prompt", "completion", "input_cache_read"))
        expected = (0.0 if model.variant == "free"
                    else (model.prompt - model.cached) * p + model.cached * r + model.completion * c)
        assert row["revenue_list_usd"] == pytest.approx(expected, rel=1e-12)
        assert (row["price_basis"], row["price_observed_on"]) == ("file", "2026-02-16")
    crawl_row = next(db.query("select era, status, checks from crawls where id = 'import:2026-01-25'"))
    assert (crawl_row["era"], crawl_row["status"]) == ("import", "published")
    assert json.loads(crawl_row["checks"])[0]["result"] == "pass"
    # Backfilled prices were fetched once, on the earlier project's first run.
    observed = {r["observed_on"]
                for r in db.query("select observed_on from prices where crawl_id = 'import:2026-01-25'")}
    assert observed == {BACKFILL_PRICES_ON.isoformat()}
    # The file itself is in the raw archive, as a crawl's responses are.
    archived = next(db.query("select r.*, b.body_gz from responses r join response_bodies b using (sha256) "
                             "where r.crawl_id = 'import:2026-02-16'"))
    assert (archived["url"], archived["status"], archived["fetched_at"]) == (
        "import:2026-02-16.json", 200, "2026-02-16T00:00:00+00:00")
    assert gzip.decompress(archived["body_gz"]) == run.read_bytes() and archived["bytes"] == len(run.read_bytes())


def test_the_last_years_totals_are_those_of_weekly_totals_for_the_last_year(tmp_path, history_path):
    """`weekly_totals_last_year` (Datasette's crawl_weeks) sums its weeks' rows inside the aggregate:
    the weeks ending within 364 days of the latest published one, each equal to its weekly_totals row."""
    days = [date(2025, 1, 19), date(2025, 2, 16), date(2025, 2, 23), date(2026, 2, 15)]  # Sundays
    run_import(history_path, *(write(tmp_path / "files", anchor_file(day)) for day in days))
    db = Database(history_path)
    every = {row["week_end"]: row for row in db.query("select * from weekly_totals")}
    last_year = {row["week_end"]: row for row in db.query("select * from weekly_totals_last_year")}
    assert sorted(every) == [day.isoformat() for day in days]
    assert sorted(last_year) == ["2025-02-16", "2025-02-23", "2026-02-15"]  # 2025-02-16 is 364 days before
    for week_end, row in last_year.items():  # the same rows, summed in the order the index gives them
        assert row == {k: pytest.approx(v, rel=1e-12) if isinstance(v, float) else v
                       for k, v in every[week_end].items()}


def test_free_rows_are_free_whatever_price_the_file_put_on_them(tmp_path, history_path):
    payload = anchor_file(date(2026, 2, 16), free_priced_as=SEED_MODELS[2])
    free = next(m for m in payload["models"] if m["slug"].endswith(":free"))
    assert free["estimated_revenue"] > 0  # the defect: paid prices on a free variant, in the total
    [result] = run_import(history_path, write(tmp_path, payload))
    assert result.check["result"] == "pass" and f"${free['estimated_revenue']:,.2f}" in result.check["message"]
    db = Database(history_path)
    row = next(db.query("select * from weekly_revenue where variant = 'free'"))
    assert (row["is_free"], row["revenue_list_usd"], row["revenue_seed_usd"], row["price_status"]) == (
        1, 0.0, 0.0, "free")
    week = next(db.query("select revenue_seed_usd from weekly_totals"))
    # The file rounded its total and its free row's figure: they agree within a cent.
    assert week["revenue_seed_usd"] == pytest.approx(payload["total_revenue"] - free["estimated_revenue"], abs=0.0101)


def test_an_all_zero_week_has_known_volumes_and_unknown_revenue(tmp_path, history_path):
    [result] = run_import(history_path, write(tmp_path, anchor_file(date(2026, 5, 11), zero=True)))
    assert (result.status, result.check["result"], result.unknown_split) == ("published", "flag", len(SEED_MODELS))
    db = Database(history_path)
    week = next(db.query("select * from weekly_totals"))
    assert week["total_tokens"] == sum(m.total for m in SEED_MODELS)
    assert week["revenue_list_usd"] is None and week["revenue_seed_usd"] is None  # not $0
    rows = list(db.query("select * from weekly_revenue"))
    assert all(r["prompt_tokens"] is None and r["cached_tokens"] is None for r in rows)
    assert {r["revenue_list_usd"] for r in rows if r["variant"] != "free"} == {None}
    problems = list(db.query("select field, message from problems where crawl_id = 'import:2026-05-11'"))
    assert len(problems) == len(SEED_MODELS) and "split unknown" in problems[0]["message"]


def test_the_monday_series_models_a_zero_week_from_its_neighbour(tmp_path, history_path):
    files = tmp_path / "files"
    run_import(history_path, write(files, anchor_file(date(2026, 5, 4))),
               write(files, anchor_file(date(2026, 5, 11), zero=True)))
    rows = {(r["week_start"], r["permaslug"]): r for r in Database(history_path).query("select * from monday_revenue")}
    model = SEED_MODELS[0]
    zero_week = rows[("2026-05-04", model.permaslug)]
    assert (zero_week["basis"], zero_week["source"], zero_week["mix_week_start"]) == ("modeled", "import", "2026-04-27")
    assert zero_week["prompt_tokens"] == model.prompt and zero_week["revenue_list_usd"] > 0
    assert rows[("2026-04-27", model.permaslug)]["basis"] == "measured"


def test_reimport_changes_nothing_and_a_changed_file_is_rewritten(tmp_path, history_path):
    folder = tmp_path / "files"
    for day in (date(2026, 2, 1), date(2026, 2, 16), date(2026, 5, 11)):
        write(folder, anchor_file(day, zero=day.month == 5))
    run_import(history_path, folder)
    before = table_hashes(history_path)
    again = run_import(history_path, folder)
    assert {r.status for r in again} == {"unchanged"} and table_hashes(history_path) == before
    changed = anchor_file(date(2026, 2, 16),
                          models=[replace(SEED_MODELS[0], prompt=SEED_MODELS[0].prompt + 1000), *SEED_MODELS[1:]])
    [result] = run_import(history_path, write(folder, changed))
    assert result.status == "published" and table_hashes(history_path) != before
    prompt = next(Database(history_path).query(
        "select prompt_tokens from model_weeks where crawl_id = 'import:2026-02-16' and permaslug = ?",
        [SEED_MODELS[0].permaslug]))
    assert prompt["prompt_tokens"] == SEED_MODELS[0].prompt + 1000


def test_an_import_of_many_files_rebuilds_the_series_once_to_what_folding_each_in_gives(tmp_path, monkeypatch):
    folder = tmp_path / "files"
    paths = [write(folder, anchor_file(day, zero=day.month == 5))
             for day in (date(2026, 1, 25), date(2026, 2, 1), date(2026, 2, 16), date(2026, 5, 11))]
    folded = tmp_path / "folded" / "history.db"
    folded.parent.mkdir()
    db = open_for_writing(str(folded))
    for path in paths:  # each file folded into the series as it is written
        assert import_path(db, path, BACKFILL_PRICES_ON).status in ("published", "rejected")
    db.close()
    rebuilds = []
    rebuild = monday_series.rebuild
    monkeypatch.setattr(monday_series, "rebuild", lambda db: rebuilds.append(db) or rebuild(db))
    once = tmp_path / "once" / "history.db"
    assert len(run_import(once, *paths)) == len(paths)
    assert len(rebuilds) == 1
    series = {table: digest for table, digest in table_hashes(once).items() if table.startswith("monday_")}
    assert series and series == {t: d for t, d in table_hashes(folded).items() if t.startswith("monday_")}


@pytest_twisted.ensureDeferred
async def test_an_import_never_takes_a_week_from_a_crawl(demo_snapshot, tmp_path, history_path):
    await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(demo_snapshot))
    [result] = run_import(history_path, write(tmp_path, anchor_file(date(2026, 2, 8))))  # the demo crawl's week
    assert (result.week_start, result.week_end) == ("2026-02-02", "2026-02-08")
    shown = next(Database(history_path).query("select c.era from weeks w join crawls c on c.id = w.crawl_id"))
    assert shown["era"] == "current"


@pytest_twisted.ensureDeferred
async def test_unreadable_files_are_errors_naming_the_file_and_field(tmp_path, history_path):
    tuesday = write(tmp_path, anchor_file(date(2026, 2, 17)))
    with pytest.raises(SourceError) as error:
        read_snapshot(tuesday, BACKFILL_PRICES_ON)
    assert (error.value.source, error.value.url, error.value.field) == ("import", str(tuesday), "date")
    broken = anchor_file(date(2026, 2, 16))
    del broken["models"][3]["cached_tokens"]
    path = write(tmp_path / "b", broken)
    [failed] = run_import(history_path, path)
    assert isinstance(failed, SourceError) and failed.field == "cached_tokens" and "models[3]" in failed.message
    run = await scrapy_here("import-history", str(path), str(tuesday), "--db", str(history_path))
    assert run.returncode == 1 and str(tuesday) in run.stderr and "cached_tokens" in run.stderr


async def import_folder_as_a_user_would(folder: Path, history: Path) -> dict[str, dict]:
    """`scrapy import-history FOLDER` twice: every week recomputed and checked against its own file,
    then nothing changed by the second run. Returns the weekly totals by crawl id."""
    run = await scrapy_here("import-history", str(folder), "--db", str(history))
    assert run.returncode == 0, run.stderr[-2000:]
    files = {json.loads(p.read_text())["date"]: json.loads(p.read_text()) for p in folder.glob("*.json")}
    weeks = {r["crawl_id"]: r for r in Database(history).query("select * from weekly_totals")}
    assert len(weeks) == len(files)
    for crawl_id, week in weeks.items():
        payload = files[crawl_id.removeprefix("import:")]
        assert week["total_tokens"] == payload["total_tokens"]  # the volumes are known every week
        if week["revenue_seed_usd"] is None:
            assert payload["total_revenue"] == 0.0 and payload["token_breakdown"]["prompt_tokens"] == 0
            continue
        free_charged = sum(m["estimated_revenue"] for m in payload["models"] if m["slug"].endswith(":free"))
        assert round(week["revenue_seed_usd"], 2) == round(payload["total_revenue"] - free_charged, 2)
        assert week["revenue_list_usd"] < week["revenue_seed_usd"]  # cached tokens counted once
    before = table_hashes(history)
    again = await scrapy_here("import-history", str(folder), "--db", str(history))
    assert again.returncode == 0 and again.stdout.count(" unchanged,") == len(files)
    assert table_hashes(history) == before
    return weeks


@pytest_twisted.ensureDeferred
async def test_the_sample_that_ships(tmp_path):
    """demo/anchor-history-sample (tests/anchor_factory.py): backfilled and run files, a :free row
    charged at paid prices and a week of zeros, imported as the README shows."""
    weeks = await import_folder_as_a_user_would(ANCHOR_SAMPLE, tmp_path / "history.db")
    assert len(weeks) == len(SAMPLE)
    unknown = [crawl_id for crawl_id, week in weeks.items() if week["revenue_seed_usd"] is None]
    assert unknown == ["import:2026-05-11"]
    charged = json.loads((ANCHOR_SAMPLE / "2026-02-16.json").read_text())["models"]
    assert any(m["slug"].endswith(":free") and m["estimated_revenue"] > 0 for m in charged)


@pytest_twisted.ensureDeferred
async def test_the_earlier_projects_26_files(tmp_path):
    weeks = await import_folder_as_a_user_would(anchor_history(), tmp_path / "history.db")
    assert len(weeks) == 26
    assert len([w for w in weeks.values() if w["revenue_seed_usd"] is not None]) == 25
