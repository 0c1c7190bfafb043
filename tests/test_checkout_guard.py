"""The guard of the checkout's data/ and reports/ (tests/checkout_guard.py), run on a tiny project of
its own in a child pytest: a test that writes there fails the run, one that writes under its tmp_path
does not."""

from __future__ import annotations

import pytest

from tests.checkout_guard import changes, listing
from tests.conftest import ROOT

WRITES_HISTORY = """
from pathlib import Path

def test_writes_the_checkouts_history():
    Path("data").mkdir(exist_ok=True)
    Path("data/history.db").write_bytes(b"not yours")
"""

REWRITES_REPORT = """
from pathlib import Path

def test_rewrites_the_published_report():
    Path("reports/README.md").write_text("# another week, longer")
"""

WRITES_TMP_PATH = """
def test_writes_its_own_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "history.db").write_bytes(b"mine")
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A checkout of its own whose conftest loads the guard, with a published report in reports/."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeini("[pytest]\n")  # its folder is the rootdir whose data/ and reports/ are guarded
    pytester.makeconftest('pytest_plugins = ["tests.checkout_guard"]\n')
    (pytester.path / "reports").mkdir()
    (pytester.path / "reports" / "README.md").write_text("# the week")
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist workers"])
def test_a_test_creating_data_fails_the_run(project: pytest.Pytester, workers: list[str]) -> None:
    """Under xdist the workers write and the controller, which lists before and after them, says so."""
    project.makepyfile(test_writes=WRITES_HISTORY)
    result = run(project, *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*the checkout's data/ or reports/ changed during the run*",
                                 "  data/ created", "  data/history.db created"])


def test_a_test_rewriting_a_report_fails_the_run(project: pytest.Pytester) -> None:
    project.makepyfile(test_writes=REWRITES_REPORT)
    result = run(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  reports/README.md modified"])


def test_a_test_writing_its_tmp_path_passes(project: pytest.Pytester) -> None:
    project.makepyfile(test_writes=WRITES_TMP_PATH)
    result = run(project)
    assert result.ret == pytest.ExitCode.OK
    assert "changed during the run" not in result.stdout.str()


def test_changes_name_each_created_removed_and_modified_entry(tmp_path) -> None:
    (tmp_path / "reports" / "weekly").mkdir(parents=True)
    (tmp_path / "reports" / "README.md").write_text("a")
    (tmp_path / "reports" / "weekly" / "2026-08-02.md").write_text("b")
    before = listing(tmp_path)
    assert changes(before, listing(tmp_path)) == []
    (tmp_path / "reports" / "README.md").write_text("a longer week")
    (tmp_path / "reports" / "weekly" / "2026-08-02.md").unlink()
    (tmp_path / "reports" / "weekly" / "2026-08-09.md").write_text("c")
    assert changes(before, listing(tmp_path)) == [
        "reports/README.md modified", "reports/weekly/2026-08-02.md removed", "reports/weekly/2026-08-09.md created"]
