"""`scrapy crawl rankings` refusing to start: one line, a documented exit code, no traceback and no
request leaving the machine, for a bad spider argument or a snapshot that is not there."""

from __future__ import annotations

import pytest

from orstats_crawler.commands.crawl import EXIT_ERROR, EXIT_USAGE
from tests.conftest import run_scrapy


@pytest.mark.parametrize("top", ["abc", "0", "-2"])
def test_a_bad_top_argument_is_a_usage_error(tmp_path, demo_snapshot, top):
    done = run_scrapy("crawl", "rankings", "-a", f"top={top}", "-a", f"snapshot={demo_snapshot}",
                      f"-sORSTATS_DB={tmp_path / 'history.db'}")
    assert done.returncode == EXIT_USAGE
    [line] = [line for line in done.stderr.splitlines() if "exit code" in line]
    assert f"-a top='{top}' (ORSTATS_TOP): give a positive number of splits, or 'all'" in line
    assert "Traceback" not in done.stderr and not (tmp_path / "history.db").exists()


def test_a_missing_snapshot_stops_the_crawl_before_any_request(tmp_path, demo_snapshot, replay_server):
    server = replay_server(demo_snapshot)  # where the crawl would go if it went online
    done = run_scrapy("crawl", "rankings", "-a", f"snapshot={tmp_path / 'nonexistent'}",
                      f"-sOPENROUTER_BASE_URL={server.base_url}", f"-sORSTATS_DB={tmp_path / 'history.db'}")
    assert done.returncode == EXIT_ERROR
    assert server.requests == []
    [line] = [line for line in done.stderr.splitlines() if "exit code" in line]
    assert f"snapshot {tmp_path / 'nonexistent'}: no manifest.json there" in line
    assert "Traceback" not in done.stderr
