"""`scrapy crawl rankings` refusing to start: one line, a documented exit code, no traceback and no
request leaving the machine, for a bad spider argument or a snapshot that is not there. The refusals
run the command in process (scrapy_here); `-h`, an unknown spider and a clean crawl run it as a user
does, in a process of its own."""

from __future__ import annotations

import pytest
import pytest_twisted

from orstats_crawler.commands.crawl import EXIT_ERROR, EXIT_USAGE
from tests.conftest import ROOT, run_scrapy, scrapy_here


@pytest.mark.parametrize("top", ["abc", "0", "-2"])
@pytest_twisted.ensureDeferred
async def test_a_bad_top_argument_is_a_usage_error(tmp_path, demo_snapshot, top):
    done = await scrapy_here("crawl", "rankings", "-a", f"top={top}", "-a", f"snapshot={demo_snapshot}",
                             f"-sORSTATS_DB={tmp_path / 'history.db'}")
    assert done.returncode == EXIT_USAGE
    [line] = [line for line in done.stderr.splitlines() if "exit code" in line]
    assert f"-a top='{top}' (ORSTATS_TOP): give a positive number of splits, or 'all'" in line
    assert "Traceback" not in done.stderr and not (tmp_path / "history.db").exists()


@pytest_twisted.ensureDeferred
async def test_a_missing_snapshot_stops_the_crawl_before_any_request(tmp_path, demo_snapshot, replay_server):
    server = replay_server(demo_snapshot)  # where the crawl would go if it went online
    done = await scrapy_here("crawl", "rankings", "-a", f"snapshot={tmp_path / 'nonexistent'}",
                             f"-sOPENROUTER_BASE_URL={server.base_url}", f"-sORSTATS_DB={tmp_path / 'history.db'}")
    assert done.returncode == EXIT_ERROR
    assert server.requests == []
    [line] = [line for line in done.stderr.splitlines() if "exit code" in line]
    assert f"snapshot {tmp_path / 'nonexistent'}: no manifest.json there" in line
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("argument", "says"), [
    ("tp=all", "-a tp='all': no such argument; accepted: snapshot, record, top, force"),
    ("bogus=1", "-a bogus='1': no such argument; accepted: snapshot, record, top, force"),
    ("force=maybe", "-a force='maybe': give 1 or 0 (true or false), or yes or no"),
])
@pytest_twisted.ensureDeferred
async def test_an_unknown_argument_or_a_bad_switch_is_a_usage_error(tmp_path, demo_snapshot, replay_server, argument,
                                                                    says):
    server = replay_server(demo_snapshot)  # where the crawl would go if it started
    done = await scrapy_here("crawl", "rankings", "-a", argument, f"-sOPENROUTER_BASE_URL={server.base_url}",
                             f"-sORSTATS_DB={tmp_path / 'history.db'}")
    assert done.returncode == EXIT_USAGE
    [line] = [line for line in done.stderr.splitlines() if "exit code" in line]
    assert line.endswith(f"ERROR: exit code 2: the crawl could not start: {says}")
    assert "Traceback" not in done.stderr and server.requests == [] and not (tmp_path / "history.db").exists()


@pytest_twisted.ensureDeferred
async def test_an_unknown_spider_is_one_line_and_a_usage_error(tmp_path):
    done = await scrapy_here("crawl", "nosuchspider", f"-sORSTATS_DB={tmp_path / 'history.db'}")
    assert done.returncode == EXIT_USAGE
    [line] = [line for line in done.stderr.splitlines() if "nosuchspider" in line]
    assert line.endswith("ERROR: exit code 2: no spider named 'nosuchspider'; the spiders: archive, rankings")
    assert "Traceback" not in done.stderr and "KeyError" not in done.stderr


@pytest_twisted.ensureDeferred
async def test_help_lists_the_spiders_arguments_and_the_exit_codes():
    done = await scrapy_here("crawl", "rankings", "-h")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = lines.index("Arguments of spider rankings (-a NAME=VALUE; any other is a usage error):")
    arguments = [line.split()[1].split("=")[0] for line in lines[start + 1:start + 5]]
    assert arguments == ["snapshot", "record", "top", "force"]
    codes = lines[lines.index("Exit codes:") + 1:]
    assert [line.split()[0] for line in codes if line.strip()] == ["0", "1", "2", "3", "4"]
    assert "rejected by the quality gate" in codes[3]


def test_a_clean_crawl_logs_no_warning_and_reports_beside_its_history(tmp_path, demo_snapshot):
    """The README's demo crawl into a history elsewhere: nothing in the log is a WARNING (components
    that are simply off say so at DEBUG), and the report goes beside that history, not into the
    checkout's reports/."""
    checkout_reports = sorted((path, path.stat().st_mtime_ns) for path in (ROOT / "reports").rglob("*"))
    db = tmp_path / "elsewhere" / "x.db"
    env = {"ORSTATS_DB": str(db)}  # as the environment: run_scrapy sets no report folder then
    done = run_scrapy("crawl", "rankings", "-a", f"snapshot={demo_snapshot}", "-a", "top=all", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [line for line in done.stderr.splitlines() if " WARNING: " in line or " ERROR: " in line] == []
    assert "'log_count/WARNING'" not in done.stderr
    assert (tmp_path / "elsewhere" / "reports" / "README.md").is_file()
    assert sorted((path, path.stat().st_mtime_ns) for path in (ROOT / "reports").rglob("*")) == checkout_reports


@pytest_twisted.ensureDeferred
async def test_each_spider_takes_its_own_arguments(tmp_path):
    """`top` is the rankings spider's: the archive spider refuses it, naming what it takes."""
    done = await scrapy_here("crawl", "archive", "-a", "top=5", f"-sORSTATS_DB={tmp_path / 'history.db'}",
                             "-s", "ORSTATS_ARCHIVE_URL=http://127.0.0.1:9")
    assert done.returncode == EXIT_USAGE
    [line] = [line for line in done.stderr.splitlines() if "exit code" in line]
    assert line.endswith("-a top='5': no such argument; accepted: snapshot, record, force, since, until")
    assert "Traceback" not in done.stderr and not (tmp_path / "history.db").exists()
