"""The command line every benchmark shares: its docstring as --help, and --tiny.

`--tiny` runs a benchmark's real code path (the same lectures, processes and JSON) with the
smallest settings, in seconds: what tests/test_benchmarks.py runs, so that every benchmark
is known to work. Its figures mean nothing. Flags given on the command line win over the
tiny settings.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shlex
import sys
import tempfile


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with --tiny: `tiny` maps option names to the values it sets."""

    def __init__(self, doc: str, tiny: dict):
        super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        self.tiny = tiny
        shown = " ".join(as_flag(name, value) for name, value in tiny.items())
        self.add_argument("--tiny", action="store_true",
                          help="the real code path with the smallest settings, in seconds (what "
                               "the test suite runs; the figures mean nothing): "
                               f"{shown}, unless given")

    def parse_args(self, args=None, namespace=None):
        arguments = super().parse_args(args, namespace)
        if arguments.tiny:
            self.set_defaults(**self.tiny)
            arguments = super().parse_args(args, namespace)
        return arguments


def as_flag(name: str, value) -> str:
    """How a setting is written on the command line: --skip-speed, --steps 2, --flags '-x 1',
    and a list as the flag repeated."""
    flag = f"--{name.replace('_', '-')}"
    if value is True:
        return flag
    if isinstance(value, list):
        return " ".join(as_flag(name, item) for item in value)
    return f"{flag} {shlex.quote(str(value))}"


def scratch_folder(given: str, prefix: str) -> str:
    """`given`, or a new temporary folder where it is empty."""
    return given or tempfile.mkdtemp(prefix=prefix)


def first_digits(splits, name: str, count: int):
    """MNIST `splits` with only the first `count` digits of split `name` (0: all of them),
    for flags such as --records that make a benchmark's data smaller."""
    if not count:
        return splits
    split = getattr(splits, name)
    return dataclasses.replace(splits, **{name: type(split)(split.images[:count],
                                                            split.labels[:count])})


def print_json(measure, arguments: argparse.Namespace) -> None:
    """Runs `measure(arguments)` with whatever it prints (data lines, progress) sent to
    stderr, then prints the figures it returns as JSON: stdout holds the JSON alone."""
    with contextlib.redirect_stdout(sys.stderr):
        figures = measure(arguments)
    print(json.dumps(figures, indent=2))
