"""Run a command and write its own resource usage (peak RSS, CPU) as JSON to a file.

    python -m bench.rusage OUT.json CMD [ARGS...]   # exits with CMD's exit code

Why a process in between: on Linux a child's peak RSS starts from its parent's at exec, so a
benchmark process that has grown (the 10-year history holds a gigabyte) would lend every crawl it
starts its own size. This small parent lends about 10 MB instead (the interpreter itself).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    out, cmd = argv[0], argv[1:]
    proc = subprocess.Popen(cmd)

    def forward(signum: int, frame: object) -> None:  # a SIGTERM to this process stops the command too
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as file:
        json.dump({"returncode": code, "max_rss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}, file)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
