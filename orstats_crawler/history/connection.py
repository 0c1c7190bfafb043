"""Opening the history: writers migrate it and keep its views current; readers never change it.

- ``open_for_writing`` (crawls, imports): creates the file and its folder if needed, sets WAL and a
  busy timeout for concurrent crawls, applies pending migrations and recreates views whose SQL
  changed, and proves it can take the write lock, all before any network work is done;
- ``open_read_only`` (the report): never creates, migrates or writes the file, and leaves no ``-wal`` or
  ``-shm`` file behind that was not there (``_connect_read_only``); refuses a file that is not a
  history or needs migrating, and creates the current views as temporary ones when those stored in
  the file are older. Every statement is refused a write (``query_only``).
Every failure is a ``HistoryError`` whose message names the file.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from sqlite_utils import Database

from orstats_crawler.history.migrations import migrations
from orstats_crawler.history.views import VIEWS

BUSY_TIMEOUT_MS = 30_000  # two crawls queue for the write lock instead of failing


class HistoryError(Exception):
    """The history file cannot be used as asked; the message names it and says why."""


def open_for_writing(path: str | Path) -> Database:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(str(path))
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        if db.journal_mode != "wal":
            db.enable_wal()
        with immediate(db):  # also proves the write lock can be taken
            _migrate(db)
            _replace_views(db, _stale_views(db))
    except (OSError, sqlite3.Error) as error:
        raise HistoryError(f"history file {path}: cannot be opened for writing ({_reason(error)})") from None
    return db


def open_read_only(path: str | Path) -> Database:
    path = Path(path)
    if path.is_dir():
        raise HistoryError(f"history file {path} is a folder, not a history file")
    if not path.is_file():
        raise HistoryError(f"history file {path} does not exist: crawl first (scrapy crawl rankings)")
    try:
        db = Database(_connect_read_only(path))
    except sqlite3.Error as error:
        raise HistoryError(f"history file {path}: cannot be read ({_reason(error)})") from None
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA query_only = ON")
        pending = migrations.pending(db)
        if pending:
            what = "is not an orstats_crawler history" if not db.table_names() else (
                f"was written by an older orstats_crawler (pending migration {pending[0].name})")
            raise HistoryError(f"history file {path} {what}: a crawl or `scrapy import-history` brings it up to date")
        if _stale_views(db):  # temporary views: the file is not touched, and all must be temporary
            db.execute("PRAGMA query_only = OFF")  # query_only refuses the temporary schema too
            for name, sql in VIEWS:  # a stored view cannot read a temporary one
                db.execute(f"CREATE TEMP VIEW [{name}] AS {sql}")
            db.execute("PRAGMA query_only = ON")
    except (sqlite3.Error, HistoryError) as error:
        db.close()  # now: a connection left to the garbage collector keeps the -wal and -shm it made
        if isinstance(error, HistoryError):
            raise
        raise HistoryError(f"history file {path}: cannot be read ({_reason(error)})") from None
    return db


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that leaves the history's folder as it found it.

    A WAL history is read through its ``-wal`` and ``-shm`` files, which SQLite creates if they are
    missing and removes only on the close of a connection that may write. So: while another
    connection may be at work (its ``-wal``, ``-shm`` or ``-journal`` is there) read ``mode=ro`` and
    leave its files to it; in a folder nobody can write to (no writer can be at work, and the files
    could not be created) read the file as immutable; otherwise open it read-write (never
    creating it: ``mode=rw``), the caller refusing every write with ``query_only``, so the close
    removes the files this connection created and nothing else changes."""
    uri = "file:" + quote(str(path.resolve()))
    companions = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
    if any(companion.exists() for companion in companions):
        return sqlite3.connect(f"{uri}?mode=ro", uri=True)
    if not os.access(path.parent, os.W_OK):
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
    return sqlite3.connect(f"{uri}?mode=rw", uri=True)


def _migrate(db: Database) -> None:
    """Apply the pending migrations. A current file is only read; a new, empty one is given what
    every migration leaves in an empty history (``_new_history``), without running them again."""
    if not migrations.pending(db):
        return
    if db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
        migrations.apply(db)
        return
    schema, rows = _new_history()
    for sql in schema:
        db.execute(sql)
    for table, values in rows.items():
        db.conn.executemany(f"INSERT INTO [{table}] VALUES ({', '.join('?' * len(values[0]))})", values)
    # The record says when the migrations were applied to this file.
    db.execute(f"UPDATE [{migrations.migrations_table}] SET applied_at = ?", [str(datetime.now(timezone.utc))])


@cache
def _new_history() -> tuple[list[str], dict[str, list[tuple]]]:
    """The schema (in the order SQLite stores it) and the rows that every migration leaves in an
    empty history, built once per process in memory by applying them."""
    db = Database(memory=True)
    migrations.apply(db)
    schema = [sql for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
    rows = {table: db.execute(f"SELECT * FROM [{table}]").fetchall() for table in db.table_names()}
    db.close()
    return schema, {table: values for table, values in rows.items() if values}


def _stale_views(db: Database) -> list[str]:
    stored = {row[0]: row[1] for row in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'")}
    return [name for name, sql in VIEWS if stored.get(name) != _create_view_sql(name, sql)]


def _replace_views(db: Database, names: list[str]) -> None:
    """Recreate the named views and every view after the first of them (they may read it)."""
    if not names:
        return
    first = min(index for index, (name, _) in enumerate(VIEWS) if name in names)
    for name, _ in reversed(VIEWS[first:]):
        db.execute(f"DROP VIEW IF EXISTS [{name}]")
    for name, sql in VIEWS[first:]:
        db.execute(_create_view_sql(name, sql))


def _create_view_sql(name: str, sql: str) -> str:
    """The statement as SQLite stores it (without trailing whitespace), so that a current view
    compares equal to its definition and is left alone."""
    return f"CREATE VIEW [{name}] AS {sql.rstrip()}"


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


@contextmanager
def immediate(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock up front (waiting up to the busy timeout),
    so two writers queue instead of failing half-way when one upgrades a read lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()
