#!/usr/bin/env python3
"""The history file between two workflow runs: checked when restored, copied whole before upload.

    history-file.py check PATH      PRAGMA integrity_check is "ok" and the file has a `crawls` table
    history-file.py copy SRC DST    one self-contained file (the write-ahead log folded in), then checked

One line on stdout when it is fine; one line on stderr and exit 1 when it is not. Read-only on
PATH and SRC: nothing here creates, migrates or changes a history.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path


class BadHistory(Exception):
    pass


def read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise BadHistory("no such file")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def check(path: Path) -> str:
    """What the file holds, or BadHistory saying why it cannot be used."""
    with read_only(path) as db:
        try:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BadHistory(f"integrity_check: {'; '.join(problems[:5])}")
            if not db.execute("select 1 from sqlite_master where type = 'table' and name = 'crawls'").fetchone():
                raise BadHistory("no crawls table: not a history")
            crawls, latest = db.execute("select count(*), max(started_at) from crawls").fetchone()
        except sqlite3.DatabaseError as error:
            raise BadHistory(str(error)) from error
    return f"{crawls} crawls, the latest started {latest}"


def copy(source: Path, target: Path) -> str:
    """SQLite's online backup: every committed page, the write-ahead log's included, in one file."""
    with read_only(source) as db:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        with sqlite3.connect(target) as copied:
            try:
                db.backup(copied)
            except sqlite3.DatabaseError as error:
                raise BadHistory(str(error)) from error
    return check(target)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "check":
        path, action = Path(argv[1]), lambda: check(Path(argv[1]))
    elif len(argv) == 3 and argv[0] == "copy":
        path, action = Path(argv[1]), lambda: f"copied to {argv[2]}: " + copy(Path(argv[1]), Path(argv[2]))
    else:
        print("usage: history-file.py check PATH | copy SRC DST", file=sys.stderr)
        return 2
    try:
        print(f"{path}: {action()}")
    except (BadHistory, sqlite3.DatabaseError) as error:
        print(f"{path}: not a usable history: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
