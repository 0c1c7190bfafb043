"""The `sqlite` feed format: a crawl's items in a SQLite file, one table per kind of item.

``scrapy crawl rankings -O crawl.sqlite`` writes one (any feed storage works: the exporter builds
the database in memory and writes its image into the feed's file when the feed closes); the
history feed (publish/feed.py) writes one per crawl and merges it into the history. ``read_items``
gives the items back, as the spider yielded them after the pipelines.

Each table is named after its item class (``leaderboard_row``), one column per field, rows in the
order the items arrived: numbers and strings as they are, booleans as 0/1, days and times as ISO
text, dicts and lists as JSON (days inside them, under `date` or `day`, as ISO text too).
"""

from __future__ import annotations

import json
import operator
import os
import re
import sqlite3
import types
import typing
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path
from functools import cache
from typing import IO, Any, Callable, Iterator

from scrapy.exporters import BaseItemExporter

from orstats_crawler.items import ITEM_TYPES

FORMAT = "sqlite"
BATCH = 500  # items held before they are written
_DAY_KEYS = ("date", "day")  # keys of nested dicts that hold a day
_SQL_TYPES = {int: "INTEGER", float: "REAL", bool: "INTEGER", str: "TEXT"}


def table_name(item_type: type) -> str:
    """`LeaderboardRow` -> `leaderboard_row`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", item_type.__name__).lower()


class SqliteItemExporter(BaseItemExporter):
    def __init__(self, file: IO[bytes], **kwargs: Any):
        super().__init__(dont_fail=True, **kwargs)
        self.file = file
        self.db: sqlite3.Connection | None = None
        self.pending: dict[type, list[tuple[Any, ...]]] = {}

    def start_exporting(self) -> None:
        if self._has_content(self.file):
            raise ValueError(f"the {FORMAT} feed cannot append to {getattr(self.file, 'name', 'its file')}, "
                             "which is not empty: use -O (overwrite) instead of -o")
        # In memory: the file is a crawl's scratch, written whole at the end, so a file on disk would
        # only add a journal and a sync per table for nothing.
        self.db = sqlite3.connect(":memory:")
        for item_type in ITEM_TYPES:
            columns = ", ".join(f"[{name}] {_sql_type(kinds)}" for name, kinds in _columns(item_type))
            self.db.execute(f"CREATE TABLE [{table_name(item_type)}] ({columns})")

    def export_item(self, item: Any) -> None:
        item_type = type(item)
        if item_type not in ITEM_TYPES:
            raise TypeError(f"the {FORMAT} feed has no table for {item_type.__name__} items")
        batch = self.pending.setdefault(item_type, [])
        batch.append(tuple(map(_to_sql, _values(item_type)(item))))
        if len(batch) >= BATCH:
            self._flush()

    def finish_exporting(self) -> None:
        assert self.db is not None
        try:
            self._flush()
            self.db.commit()
            self.file.write(self.db.serialize())
            self.file.flush()
        finally:
            self.db.close()

    def _flush(self) -> None:
        assert self.db is not None
        for item_type, rows in self.pending.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                self.db.executemany(f"INSERT INTO [{table_name(item_type)}] VALUES ({marks})", rows)
                rows.clear()

    @staticmethod
    def _has_content(file: IO[bytes]) -> bool:
        try:
            return file.tell() > 0 or os.fstat(file.fileno()).st_size > 0
        except (OSError, ValueError, AttributeError):
            return False  # not a real file (a pipe, stdout): nothing to append to


def read_items(path: str | Path) -> Iterator[Any]:
    """The items of a `sqlite` feed file, kind by kind (ITEM_TYPES order), each in arrival order."""
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        for item_type in ITEM_TYPES:
            plan = _columns(item_type)
            columns = ", ".join(f"[{name}]" for name, _ in plan)
            for row in db.execute(f"SELECT {columns} FROM [{table_name(item_type)}] ORDER BY rowid"):
                yield item_type(**{name: _from_sql(value, kinds) for (name, kinds), value in zip(plan, row)})
    finally:
        db.close()


@cache
def _columns(item_type: type) -> tuple[tuple[str, frozenset[Any]], ...]:
    """Each field of an item class and the plain types it admits, in column order: worked out once per
    class, not per value (resolving type hints is far slower than converting a value)."""
    hints = typing.get_type_hints(item_type)
    return tuple((f.name, frozenset(_kinds(hints[f.name]))) for f in fields(item_type))


@cache
def _values(item_type: type) -> Callable[[Any], tuple[Any, ...]]:
    """Reads an item's field values, in column order (a tuple even for a class of one field)."""
    names = [name for name, _ in _columns(item_type)]
    read = operator.attrgetter(*names)
    return read if len(names) > 1 else lambda item: (read(item),)


def _sql_type(kinds: frozenset[Any]) -> str:
    found = [_SQL_TYPES[kind] for kind in kinds if kind in _SQL_TYPES]
    return found[0] if found and len(set(found)) == 1 and Any not in kinds else ""


def _kinds(annotation: Any) -> set[Any]:
    """The plain types an annotation admits: `int | None` -> {int, NoneType}, `dict[str, Any]` -> {dict}."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return {kind for arg in typing.get_args(annotation) for kind in _kinds(arg)}
    return {typing.get_origin(annotation) or annotation}


def _to_sql(value: Any) -> Any:
    if value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not stored by the {FORMAT} feed")


def _from_sql(value: Any, kinds: frozenset[Any]) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if datetime in kinds:
            return datetime.fromisoformat(value)
        if date in kinds and _is_day(value):
            return date.fromisoformat(value)
        if kinds & {dict, list}:
            return json.loads(value, object_hook=_days_in)
    if bool in kinds and isinstance(value, int):
        return bool(value)
    return value


def _is_day(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-"


def _days_in(node: dict[str, Any]) -> dict[str, Any]:
    for key in _DAY_KEYS:
        if isinstance(node.get(key), str) and _is_day(node[key]):
            node[key] = date.fromisoformat(node[key])
    return node
