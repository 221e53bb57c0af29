"""The GPU check: every training lecture, a bounded number of steps, three ways.

    CS20_DATA_DIR=../shared/data python benchmarks/gpu_check.py [--steps-scale 5]
        [--lectures l03_logistic_regression,...] [--settings default,...] [--flags "..."]
        [--cpu] [--tiny]

On a machine with a GPU, runs each training lecture with its default settings three
ways: as is, with --mixed-precision (float16 with loss scaling) and with --jit-compile
(XLA). The runs are the short ones of `benchmarks/scale.py` (its steps times
--steps-scale, and its flags that keep the work after training short), each in its own
process. Prints JSON with, per lecture and setting: training steps/s
(`train/steps_per_second`: the first call and the loop's side work left out), peak GPU
memory (`tf.config.experimental.get_memory_info`), the final train loss and whether it
is finite, the seconds from process start to the end of the first step, and the ratio of
steps/s to the CPU's figure for the same run: the newest record of benchmarks/scale.py run
on a CPU in docs/results/ (read through benchmarks/report.py and named under
`cpu_reference`; null where it has no figure). No GPU has run it yet, so how long it takes
is not known; runs still waiting when --budget-seconds is spent are reported as skipped.

Without a GPU it says so in one line and exits 0. `--cpu` runs the same check on the
CPU with the GPUs hidden (to try the kit: `--cpu --steps-scale 0.05`); `--tiny` runs on
the GPU where there is one, else on the CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

import options
import report  # benchmarks/report.py: the measurement records in docs/results/
import scale  # benchmarks/scale.py: the short runs whose CPU figures are the reference
import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETTINGS = {"default": (), "mixed_precision": ("--mixed-precision",),
            "jit_compile": ("--jit-compile",)}
# scale.py's variant for each setting here (its `xla` is --jit-compile).
SCALE_VARIANTS = {"default": "default", "mixed_precision": "mixed_precision",
                  "jit_compile": "xla"}
CHILD_TIMEOUT_SECONDS = 240


def cpu_reference(folder: pathlib.Path = report.RECORDS) -> tuple[dict, dict | None]:
    """{(lecture, setting): steps/s} from the newest record of scale.py measured on the
    CPU in `folder` (by date, then file name, as report.newest orders them), and that
    record's file, date and machine (None where there is no such record)."""
    on_cpu = [record for record in report.load_records(folder) if record["benchmark"] == "scale"
              and str(record["results"].get("device", "")).upper() == "CPU"]
    if not on_cpu:
        return {}, None
    record = max(on_cpu, key=lambda record: (record["date"], record["file"]))
    reference = {}
    for lecture, variants in record["results"].get("steps_per_second", {}).items():
        for setting, variant in SCALE_VARIANTS.items():
            rate = variants.get(variant, {}).get("steps_per_second")
            if isinstance(rate, (int, float)) and rate > 0:
                reference[(lecture, setting)] = float(rate)
    return reference, {key: record[key] for key in ("file", "date", "machine")}


def run_child(lecture: str, flags: list[str], run_dir: pathlib.Path, cpu: bool) -> dict:
    """Runs one lecture in a fresh process (`--child`); returns its results and memory."""
    environment = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if cpu else {})}
    command = [sys.executable, __file__, "--child", lecture, "--run-dir", str(run_dir),
               "--", *flags]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=environment,
                                   timeout=CHILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return {"error": f"over {CHILD_TIMEOUT_SECONDS} s"}
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines() or ["(no message)"]
        return {"error": f"exit {completed.returncode}: {lines[-1]}"}
    return json.loads((run_dir / "gpu_check.json").read_text())


def summarize(child: dict, reference: float | None) -> dict:
    if "error" in child:
        return child
    results = child["results"]
    loss = results.get("train/loss")
    rate = results.get("train/steps_per_second")
    finite = isinstance(loss, (int, float)) and math.isfinite(loss)
    return {"steps": results.get("steps"), "steps_per_second": rate,
            "steps_per_call": results.get("train/steps_per_call"),
            "peak_gpu_memory_mib": child["peak_gpu_memory_mib"],
            "final_loss": loss if finite else str(loss), "loss_finite": finite,
            "seconds_to_first_step": results.get("seconds_to_first_step"),
            "wall_seconds": results.get("wall_seconds"),
            "ratio_to_cpu": round(rate / reference, 2) if rate and reference else None}


def child_main(lecture: str, run_dir: str, flags: list[str]) -> None:
    """In the child process: run the lecture, then record results and peak memory."""
    sys.path.insert(0, str(ROOT))
    from cs20 import cli

    cli.guard(lambda argv: cli.run_lecture(lecture, argv), ["--run-dir", run_dir, "--fresh", *flags])
    gpus = tf.config.list_logical_devices("GPU")
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20 if gpus else None
    results = json.loads((pathlib.Path(run_dir) / "results.json").read_text())
    (pathlib.Path(run_dir) / "gpu_check.json").write_text(json.dumps(
        {"results": results, "peak_gpu_memory_mib": None if peak is None else round(peak, 1)}))


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"lectures": "l03_logistic_regression",
                                           "settings": "default", "steps_scale": 0})
    parser.add_argument("--cpu", action="store_true",
                        help="run on the CPU (GPUs hidden) even where there is a GPU")
    parser.add_argument("--steps-scale", type=float, default=5.0,
                        help="multiplies the steps of scale.py's runs (default: 5; at "
                             "least 5 steps a run)")
    parser.add_argument("--lectures", default=",".join(scale.LECTURES),
                        help="comma-separated subset of the lectures")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated subset of {', '.join(SETTINGS)}")
    parser.add_argument("--flags", default="", help="more flags for every lecture run")
    parser.add_argument("--budget-seconds", type=float, default=450.0,
                        help="runs not started by then are skipped (default: 450)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("child_flags", nargs="*", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        child_main(arguments.child, arguments.run_dir, arguments.child_flags)
        return
    unknown = (set(arguments.lectures.split(",")) - set(scale.LECTURES)) | \
        (set(arguments.settings.split(",")) - set(SETTINGS))
    if unknown:
        parser.error(f"unknown lectures or settings {', '.join(sorted(unknown))}")
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if not (has_gpu or arguments.cpu or arguments.tiny):
        print("gpu_check: no GPU on this machine (TensorFlow sees none); nothing to check. "
              "--cpu runs the same check on the CPU.")
        return
    arguments.cpu = arguments.cpu or not has_gpu
    options.print_json(check, arguments)


def check(arguments: argparse.Namespace) -> dict:
    started = time.perf_counter()
    reference, source = ({}, None) if arguments.cpu else cpu_reference()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="cs20-gpu-check-"))
    data_dir = os.environ.get("CS20_DATA_DIR")
    checked: dict = {"device": "cpu" if arguments.cpu else "gpu", "cpu_reference": source,
                     "runs": {}}
    for lecture in arguments.lectures.split(","):
        lecture_flags = scale.scaled_steps(scale.LECTURES[lecture], arguments.steps_scale)
        for setting in arguments.settings.split(","):
            name = f"{lecture}/{setting}"
            if time.perf_counter() - started > arguments.budget_seconds:
                checked["runs"][name] = {"error": "skipped: --budget-seconds spent"}
                continue
            flags = [*lecture_flags, *SETTINGS[setting],
                     *(["--data-dir", data_dir] if data_dir else []),
                     *shlex.split(arguments.flags)]
            child = run_child(lecture, flags, scratch / lecture / setting, arguments.cpu)
            checked["runs"][name] = summarize(child, reference.get((lecture, setting)))
            print(f"{name}: {checked['runs'][name]}", file=sys.stderr, flush=True)
    checked["wall_seconds"] = round(time.perf_counter() - started, 1)
    return checked


if __name__ == "__main__":
    main()
