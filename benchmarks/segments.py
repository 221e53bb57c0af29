"""Long benchmark runs of a lecture, trained in resumable segments.

A benchmark that trains for many minutes runs the lecture in its own process with the
lecture's `--max-seconds`: it stops with a checkpoint, and the next run of the benchmark
resumes it, so a long run can be spread over several sessions on a shared machine. The
log and the seconds of each segment lie next to the run directory (a run directory holds
only the run: a lecture refuses a folder that is not one).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import time

import options

ROOT = pathlib.Path(__file__).resolve().parents[1]


def parser(doc: str, configs: dict, runs_root: pathlib.Path, tiny: dict) -> options.Parser:
    """--configs (from `configs`), --runs-root, --max-seconds, --fresh, --flags and --tiny
    (which sets `tiny`); `parse` reads them."""
    parser = options.Parser(doc, tiny={"runs_root": "", **tiny})
    parser.configs = configs
    parser.add_argument("--configs", default=",".join(configs),
                        help=f"comma-separated, from {', '.join(configs)}")
    parser.add_argument("--runs-root", default=str(runs_root),
                        help=f"folder of the runs (default: {runs_root}; '': a new "
                             "temporary folder)")
    parser.add_argument("--max-seconds", type=float, default=0,
                        help="stop each training after this long; the next call goes on "
                             "(0: no limit)")
    parser.add_argument("--fresh", action="store_true", help="start the runs over")
    parser.add_argument("--flags", default="",
                        help="more flags for every lecture run, after the configuration's")
    return parser


def parse(parser: options.Parser, argv) -> argparse.Namespace:
    """The arguments, the chosen configurations' names as `names` and --runs-root as a
    path (a new temporary folder for '')."""
    arguments = parser.parse_args(argv)
    arguments.names = arguments.configs.split(",")
    unknown = [name for name in arguments.names if name not in parser.configs]
    if unknown:
        parser.error(f"unknown configuration: {', '.join(unknown)}")
    arguments.runs_root = pathlib.Path(options.scratch_folder(arguments.runs_root,
                                                              "cs20-benchmark-runs-"))
    return arguments


def status(run_dir: pathlib.Path) -> str:
    """The run's status in run.json ("finished", "stopped", ...), "none" without one."""
    try:
        return json.loads((run_dir / "run.json").read_text()).get("status", "none")
    except (OSError, ValueError):
        return "none"


def log_path(run_dir: pathlib.Path) -> pathlib.Path:
    return run_dir.with_name(f"{run_dir.name}.log")


def train(lecture: str, run_dir: pathlib.Path, flags: list[str], max_seconds: float,
          fresh: bool = False) -> list[float]:
    """Runs (or resumes) `lecture` in `run_dir` unless it has finished; returns the
    seconds of each segment so far."""
    segments_file = run_dir.with_name(f"{run_dir.name}.segments.json")
    if fresh:
        shutil.rmtree(run_dir, ignore_errors=True)
        segments_file.unlink(missing_ok=True)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    segments = json.loads(segments_file.read_text()) if segments_file.exists() else []
    if status(run_dir) != "finished":
        command = [sys.executable, "-m", f"lectures.{lecture}", "--run-dir", str(run_dir),
                   *flags, "--quiet", "--max-seconds", str(max_seconds)]
        started = time.perf_counter()
        with log_path(run_dir).open("a") as log:
            completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                       check=False)
        if completed.returncode:  # a crash is not a result: stop before scoring anything
            raise SystemExit(f"{lecture} exited with code {completed.returncode}; its output "
                             f"is in {log_path(run_dir)}")
        segments.append(round(time.perf_counter() - started, 1))
        segments_file.write_text(json.dumps(segments) + "\n")
    return segments
