"""Run the fenced ```bash blocks of README.md in order on a fresh copy of the repository, as a reader
would paste them (tests/test_readme.py), so the README cannot drift from what the commands do.

Which commands run (new blocks are picked up as they are written; only those that cannot run here
need a marker):

- a block right after an HTML comment `<!-- readme: skip REASON -->` does not run (REASON is shown);
- a block that starts a process in the background (a command ending in `&`) runs only if it also
  stops it (`kill`), so no server outlives its block;
- a command, or the rest of its `&&` chain, does not run when it matches a rule of SKIP_RULES
  (root, an API key, ../shared, the test suite itself, a server started by another block...);
- everything else runs, offline: pip may not reach an index (PIP_NO_INDEX), so `pip install -r
  requirements*.txt` only checks that the venv the tests run in has what the files pin.

What is asserted: every command that runs exits 0; comment lines right after a command say what it
prints and leaves behind, and are checked too:

    .venv/bin/scrapy import-history demo/anchor-history-sample --db data/history.db
    # prints: 2026-01-25.json: import:2026-01-25 ... published ... pass
    # leaves: data/history.db

(`prints:` pieces separated by " ... " appear in that order in the command's output, stdout and
stderr together; several `prints:` lines continue one another; `leaves:` paths, separated by commas
or spaces, exist afterwards.)

The copy holds the files git tracks or would track (the working tree's, uncommitted changes
included). Its `.venv` is a venv of its own that sees the packages of the venv running the tests
(a `.pth` file) with the same console scripts and native executables (ruff), so the README's
`python3 -m venv .venv` works on it and changes nothing outside the copy.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

README = ROOT / "README.md"
BLOCK_TIMEOUT = 600  # seconds for one block; the slowest today (install and demo crawl) takes under a minute

# A command matching one of these does not run here, nor does the rest of its `&&` chain.
SKIP_RULES = [
    (re.compile(r"\bsudo\b|\bsystemctl\b"), "needs root and systemd"),
    (re.compile(r"\w*API_KEY="), "needs an API key"),
    (re.compile(r"\.\./shared\b"), "needs ../shared (the real captures), which a clone does not have"),
    (re.compile(r"\bpytest\b|\.ci/run\b"), "runs the test suite, of which this test is one"),
    (re.compile(r"\.ci/setup-tools\b"), "downloads node packages and chromium (network)"),
]
LOOPBACK = re.compile(r"\b(127\.0\.0\.1|localhost):\d+")
FENCE = re.compile(r"^ {0,3}(?P<ticks>`{3,})(?P<info>[^`]*)$")  # CommonMark: no backtick in the info string
MARKER = re.compile(r"^<!--\s*readme:\s*(?P<word>\S+)\s*(?P<reason>.*?)\s*-->$")
EXPECTATION = re.compile(r"^#\s*(?P<kind>prints|leaves):\s*(?P<text>.*)$")
BACKGROUND = re.compile(r"(?<![&>])&(?![&>])")  # a single `&` (not `&&`, not `2>&1`)
ELLIPSIS = re.compile(r"\s*(?<!\.)\.\.\.(?!\.)\s*")


@dataclass
class Command:
    line: int  # in the README, 1-based
    text: str  # as written, continuation lines included
    prints: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    run_text: str = ""  # what runs: the text, or the part of its `&&` chain before a skipped command
    skipped: str | None = None  # why (part of) it does not run


@dataclass
class Block:
    line: int  # of the opening fence
    commands: list[Command]
    skipped: str | None = None


# --- reading the README ------------------------------------------------------------------------------

def read_blocks(markdown: str) -> list[Block]:
    """The ```bash blocks, their commands and expectations, classified (see the module docstring)."""
    lines = markdown.splitlines()
    blocks, index = [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        closing = re.compile(rf"^ {{0,3}}{fence['ticks']}`*\s*$")
        end = next((i for i in range(index + 1, len(lines)) if closing.match(lines[i])), len(lines))
        if fence["info"].strip() == "bash":
            block = Block(index + 1, commands_of(lines[index + 1:end], first_line=index + 2))
            block.skipped = marker_before(lines, index) or unstopped_server(block)
            blocks.append(block)
            for command in block.commands:
                classify(command, block)
        index = end + 1
    return blocks


def marker_before(lines: list[str], fence: int) -> str | None:
    """The reason of a `<!-- readme: skip REASON -->` on the last non-blank line before the fence."""
    before = next((i for i in range(fence - 1, -1, -1) if lines[i].strip()), None)
    match = MARKER.match(lines[before].strip()) if before is not None else None
    if not match:
        return None
    if match["word"] != "skip" or not match["reason"]:
        raise ValueError(f"README.md:{before + 1}: unknown marker {lines[before].strip()!r}: "
                         "write <!-- readme: skip REASON -->")
    return match["reason"]


def commands_of(lines: list[str], first_line: int) -> list[Command]:
    commands: list[Command] = []
    pending: list[str] = []
    for offset, line in enumerate(lines):
        stripped = line.strip()
        if pending:
            pending.append(line)
        elif stripped.startswith("#"):
            expectation = EXPECTATION.match(stripped)
            if expectation:
                if not commands:
                    raise ValueError(f"README.md:{first_line + offset}: `{expectation['kind']}:` before any command")
                add_expectation(commands[-1], expectation["kind"], expectation["text"])
            continue
        elif stripped:
            pending = [line]
            commands.append(Command(first_line + offset, ""))
        if pending and not line.rstrip().endswith("\\"):
            commands[-1].text = "\n".join(pending)
            pending = []
    return commands


def add_expectation(command: Command, kind: str, text: str) -> None:
    if kind == "prints":
        command.prints.extend(piece for piece in ELLIPSIS.split(text) if piece)
    else:
        command.leaves.extend(path for path in re.split(r"[,\s]+", text) if path)


def starts_server(block: Block) -> bool:
    return any(BACKGROUND.search(strip_comment(c.text)) for c in block.commands)


def unstopped_server(block: Block) -> str | None:
    stopped = any(re.search(r"\bkill\b", c.text) for c in block.commands)
    return "starts a server (`&`) and does not stop it" if starts_server(block) and not stopped else None


def strip_comment(text: str) -> str:
    return re.sub(r"\s+#[^'\"]*$", "", text)


def chain(text: str) -> list[str]:
    """The commands of an `a && b && c` line (split outside quotes)."""
    parts, current, quote, index = [], [], None, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "'":
            current.append(text[index:index + 2])
            index += 2
            continue
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif text.startswith("&&", index):
            parts.append("".join(current).strip())
            current, index = [], index + 2
            continue
        current.append(char)
        index += 1
    parts.append("".join(current).strip())
    return parts


def classify(command: Command, block: Block) -> None:
    """What of the command runs: all of it, the part of its chain before a skipped command, nothing."""
    if block.skipped:
        command.skipped = block.skipped
        return
    kept = []
    for part in chain(command.text):
        reason = skip_reason(strip_comment(part), block)
        if reason:
            command.skipped = reason
            break
        kept.append(part)
    command.run_text = " && ".join(kept)


def skip_reason(part: str, block: Block) -> str | None:
    for pattern, reason in SKIP_RULES:
        if pattern.search(part):
            return reason
    if LOOPBACK.search(part) and not starts_server(block):
        return "needs a server that another block starts"
    return None


# --- running it ----------------------------------------------------------------------------------------

@dataclass
class Outcome:
    command: Command
    output: str
    status: int | None  # None: it did not run (the block stopped before, or it is skipped); -1: timed out
    seconds: float | None = None


def script_of(block: Block) -> str:
    """The block as one bash script (a block's commands share their shell: `export`, `$!`, ...); each
    command that runs is announced on the output with the time, and stops the script when it fails."""
    lines = ["set -o pipefail"]
    for number, command in enumerate(block.commands):
        if not command.run_text:
            continue
        lines += [f"printf '\\n@@readme-command {number} %s@@\\n' \"$EPOCHREALTIME\"",
                  command.run_text,
                  "__readme_status=$?",
                  f"printf '\\n@@readme-exit {number} %d %s@@\\n' $__readme_status \"$EPOCHREALTIME\"",
                  "if [ $__readme_status -ne 0 ]; then exit $__readme_status; fi"]
    return "\n".join(lines) + "\n"


def run_block(block: Block, cwd: Path, env: dict[str, str], timeout: float = BLOCK_TIMEOUT) -> list[Outcome]:
    """Run the block's commands; every process it leaves behind is ended with it (its own session)."""
    process = subprocess.Popen(["bash", "-c", script_of(block)], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\n(timed out after {timeout} s)"
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return outcomes_of(block, output)


# bash's $EPOCHREALTIME writes the locale's decimal separator
COMMAND_MARK = re.compile(r"\n@@readme-command (\d+) ([\d.,]+)@@\n")
EXIT_MARK = re.compile(r"\n@@readme-exit (\d+) (\d+) ([\d.,]+)@@\n?")


def epoch(stamp: str) -> float:
    return float(stamp.replace(",", "."))


def outcomes_of(block: Block, output: str) -> list[Outcome]:
    """Each command's output, exit status and duration, cut from the block's output at the marks."""
    pieces = COMMAND_MARK.split(output)
    started = {int(pieces[i]): (epoch(pieces[i + 1]), pieces[i + 2]) for i in range(1, len(pieces), 3)}
    outcomes = []
    for number, command in enumerate(block.commands):
        if number not in started:
            outcomes.append(Outcome(command, "", None))
            continue
        start, text = started[number]
        ended = EXIT_MARK.search(text)
        if ended is None:  # still running when the block timed out
            outcomes.append(Outcome(command, text, -1))
            continue
        outcomes.append(Outcome(command, EXIT_MARK.sub("\n", text), int(ended[2]), epoch(ended[3]) - start))
    return outcomes


def problems_of(outcomes: list[Outcome], cwd: Path) -> list[str]:
    """What the README says and the commands did not do, one message per command, naming its line."""
    problems = []
    for outcome in outcomes:
        command = outcome.command
        where = f"README.md:{command.line} `{command.run_text or command.text}`"
        if not command.run_text:
            continue
        if outcome.status is None:
            problems.append(f"{where}: did not run (a command before it stopped the block)")
        elif outcome.status == -1:
            problems.append(f"{where}: still running when its block timed out\n{tail(outcome.output)}")
        elif outcome.status != 0:
            problems.append(f"{where}: exit status {outcome.status}\n{tail(outcome.output)}")
        elif command.skipped is None:  # what a partly skipped command says it prints is not checked
            missing = first_missing(command.prints, outcome.output)
            if missing is not None:
                problems.append(f"{where}: does not print {missing!r} (after the pieces before it)\n"
                                f"{tail(outcome.output)}")
            problems += [f"{where}: leaves no {path}" for path in command.leaves if not (cwd / path).exists()]
    return problems


def first_missing(pieces: list[str], output: str) -> str | None:
    """The first piece not found in the output after the pieces before it."""
    position = 0
    for piece in pieces:
        found = output.find(piece, position)
        if found < 0:
            return piece
        position = found + len(piece)
    return None


def tail(output: str, lines: int = 25) -> str:
    return "\n".join("    " + line for line in output.rstrip().splitlines()[-lines:])


def summary(blocks: list[Block], outcomes: dict[int, list[Outcome]]) -> str:
    rows = []
    for block in blocks:
        for command in block.commands:
            first = command.text.splitlines()[0][:70]
            if not command.run_text:
                rows.append(f"README.md:{command.line} skipped ({command.skipped}): {first}")
                continue
            outcome = next(o for o in outcomes.get(block.line, []) if o.command is command)
            took = f" in {outcome.seconds:.1f} s" if outcome.seconds is not None else ""
            part = f", the rest skipped ({command.skipped})" if command.skipped else ""
            rows.append(f"README.md:{command.line} exit {outcome.status}{took}{part}: {first}")
    return "\n".join(rows)


# --- the fresh copy ----------------------------------------------------------------------------------

def copy_of_repository(target: Path) -> Path:
    """The files git tracks or would track (not ignored), as they are in the working tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if name.split("/")[0] == ".venv":  # a `.venv` symlink is not ignored by `.venv/`; the copy makes its own
            continue
        source = ROOT / name
        if source.is_file() or source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)
    return target


def layered_venv(clone: Path) -> Path:
    """`.venv` in the copy: its own interpreter (so `python3 -m venv .venv` and `pip install` write only
    there), the packages, console scripts (pip's too) and native executables of the venv running the tests."""
    venv = clone / ".venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (purelib / "_tests_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    for script in sorted((Path(sys.prefix) / "bin").iterdir()):
        target = venv / "bin" / script.name
        if target.exists() or not script.is_file():
            continue
        text = script.read_text(encoding="utf-8", errors="replace")
        first, _, rest = text.partition("\n")
        if first.startswith("#!") and "python" in first:  # a console script: run it with the copy's python
            target.write_text(f"#!{venv / 'bin' / 'python'}\n{rest}", encoding="utf-8")
            target.chmod(0o755)
        elif os.access(script, os.X_OK):  # a native executable (ruff): it needs no interpreter, so link it
            target.symlink_to(script)
    return venv


def block_env() -> dict[str, str]:
    """The caller's environment without what would point the commands elsewhere, and pip offline."""
    drop = ("ORSTATS_", "SCRAPY_", "SCRAPYD_", "OPENROUTER_", "VIRTUAL_ENV", "PYTHONPATH", "PIP_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    return {**env, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def run_readme(markdown: str, clone: Path, only: str | None = None) -> tuple[list[str], str]:
    """Run the README's blocks (those containing ``only``, if given) in order; (problems, summary)."""
    blocks = [b for b in read_blocks(markdown) if only is None or only in "\n".join(c.text for c in b.commands)]
    env, problems, outcomes = block_env(), [], {}
    for block in blocks:
        if block.skipped or not any(c.run_text for c in block.commands):
            continue
        outcomes[block.line] = run_block(block, clone, env)
        problems += problems_of(outcomes[block.line], clone)
    return problems, summary(blocks, outcomes)
