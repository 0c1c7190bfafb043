"""The Monday-week series after each write (history/monday_series_update.py): only the weeks a
crawl's changes reach are estimated again, and the result is the full rebuild's, row by row."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest_twisted
from sqlite_utils import Database

from orstats_crawler.history import monday_series_update
from orstats_crawler.history.connection import immediate, open_for_writing
from orstats_crawler.history.records import CrawlRecords
from orstats_crawler.history.monday_series import SERIES_TABLES
from orstats_crawler.history.writer import rebuild_series, write_crawl
from orstats_crawler.publish.importer import import_snapshot, read_snapshot
from tests.anchor_factory import anchor_file, write
from tests.conftest import crawl
from tests.factory import SEED_MODELS, SnapshotSpec, build_snapshot
from tests.test_import_history import run_import
from tests.test_monday_series import archived_week as archived_records

BACKFILL_PRICES_ON = date(2026, 2, 9)
IMPORTED = sorted(SEED_MODELS, key=lambda m: -m.total)[:9]  # the chart's keys; a crawl ranks more


def series_tables(db: Database) -> dict[str, list[tuple]]:
    return {table: [tuple(r) for r in db.execute(f"SELECT * FROM [{table}] ORDER BY 1, 2, 3")]
            for table in SERIES_TABLES}


def same(a: object, b: object) -> bool:
    """Equal, floats to 9 significant digits."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def check_against_rebuild(path: Path) -> dict[str, list[tuple]]:
    """The series as the writes left it equals the series rebuilt from the whole history (the
    rebuild rolled back, so the next write starts from what the incremental updates made)."""
    db = open_for_writing(str(path))
    try:
        kept = series_tables(db)
        db.execute("BEGIN IMMEDIATE")
        rebuild_series(db)
        rebuilt = series_tables(db)
        db.conn.rollback()
    finally:
        db.close()
    for table in SERIES_TABLES:
        assert len(kept[table]) == len(rebuilt[table]), table
        for mine, full in zip(kept[table], rebuilt[table]):
            assert all(same(a, b) for a, b in zip(mine, full)), (table, mine, full)
    return kept


def archived_week(crawl_id: str, start: str, end: str, day: str) -> CrawlRecords:
    """A week read from the Web Archive: a seed model and a model retired since."""
    return archived_records(crawl_id, start, end, day, {
        SEED_MODELS[0].permaslug: (3e-6, 1.5e-5, 3e-7, 800_000_000, 20_000_000, 300_000_000),
        "x/retired-20240101": (3e-7, 1.5e-6, 3e-8, 900_000_000, 70_000_000, 100_000_000)})


@pytest_twisted.ensureDeferred
async def test_each_write_updates_the_series_as_a_rebuild_would(tmp_path, history_path, monkeypatch):
    """Imported weeks every other week (rated weeks through the history, rebuilt once), then crawls
    of factory snapshots (a price change among them), an imported week and an archived week between
    them, a crawl stored again: after each, the series the writer left equals the full rebuild; and
    the writes that change only a few weeks updated only those, from a window of the history."""
    updates: list[str] = []
    update = monday_series_update.update

    def recorded(db, since):
        updates.append(update(db, since))
        return updates[-1]

    monkeypatch.setattr(monday_series_update, "update", recorded)
    files = tmp_path / "files"
    # The earlier project's files held the chart's keys, fewer model-variants than a crawl ranks.
    older = [write(files, anchor_file(date(2025, 11, 9) + timedelta(weeks=2 * n), IMPORTED)) for n in range(6)]
    run_import(history_path, *older)
    assert updates == []  # imported files are stored without folding, then the series rebuilt once
    check_against_rebuild(history_path)

    cheaper = replace(SEED_MODELS[3], pricing={**SEED_MODELS[3].pricing, "prompt": "0.0000004"})
    specs = [SnapshotSpec(captured=date(2026, 2, 12), name="first"),
             SnapshotSpec(captured=date(2026, 3, 12), name="next"),
             SnapshotSpec(models=[*SEED_MODELS[:3], cheaper, *SEED_MODELS[4:]], captured=date(2026, 3, 19),
                          name="cheaper")]
    for spec in specs:
        await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(build_snapshot(tmp_path / spec.name, spec)))
        check_against_rebuild(history_path)

    db = open_for_writing(str(history_path))
    try:
        snapshot = read_snapshot(write(files, anchor_file(date(2025, 11, 16), IMPORTED)), BACKFILL_PRICES_ON)
        with immediate(db):
            import_snapshot(db, snapshot)  # folded into the series as a crawl is
        check_against_rebuild(history_path)
        with immediate(db):
            write_crawl(db, archived_week("archive:2025-12-08", "2025-12-08", "2025-12-14", "2025-12-15"))
        check_against_rebuild(history_path)
    finally:
        db.close()
    for _ in range(2):  # stored twice under one id, as a rerun of a Scrapyd job is: the second rebuilds
        await crawl({"ORSTATS_DB": str(history_path)}, snapshot=str(tmp_path / "next"), _job="job-1")
        check_against_rebuild(history_path)

    assert len(updates) == len(specs) + 4
    # The first crawl brings 52 chart weeks, most before anything rated; a crawl stored again.
    assert updates[0] == "rebuilt" and updates[-1] == "rebuilt"
    partial = [u for u in updates if u.startswith("updated")]
    assert len(partial) >= 3, updates


def test_a_writer_that_rebuilds_at_the_end_leaves_the_series_stale_until_then(tmp_path):
    """Crawls stored without folding (an import of many files, the archive spider) mark the series
    stale: if the rebuild at the end never comes, the next crawl rebuilds it."""
    db = open_for_writing(str(tmp_path / "history.db"))
    try:
        with immediate(db):
            write_crawl(db, archived_week("archive:2025-11-03", "2025-11-03", "2025-11-09", "2025-11-10"))
        assert not monday_series_update.stale(db)
        run = replace(archived_week("archive:2025-11-10", "2025-11-10", "2025-11-16", "2025-11-17").crawl,
                      id="archive-run", week_start=None, week_end=None)
        with immediate(db):  # a record that brings none of the series' inputs (an archive run's own)
            write_crawl(db, CrawlRecords(crawl=run), fold_series=False)
        assert not monday_series_update.stale(db)
        with immediate(db):
            write_crawl(db, archived_week("archive:2025-11-10", "2025-11-10", "2025-11-16", "2025-11-17"),
                        fold_series=False)
        assert monday_series_update.stale(db)
        assert [r[0] for r in db.execute("SELECT week_start FROM monday_series")] == ["2025-11-03"]
        with immediate(db):
            write_crawl(db, archived_week("archive:2025-11-17", "2025-11-17", "2025-11-23", "2025-11-24"))
        assert not monday_series_update.stale(db)
        assert [r[0] for r in db.execute("SELECT week_start FROM monday_series ORDER BY 1")] == [
            "2025-11-03", "2025-11-10", "2025-11-17"]
    finally:
        db.close()
    check_against_rebuild(tmp_path / "history.db")
