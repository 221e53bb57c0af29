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
steps/s to the README's 2-CPU-core figure for the same run (its scale.py table; null where
it has none). No GPU has run it yet, so how long it takes is not known; runs still waiting
when --budget-seconds is spent are reported as skipped.

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
import re
import shlex
import subprocess
import sys
import tempfile
import time

import options
import scale  # benchmarks/scale.py: the short runs and their CPU figures in the README
import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETTINGS = {"default": (), "mixed_precision": ("--mixed-precision",),
            "jit_compile": ("--jit-compile",)}
# The README's scale.py table: its rows name lectures as the lectures table does, and its
# columns are default | mirrored | mixed precision | XLA.
README_ROW = re.compile(r"^\| (\d+[ab]?) [^|]*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|$",
                        re.MULTILINE)
README_LECTURES = {"3b": "l03_logistic_regression", "5a": "l05_word2vec", "7": "l07_convnet",
                   "8a": "l08_tfrecord", "8b": "l08_style_transfer", "9": "l09_gan", "10": "l10_vae",
                   "11": "l11_char_rnn", "12": "l12_translation"}
CHILD_TIMEOUT_SECONDS = 240


def cpu_reference(readme: pathlib.Path) -> dict:
    """{(lecture, setting): steps/s on 2 CPU cores} from the README's scale.py table."""
    text = readme.read_text() if readme.is_file() else ""
    table = text.split("| lecture | default | mirrored | mixed precision | XLA |", 1)
    reference = {}
    for label, default, _, mixed, xla in README_ROW.findall(table[1] if len(table) > 1 else ""):
        for setting, cell in (("default", default), ("mixed_precision", mixed),
                              ("jit_compile", xla)):
            figure = cell.strip().replace(",", "")
            if label in README_LECTURES and re.fullmatch(r"[\d.]+", figure):
                reference[(README_LECTURES[label], setting)] = float(figure)
    return reference


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

    cli.guard(cli.load_lecture(lecture).main, ["--run-dir", run_dir, "--fresh", *flags])
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
    reference = {} if arguments.cpu else cpu_reference(ROOT / "README.md")
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="cs20-gpu-check-"))
    data_dir = os.environ.get("CS20_DATA_DIR")
    report: dict = {"device": "cpu" if arguments.cpu else "gpu", "runs": {}}
    for lecture in arguments.lectures.split(","):
        lecture_flags = scale.scaled_steps(scale.LECTURES[lecture], arguments.steps_scale)
        for setting in arguments.settings.split(","):
            name = f"{lecture}/{setting}"
            if time.perf_counter() - started > arguments.budget_seconds:
                report["runs"][name] = {"error": "skipped: --budget-seconds spent"}
                continue
            flags = [*lecture_flags, *SETTINGS[setting],
                     *(["--data-dir", data_dir] if data_dir else []),
                     *shlex.split(arguments.flags)]
            child = run_child(lecture, flags, scratch / lecture / setting, arguments.cpu)
            report["runs"][name] = summarize(child, reference.get((lecture, setting)))
            print(f"{name}: {report['runs'][name]}", file=sys.stderr, flush=True)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    return report


if __name__ == "__main__":
    main()
