"""A guard that fails the test run when the checkout's own ``data/`` or ``reports/`` changed during it:
tests write only under their tmp_path, and a user's history or published report must survive a run.

tests/conftest.py registers these hooks. Under pytest-xdist they act in the controller only, whose
session starts before the first worker's and finishes after the last one's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

GUARDED = ("data", "reports")

# A folder's state: None when it does not exist, else each file's (size, mtime in ns) and each
# subfolder (state None) by its path inside the checkout.
Listing = dict[str, tuple[int, int] | None]

_BEFORE = pytest.StashKey[dict]()
_CHANGES = pytest.StashKey[list]()


def listing(root: Path) -> dict[str, Listing | None]:
    return {name: _folder_listing(root, root / name) for name in GUARDED}


def _folder_listing(root: Path, folder: Path) -> Listing | None:
    if not folder.is_dir():
        return None
    entries: Listing = {}
    for parent, dirs, files in os.walk(folder):
        for name in dirs:
            entries[str((Path(parent) / name).relative_to(root))] = None
        for name in files:
            path = Path(parent) / name
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while we walked: the next listing will differ anyway
                continue
            entries[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return entries


def changes(before: dict[str, Listing | None], after: dict[str, Listing | None]) -> list[str]:
    """One line per created, removed or modified folder or file of the guarded folders."""
    found: list[str] = []
    for name in GUARDED:
        old, new = before.get(name), after.get(name)
        if old is None and new is None:
            continue
        if old is None or new is None:
            found.append(f"{name}/ {'created' if old is None else 'removed'}")
            old, new = old or {}, new or {}
        for path in sorted(old.keys() | new.keys()):
            if path not in old:
                found.append(f"{path} created")
            elif path not in new:
                found.append(f"{path} removed")
            elif old[path] != new[path]:
                found.append(f"{path} modified")
    return found


def _is_xdist_worker(config: Any) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _is_xdist_worker(session.config):
        session.config.stash[_BEFORE] = listing(session.config.rootpath)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _is_xdist_worker(config) or _BEFORE not in config.stash:
        return
    found = changes(config.stash[_BEFORE], listing(config.rootpath))
    config.stash[_CHANGES] = found
    if found and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    found = config.stash.get(_CHANGES, [])
    if found:
        terminalreporter.section("the checkout's data/ or reports/ changed during the run", sep="!", red=True)
        terminalreporter.line("A test wrote outside its tmp_path (or something else wrote there meanwhile):")
        for line in found:
            terminalreporter.line(f"  {line}", red=True)
