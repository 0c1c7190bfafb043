"""The weekly GitHub Actions workflow (.github/workflows/weekly.yml) and the scripts it runs.

actionlint (with shellcheck on every `run:` block) passes on the workflow and fails on broken
copies of it; the verdict summary and the history file check run on histories written by real
`scrapy crawl` runs; the step that commits the report runs in a real git clone pushing to a local
bare repository. What needs GitHub itself (the release that keeps the history, the schedule) is
not run here.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, command_here
from tests.deploy_scripts import BIN
from tests.factory import SnapshotSpec, build_snapshot, with_models

WORKFLOW = ROOT / ".github" / "workflows" / "weekly.yml"
SCRIPTS = ROOT / ".github" / "scripts"
PUBLISHED, REJECTED = "gh-101-1", "gh-102-1"  # crawl ids as the workflow names them (-a _job=...)
BOT = "github-actions[bot]"


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """actionlint, running shellcheck on the `run:` blocks (pyflakes: no `shell: python` step here)."""
    return subprocess.run([str(BIN / "actionlint"), "-no-color", "-oneline", "-shellcheck", str(BIN / "shellcheck"),
                           "-pyflakes", "", str(path)], capture_output=True, text=True, timeout=120)


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps() -> dict[str, dict]:
    return {step.get("name", step.get("uses")): step for step in workflow()["jobs"]["crawl"]["steps"]}


def majors(text: str) -> str:
    """The workflow with each action at its major version (v7.0.1 -> v7): actionlint knows the inputs
    of popular actions by major version only, so this copy gets its inputs checked too."""
    return re.sub(r"(uses: [\w./-]+@v\d+)\.\d+\.\d+", r"\1", text)


# --- actionlint -------------------------------------------------------------------------------

def test_actionlint_passes_on_the_workflow(tmp_path):
    result = actionlint(WORKFLOW)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr
    copy = tmp_path / "weekly.yml"
    copy.write_text(majors(WORKFLOW.read_text()))
    assert copy.read_text() != WORKFLOW.read_text()
    result = actionlint(copy)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


@pytest.mark.parametrize("original, broken, complaint", [
    ("steps.crawl.outputs.exit-code == '0'", "steps.crawll.outputs.exit-code == '0'",
     'property "crawll" is not defined'),
    ('exit "$EXIT_CODE"', "exit $EXIT_CODE", "SC2086"),
    ('cron: "17 6 * * 1"', 'cron: "17 6 * * 8"', "invalid CRON format"),
    ("python-version: ", "python-versoin: ", 'input "python-versoin" is not defined'),
    ("contents: write", "contents: push", "invalid"),
], ids=["unknown-step", "shellcheck", "cron", "action-input", "permission"])
def test_actionlint_fails_on_a_broken_copy(tmp_path, original, broken, complaint):
    text = majors(WORKFLOW.read_text())
    assert original in text
    copy = tmp_path / "weekly.yml"
    copy.write_text(text.replace(original, broken, 1))
    result = actionlint(copy)
    assert result.returncode == 1 and complaint in result.stdout, result.stdout + result.stderr


# --- what the workflow promises ---------------------------------------------------------------

def test_the_workflow_runs_weekly_one_at_a_time_with_least_permissions():
    spec = workflow()
    triggers = spec[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    minute, hour, day, month, weekday = triggers["schedule"][0]["cron"].split()
    assert (day, month, weekday) == ("*", "*", "1") and int(hour) < 12  # Monday morning, UTC
    assert spec["permissions"] == {}
    assert spec["jobs"]["crawl"]["permissions"] == {"contents": "write"}
    assert spec["concurrency"]["cancel-in-progress"] is False
    for step in spec["jobs"]["crawl"]["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+\.\d+\.\d+", step["uses"]), step["uses"]
    by_name = steps()
    assert by_name["actions/setup-python@v7.0.0"]["with"]["python-version"] == "3.11"
    assert by_name["Install the pinned requirements"]["run"] == "python -m pip install -r requirements.txt"
    # The live site with the project's own polite settings: no -s on the command line.
    crawl = by_name["Crawl"]["run"]
    assert 'scrapy crawl rankings -a "_job=$CRAWL_ID"' in crawl and " -s" not in crawl
    assert "history-file.py check restored/history.db" in by_name["Restore the history"]["run"]
    # What each exit code leads to: saved on 0, 3 and 4; committed on 0 only; the job failed otherwise.
    saved_on = """contains(fromJSON('["0", "3", "4"]'), steps.crawl.outputs.exit-code)"""
    assert saved_on in by_name["Save the history"]["if"]
    assert by_name["Commit the report"]["if"] == "steps.crawl.outputs.exit-code == '0'"
    assert by_name["Write the verdict"]["if"] == "always()"
    assert "steps.crawl.outputs.exit-code != '0'" in by_name["Fail unless published with its report"]["if"]


def test_the_token_reaches_only_the_steps_that_call_github():
    """Not pip, not the crawl: the token is in the env of the steps that restore, save and commit;
    the clone keeps no credentials; the report goes to published/, which no local crawl writes."""
    job = workflow()["jobs"]["crawl"]
    assert "GH_TOKEN" not in job["env"] and job["env"]["ORSTATS_REPORT_DIR"] == "published"
    holders = {step.get("name", step.get("uses")) for step in job["steps"] if "GH_TOKEN" in step.get("env", {})}
    assert holders == {"Restore the history", "Save the history", "Commit the report"}
    assert not any("github.token" in str(step.get("run", "")) for step in job["steps"])
    assert steps()["actions/checkout@v7.0.1"]["with"]["persist-credentials"] is False
    assert "published/" not in (ROOT / ".gitignore").read_text() and "/reports/*" in (ROOT / ".gitignore").read_text()


# --- the verdict summary, on real crawls --------------------------------------------------------

@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """One history, as the workflow's accumulates: a published crawl, then a rejected one (no split
    for the two biggest models: split_coverage fails)."""
    folder = tmp_path_factory.mktemp("workflow-history")
    db = folder / "data" / "history.db"
    no_split = with_models((0, {"activity": "missing"}), (1, {"activity": "missing"}))
    crawls = {PUBLISHED: (SnapshotSpec(), 0), REJECTED: (SnapshotSpec(models=no_split), 3)}
    for crawl_id, (spec, expected_exit) in crawls.items():
        snapshot = build_snapshot(folder / crawl_id, spec)
        result = command_here("crawl", "rankings", "-a", f"snapshot={snapshot}", "-a", "top=all",
                              "-a", f"_job={crawl_id}", "-s", f"ORSTATS_DB={db}")
        assert result.returncode == expected_exit, result.stderr[-3000:]
    return db


def verdict(db: Path, crawl_id: str, exit_code: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    outputs = tmp_path / "github_output"
    result = subprocess.run([sys.executable, str(SCRIPTS / "verdict-summary.py"), "--db", str(db), "--crawl-id",
                             crawl_id, "--exit-code", exit_code, "--github-output", str(outputs)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout, dict(line.split("=", 1) for line in outputs.read_text().splitlines())


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of every table row, as a reader sees them (escapes undone)."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not re.fullmatch(r"[|\-\s]+", line):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            rows.append([re.sub(r"\\(.)", r"\1", cell).strip() for cell in cells])
    return rows


def stored(db: Path, crawl_id: str) -> dict:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        connection.row_factory = sqlite3.Row
        return dict(connection.execute("select * from crawls where id = ?", [crawl_id]).fetchone())


def not_passed(crawl: dict) -> list[tuple[str, str, str]]:
    checks = json.loads(crawl["checks"])
    return [(c["name"], c["result"], c["message"]) for c in checks if c["result"] not in ("pass", "skip")]


def test_summary_of_a_published_crawl(history, tmp_path):
    crawl = stored(history, PUBLISHED)
    markdown, outputs = verdict(history, PUBLISHED, "0", tmp_path)
    assert markdown.startswith("## Weekly crawl: published\n")
    rows = {row[0]: row[1] for row in table_rows(markdown) if len(row) == 2}
    assert rows["exit code"] == "0" and rows["crawl"] == PUBLISHED and rows["status"] == "published"
    assert rows["week"] == f"{crawl['week_start']}..{crawl['week_end']}" == "2026-02-02..2026-02-08"
    assert outputs == {"status": "published", "week": "2026-02-02..2026-02-08"}
    flagged = [tuple(row) for row in table_rows(markdown) if len(row) == 3][1:]  # after the header row
    assert flagged == not_passed(crawl)


def test_summary_of_a_rejected_crawl_lists_the_failed_checks_first(history, tmp_path):
    crawl = stored(history, REJECTED)
    assert crawl["status"] == "rejected"
    markdown, outputs = verdict(history, REJECTED, "3", tmp_path)
    assert markdown.startswith("## Weekly crawl: rejected by the quality gate")
    assert outputs == {"status": "rejected", "week": "2026-02-02..2026-02-08"}
    header, *checks = [tuple(row) for row in table_rows(markdown) if len(row) == 3]
    assert header == ("check", "result", "message")
    expected = not_passed(crawl)
    assert sorted(checks) == sorted(expected) and "split_coverage" in {name for name, _, _ in checks}
    results = [result for _, result, _ in checks]
    assert results == sorted(results, key=lambda result: result != "fail")  # fails, then flags


def test_summary_of_a_week_published_without_its_report(history, tmp_path):
    markdown, outputs = verdict(history, PUBLISHED, "4", tmp_path)
    assert markdown.startswith("## Weekly crawl: published, but the report could not be written")
    assert "`scrapy report`" in markdown and outputs["status"] == "published"


@pytest.mark.parametrize("case", ["no-verdict", "no-history", "not-run", "damaged"])
def test_summary_without_a_verdict_says_what_is_known(history, tmp_path, case):
    db, crawl_id, code = history, "gh-103-1", "1"
    if case == "no-history":
        db = tmp_path / "data" / "history.db"
    elif case == "not-run":
        code = ""
    elif case == "damaged":
        db = tmp_path / "history.db"
        db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    markdown, outputs = verdict(db, crawl_id, code, tmp_path)
    rows = {row[0]: row[1] for row in table_rows(markdown) if len(row) == 2}
    assert outputs == {"status": "none", "week": "unknown"}
    expected = {
        "no-verdict": f"no verdict stored for crawl {crawl_id}; the latest stored crawl is {REJECTED} "
                      "(rejected, week ending 2026-02-08)",
        "no-history": f"no history at {db}",
        "not-run": f"no verdict stored for crawl {crawl_id}",
        "damaged": f"the history at {db} cannot be read",
    }[case]
    assert rows["verdict"].startswith(expected)
    heading = "the crawl did not run" if case == "not-run" else "failed: nothing published"
    assert markdown.startswith(f"## Weekly crawl: {heading}")


def test_summary_cells_show_markdown_and_html_literally():
    """A check message naming a hostile model: shown as text, the table intact."""
    cell = runpy.run_path(str(SCRIPTS / "verdict-summary.py"))["cell"]  # the script's own function
    hostile = "model `a|b` <img src=x onerror=alert(1)> **bold** [link](http://x) &amp; ~~gone~~ \\| #1\nnext"
    row = f"| {cell(hostile)} |"
    assert table_rows(row) == [[" ".join(hostile.split())]]
    inside = row[2:-2]
    unescaped = re.findall(r"(?<!\\)(?:\\\\)*[<>*`\[\]&~#|]", inside)  # after an even run of backslashes
    assert unescaped == [], inside


# --- the history file between runs --------------------------------------------------------------

def history_file(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPTS / "history-file.py"), *args], capture_output=True,
                          text=True, timeout=60)


def crawl_rows(db: Path, immutable: bool = False) -> list[tuple]:
    """The crawls; ``immutable`` reads the main file only, as one would after copying it alone."""
    mode = "immutable=1" if immutable else "mode=ro"
    with sqlite3.connect(f"file:{db}?{mode}", uri=True) as connection:
        return connection.execute("select * from crawls order by id").fetchall()


def test_history_file_check_and_copy(history, tmp_path):
    checked = history_file("check", str(history))
    assert checked.returncode == 0 and checked.stdout.startswith(f"{history}: 2 crawls, the latest started ")
    copy = tmp_path / "upload" / "history.db"
    copied = history_file("copy", str(history), str(copy))
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.startswith(f"{history}: copied to {copy}: 2 crawls")
    # One file, the write-ahead log folded in: read without any -wal, it holds every crawl.
    alone = tmp_path / "alone" / "history.db"
    alone.parent.mkdir()
    shutil.copy(copy, alone)
    assert crawl_rows(alone, immutable=True) == crawl_rows(history) and len(crawl_rows(history)) == 2


@pytest.mark.parametrize("damage", ["missing", "empty", "not-sqlite", "truncated", "overwritten-pages", "not-history"])
def test_history_file_refuses_a_damaged_file(history, tmp_path, damage):
    path = tmp_path / "history.db"
    healthy = tmp_path / "healthy.db"
    assert history_file("copy", str(history), str(healthy)).returncode == 0
    data = healthy.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "not-sqlite":
        path.write_text("<html>Not Found</html>")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "overwritten-pages":
        path.write_bytes(data[:8192] + b"\x5a" * 8192 + data[16384:])
    elif damage == "not-history":
        sqlite3.connect(path).execute("create table t (x)").connection.close()
    for result in (history_file("check", str(path)), history_file("copy", str(path), str(tmp_path / "out.db"))):
        assert result.returncode == 1 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"{path}: not a usable history: ")


# --- the commit step, in a real git clone --------------------------------------------------------

def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture
def clone(tmp_path) -> Path:
    """A shallow clone (as actions/checkout makes) of a bare `origin` whose main holds the project's
    .gitignore and reports/.gitkeep."""
    origin, seed, work = tmp_path / "origin.git", tmp_path / "seed", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "clone", "--quiet", str(origin), str(seed))
    shutil.copy(ROOT / ".gitignore", seed / ".gitignore")
    (seed / "reports").mkdir()
    (seed / "reports" / ".gitkeep").write_text("")
    git(seed, "add", ".")
    git(seed, "-c", "user.name=dev", "-c", "user.email=dev@example.org", "commit", "--quiet", "-m", "start")
    git(seed, "push", "--quiet", "origin", "main")
    git(tmp_path, "clone", "--quiet", "--depth", "1", origin.as_uri(), str(work))
    return work


def commit_step(work: Path, tmp_path: Path) -> str:
    """The step's script as GitHub runs a `run:` block (bash -e); returns what it added to the summary."""
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_REF_NAME": "main", "CRAWL_ID": PUBLISHED, "WEEK": "2026-02-02..2026-02-08",
           "GH_TOKEN": "test-token"}
    result = subprocess.run(["bash", "-e", "-c", steps()["Commit the report"]["run"]], cwd=work, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return summary.read_text()


def test_commit_step_pushes_the_report_once(history, clone, tmp_path):
    reports = history.parent / "reports"  # the published crawl's report, beside its history
    assert (reports / "README.md").is_file()
    shutil.copytree(reports, clone / "published")  # where the workflow's crawl writes it (ORSTATS_REPORT_DIR)
    (clone / "data").mkdir()
    shutil.copy(history, clone / "data" / "history.db")  # never committed: it lives in the release

    said = commit_step(clone, tmp_path)
    head = git(clone, "rev-parse", "--short", "HEAD").strip()
    assert said == f"published/ committed: {head}\n"
    origin = clone.parent / "origin.git"
    assert git(origin, "log", "-1", "--format=%an <%ae>", "main").strip() == (
        f"{BOT} <41898282+{BOT}@users.noreply.github.com>")
    assert git(origin, "log", "-1", "--format=%s", "main").strip() == (
        f"Weekly report: week 2026-02-02..2026-02-08 (crawl {PUBLISHED})")
    files = set(git(origin, "show", "--name-only", "--format=", "main").split())
    report_files = {str(path.relative_to(clone)) for path in (clone / "published").rglob("*") if path.is_file()}
    assert files == report_files and "published/README.md" in files
    assert "test-token" not in (clone / ".git" / "config").read_text()  # the header was never stored
    # A contributor's own crawl writes reports/, ignored: nothing tracked changes.
    (clone / "reports" / "README.md").write_text("# a local demo crawl\n")
    assert git(clone, "status", "--porcelain") == ""

    assert commit_step(clone, tmp_path) == "published/ unchanged: nothing committed\n"
    assert git(origin, "rev-list", "--count", "main").strip() == "2"


def test_commit_step_rebases_onto_a_push_made_during_the_crawl(clone, tmp_path):
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(tmp_path / "origin.git"), str(other))
    (other / "NOTES.md").write_text("pushed while the crawl ran\n")
    git(other, "add", "NOTES.md")
    git(other, "-c", "user.name=dev", "-c", "user.email=dev@example.org", "commit", "--quiet", "-m", "notes")
    git(other, "push", "--quiet", "origin", "main")

    (clone / "published").mkdir()
    (clone / "published" / "README.md").write_text("# the week's report\n")
    commit_step(clone, tmp_path)
    log = git(tmp_path / "origin.git", "log", "--format=%s", "main").splitlines()
    assert log == [f"Weekly report: week 2026-02-02..2026-02-08 (crawl {PUBLISHED})", "notes", "start"]
