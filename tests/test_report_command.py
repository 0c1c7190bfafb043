"""`scrapy report` only reads the history, and `scrapy import-history` refuses a history it cannot
write: a file that is not a history, empty, older, missing, unwritable or on a full disk is one line
naming it and exit 1, never a traceback; and a history read for the report is left exactly as it
was found: same bytes, same modification time, no `-wal`/`-shm` file created or removed.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_twisted
from sqlite_utils import Database
from twisted.internet.defer import Deferred

from orstats_crawler.commands.crawl import EXIT_PUBLISHED
from orstats_crawler.history.connection import HistoryError, open_read_only
from orstats_crawler.history.migrations import migrations
from tests.conftest import ROOT, run_scrapy, scrapy_here
from tests.factory import SEED_DAY
from tests.anchor_factory import SAMPLE_FOLDER
from tests.test_exit_codes import crawl, full_disk, read_only, snapshot

ANCHOR_SAMPLE = ROOT / SAMPLE_FOLDER


def folder_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the folder: its bytes and modification time."""
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.iterdir())
            if path.is_file()}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A history holding one published week, its connections closed (no -wal or -shm beside it)."""
    folder = tmp_path_factory.mktemp("published")
    done = pytest_twisted.blockon(Deferred.fromCoroutine(crawl(folder, snapshot(folder, SEED_DAY))))
    assert done.returncode == EXIT_PUBLISHED, done.stderr[-3000:]
    return folder / "history.db"


def copy_of(published: Path, folder: Path) -> Path:
    """The published history, alone in a folder of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.db").write_bytes(published.read_bytes())
    return folder / "history.db"


# --- files that are not a current history ----------------------------------------------------

def not_sqlite(path: Path) -> str:
    path.write_text("week,revenue\n2026-02-08,2815251.63\n" * 200)
    return f"history file {path}: cannot be read (DatabaseError: file is not a database)"


def empty(path: Path) -> str:
    path.touch()
    return f"history file {path} is not an orstats_crawler history: a crawl or `scrapy import-history` brings it"


def older(path: Path) -> str:
    """A history written before the latest migration, in WAL mode as the crawls leave it."""
    last = migrations.pending(Database(memory=True))[-1].name
    db = Database(path)
    db.enable_wal()
    migrations.apply(db, stop_before=last)
    db.close()
    return f"history file {path} was written by an older orstats_crawler (pending migration {last})"


def missing(path: Path) -> str:
    return f"history file {path} does not exist: crawl first (scrapy crawl rankings)"


def a_folder(path: Path) -> str:
    path.mkdir()
    return f"history file {path} is a folder, not a history file"


@pytest.mark.parametrize("make", [not_sqlite, empty, older, missing, a_folder], ids=lambda make: make.__name__)
@pytest_twisted.ensureDeferred
async def test_scrapy_report_refuses_what_is_not_a_current_history_and_leaves_it_alone(tmp_path, make):
    history = tmp_path / "data" / "history.db"
    history.parent.mkdir()
    message = make(history)
    before = folder_state(history.parent)
    done = await scrapy_here("report", "--db", str(history), "--output", str(tmp_path / "reports"))
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"scrapy report: {message}")
    assert folder_state(history.parent) == before  # never created, written or migrated; no -wal, no -shm
    assert not (tmp_path / "reports").exists()


def test_open_read_only_refuses_a_file_that_needs_migrating_and_writes_nothing(tmp_path):
    history = tmp_path / "history.db"
    message = older(history)
    before = folder_state(tmp_path)
    with pytest.raises(HistoryError) as refused:
        open_read_only(history)
    assert str(refused.value).startswith(message)
    assert folder_state(tmp_path) == before


# --- a current history: read, never written --------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_closed_history_is_read_and_left_exactly_as_it_was(tmp_path, published):
    history = copy_of(published, tmp_path / "data")
    before = folder_state(history.parent)
    assert set(before) == {"history.db"}
    done = await scrapy_here("report", "--db", str(history), "--output", str(tmp_path / "reports"))
    assert done.returncode == 0, done.stderr
    assert "(week 2026-02-02 to 2026-02-08," in (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")
    assert folder_state(history.parent) == before


def test_read_only_statements_only(tmp_path, published):
    """The connection refuses every write, to the file and to its temporary views alike."""
    history = copy_of(published, tmp_path / "data")
    db = open_read_only(history)
    try:
        for statement in ("DELETE FROM crawls", "CREATE TABLE t (x)", "CREATE TEMP TABLE t (x)"):
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                db.execute(statement)
        assert db.execute("SELECT count(*) FROM crawls").fetchone() == (1,)
    finally:
        db.close()


@pytest_twisted.ensureDeferred
async def test_a_history_being_written_is_read_with_its_wal_which_stays(tmp_path, published):
    """A crawl's last week may still be in the -wal while another connection holds the history open:
    the report shows it, and leaves the -wal and -shm to their owner."""
    history = copy_of(published, tmp_path)
    with closing(sqlite3.connect(history)) as holder:  # another process's open connection, say Datasette
        holder.execute("SELECT count(*) FROM crawls").fetchone()
        done = await crawl(tmp_path, snapshot(tmp_path, SEED_DAY + timedelta(days=7)))
        assert done.returncode == EXIT_PUBLISHED, done.stderr[-3000:]
        state = folder_state(tmp_path)
        assert state["history.db-wal"][0]  # the new week is in the WAL, not yet in the file
        done = await scrapy_here("report", "--db", str(history), "--output", str(tmp_path / "again"))
        assert done.returncode == 0, done.stderr
        assert "(week 2026-02-09 to 2026-02-15," in (tmp_path / "again" / "README.md").read_text(encoding="utf-8")
        after = folder_state(tmp_path)
        # The -shm is the connections' shared index (every reader marks what it reads): it stays.
        assert after.pop("history.db-shm") and state.pop("history.db-shm")
        assert after == state


def test_a_history_in_a_read_only_folder_is_read(tmp_path, published):
    history = copy_of(published, tmp_path / "data")
    before = folder_state(history.parent)
    wrapper = read_only(history.parent)
    done = run_scrapy("report", "--db", str(history), "--output", str(tmp_path / "reports"), wrapper=wrapper)
    assert done.returncode == 0, done.stderr
    assert "(week 2026-02-02 to 2026-02-08," in (tmp_path / "reports" / "README.md").read_text(encoding="utf-8")
    assert folder_state(history.parent) == before


@pytest_twisted.ensureDeferred
async def test_a_bad_report_setting_is_a_usage_error(tmp_path, published):
    done = await scrapy_here("report", "--db", str(published), "--output", str(tmp_path / "reports"),
                             "-s", "ORSTATS_REPORT_TABLE_ROWS=many")
    assert done.returncode == 2
    assert "setting ORSTATS_REPORT_TABLE_ROWS='many': give a whole number of 1 or more" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "reports").exists()


# --- `scrapy import-history`: a history it cannot write ---------------------------------------

async def import_into(history: Path, wrapper: list[str] | None = None) -> tuple[int, list[str]]:
    """`scrapy import-history` of the sample: in process, or under ``wrapper`` in a process of its own."""
    argv = ("import-history", str(ANCHOR_SAMPLE), "--db", str(history))
    done = run_scrapy(*argv, wrapper=wrapper) if wrapper else await scrapy_here(*argv)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stderr.splitlines()


def corrupt(path: Path) -> str:
    not_sqlite(path)
    return "cannot be opened for writing (DatabaseError: file is not a database)"


def a_folder_in_its_place(path: Path) -> str:
    path.mkdir()
    return "cannot be opened for writing (OperationalError: unable to open database file)"


def its_folder_is_a_file(path: Path) -> str:
    path.parent.rmdir()
    path.parent.write_text("a file where the history's folder should be")
    return f"cannot be opened for writing (FileExistsError: [Errno 17] File exists: '{path.parent}')"


@pytest.mark.parametrize("make", [corrupt, a_folder_in_its_place, its_folder_is_a_file],
                         ids=lambda make: make.__name__)
@pytest_twisted.ensureDeferred
async def test_import_history_into_an_unusable_history_is_one_line(tmp_path, make):
    history = tmp_path / "data" / "history.db"
    history.parent.mkdir()
    why = make(history)
    before = folder_state(tmp_path), folder_state(history.parent) if history.parent.is_dir() else None
    code, lines = await import_into(history)
    assert code == 1
    assert lines == [f"scrapy import-history: history file {history}: {why}"]
    assert (folder_state(tmp_path), folder_state(history.parent) if history.parent.is_dir() else None) == before


@pytest_twisted.ensureDeferred
async def test_import_history_into_a_read_only_folder_is_one_line(tmp_path, published):
    history = copy_of(published, tmp_path / "data")
    before = folder_state(history.parent)
    code, lines = await import_into(history, wrapper=read_only(history.parent))
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"scrapy import-history: history file {history}: cannot be "
                                                   "opened for writing")
    assert folder_state(history.parent) == before


@pytest_twisted.ensureDeferred
async def test_import_history_on_a_full_disk_names_the_file_it_could_not_store(tmp_path):
    history = tmp_path / "data" / "history.db"
    # Room for the history's tables and views (about 272 KiB migrated) and the first weeks, not for the
    # sample's eight (320k to 380k end alike: in the middle)
    code, lines = await import_into(history, wrapper=full_disk(history.parent, size="350k"))
    assert code == 1
    [line] = lines
    assert line.startswith(f"scrapy import-history: history file {history}: cannot store {ANCHOR_SAMPLE}/")
    assert line.endswith("(OperationalError: database or disk is full); the files before it are imported")
