"""Runs one lecture several times in this one process, run after run:

    python tests/lecture_runs.py NAME FLAGS [-- FLAGS ...]

Some tests need a process of their own (--logical-devices and --deterministic are
process-wide) but more than one run in it: the runs share one TensorFlow start-up
(seconds of CPU each) instead of paying for one apiece. Each run reads and writes its
run directory as the command `python -m lectures.NAME FLAGS` would.
"""

from __future__ import annotations

import sys

from cs20 import cli


def split_runs(arguments: list[str]) -> list[list[str]]:
    """["--a", "1", "--", "--b"] -> [["--a", "1"], ["--b"]]."""
    runs = [[]]
    for argument in arguments:
        if argument == "--":
            runs.append([])
        else:
            runs[-1].append(argument)
    return runs


if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    for flags in split_runs(arguments):
        cli.run_lecture(name, flags)
