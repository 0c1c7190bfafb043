"""README.md's commands, run as a reader would paste them (tests/readme_runner.py says which run and how),
and the runner itself: what it runs, skips, and reports when the README and the commands disagree."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.readme_runner import (README, block_env, chain, copy_of_repository, layered_venv, problems_of, read_blocks,
                                 run_block, run_readme)


def fresh_clone(tmp_path: Path) -> Path:
    if sys.prefix == sys.base_prefix:
        pytest.skip("the README test layers its venv on the one running the tests; run them in a venv")
    clone = copy_of_repository(tmp_path / "clone")
    layered_venv(clone)
    return clone


@pytest.mark.integration
def test_every_readme_command_that_can_run_offline_does_what_the_readme_says(tmp_path):
    started = time.monotonic()
    problems, report = run_readme(README.read_text(encoding="utf-8"), fresh_clone(tmp_path))
    print(f"{report}\n({time.monotonic() - started:.0f} s)")
    assert not problems, "\n".join(problems) + "\n\n" + report
    assert " exit 0" in report  # something ran


@pytest.mark.integration
@pytest.mark.parametrize("old, new, expected", [
    # A command that no longer works (a folder renamed in the README but not in demo/).
    ("import-history demo/anchor-history-sample", "import-history demo/anchor-history-samples", "exit status 1"),
    # What it prints, changed on one side only.
    ("... 2026-05-11.json: ... flag", "... 2026-05-12.json: ... flag", "does not print '2026-05-12.json:'"),
])
def test_a_readme_that_drifted_fails(tmp_path, old, new, expected):
    readme = README.read_text(encoding="utf-8")
    assert old in readme
    problems, _ = run_readme(readme.replace(old, new), fresh_clone(tmp_path), only="import-history demo/")
    assert len(problems) == 1 and expected in problems[0] and "README.md:" in problems[0], problems


SAMPLE = """
Intro.

```bash
# a comment
echo one && echo two
# prints: one ... two
touch made.txt   # a trailing comment
# leaves: made.txt
sudo reboot
echo kept && .venv/bin/python -m pytest -q && echo never
```

<!-- readme: skip network: the live site -->
```bash
scrapy crawl rankings
```

```bash
python -m http.server 8765 &
curl -s http://127.0.0.1:8765/
```

```bash
curl -u "$U:$P" http://127.0.0.1:6800/schedule.json \\
  -d project=x
```

```bash
false && echo "a && b"
echo after
```

```bash
python -m http.server 8765 > server.log 2>&1 &
curl -s http://127.0.0.1:8765/
kill $!
```

```sql
select 1;
```
"""


def test_blocks_commands_expectations_and_what_is_skipped():
    blocks = read_blocks(SAMPLE)
    assert [b.line for b in blocks] == [4, 15, 19, 24, 29, 34]  # the sql block is not a command block
    first = blocks[0].commands
    assert [(c.line, c.run_text) for c in first] == [
        (6, "echo one && echo two"), (8, "touch made.txt   # a trailing comment"), (10, ""), (11, "echo kept")]
    assert first[0].prints == ["one", "two"] and first[1].leaves == ["made.txt"]
    assert first[2].skipped == "needs root and systemd"
    assert first[3].skipped == "runs the test suite, of which this test is one"
    assert blocks[1].skipped == "network: the live site"
    assert blocks[2].skipped == "starts a server (`&`) and does not stop it"
    [curl] = blocks[3].commands
    assert curl.text.count("\n") == 1 and curl.skipped == "needs a server that another block starts"
    assert chain(blocks[4].commands[0].text) == ["false", 'echo "a && b"']
    assert blocks[5].skipped is None and all(c.run_text == c.text for c in blocks[5].commands)  # it stops its server
    with pytest.raises(ValueError, match="README.md:2: unknown marker"):
        read_blocks("\n<!-- readme: run -->\n\n```bash\necho\n```\n")


def test_a_failing_command_stops_its_block_and_names_its_line(tmp_path):
    outcomes = run_block(read_blocks(SAMPLE)[4], tmp_path, block_env(), timeout=30)
    problems = problems_of(outcomes, tmp_path)
    assert problems[0].startswith("README.md:30 `false && echo \"a && b\"`: exit status 1")
    assert problems[1] == "README.md:31 `echo after`: did not run (a command before it stopped the block)"


def test_what_a_command_prints_and_leaves_is_checked(tmp_path):
    block = read_blocks(SAMPLE)[0]
    assert problems_of(run_block(block, tmp_path, block_env(), timeout=30), tmp_path) == []
    assert (tmp_path / "made.txt").is_file()
    block.commands[0].prints = ["two", "one"]  # in this order: not what it prints
    block.commands[1].leaves = ["other.txt"]
    problems = problems_of(run_block(block, tmp_path, block_env(), timeout=30), tmp_path)
    assert [p.split("\n")[0] for p in problems] == [
        "README.md:6 `echo one && echo two`: does not print 'one' (after the pieces before it)",
        "README.md:8 `touch made.txt   # a trailing comment`: leaves no other.txt"]
