"""Training steps/s of every training lecture: default vs mirrored, mixed precision, XLA.

    CS20_DATA_DIR=../shared/data python benchmarks/scale.py [--lectures l03_logistic_regression,l07_convnet]
                                                            [--variants default,xla] [--steps-scale 0.5]
                                                            [--flags "--seed 1"] [--tiny]

Each (lecture, variant) is a short run of the real lecture script in its own process
(a fresh process per run: the device split and the dtype policy are process-wide). The
figure is the run's own `train/steps_per_second` from results.json, which counts training
steps only (no tracing, evaluation, summaries or checkpoints). A variant a lecture
refuses is reported with the lecture's one-line reason instead of a number.

Variants:
  default           one device, float32, no XLA
  mirrored          MirroredStrategy over all GPUs; on a machine without GPUs over two
                    logical CPU devices (--logical-devices 2), which shows the overhead
                    of the machinery, not a speed-up: both "devices" share the same cores
  mixed_precision   mixed_float16 on GPU, mixed_bfloat16 on CPU
  xla               the training step compiled with XLA (--jit-compile)

On a GPU machine the same command gives the GPU table.
"""

from __future__ import annotations

import json
import pathlib
import platform
import shlex
import subprocess
import sys
import tempfile

import options
import tensorflow as tf

# Each lecture's short run: enough steps for a stable rate after the first (compiling) one,
# and flags that keep evaluation and artefacts from dominating the wall time.
LECTURES = {
    "l03_logistic_regression": ["--num-steps", "600"],
    "l05_word2vec": ["--num-steps", "3000"],
    "l07_convnet": ["--num-steps", "60"],
    "l08_tfrecord": ["--num-steps", "600", "--no-throughput"],
    "l08_style_transfer": ["--num-steps", "20", "--image-size", "256"],
    "l09_gan": ["--num-steps", "200", "--fid-samples", "0"],
    "l10_vae": ["--num-steps", "100", "--iwae-digits", "200", "--fid-samples", "0"],
    "l11_char_rnn": ["--num-steps", "150", "--length", "20"],
    "l12_translation": ["--num-steps", "300"],  # enough to pass tracing its bucket shapes
}


def variant_flags(has_gpu: bool) -> dict:
    mirrored = ["--strategy", "mirrored"] + ([] if has_gpu else ["--logical-devices", "2"])
    return {"default": [], "mirrored": mirrored, "mixed_precision": ["--mixed-precision"],
            "xla": ["--jit-compile"]}


def scaled_steps(flags: list[str], scale: float) -> list[str]:
    """The lecture's flags with --num-steps multiplied by `scale` (at least 5 steps)."""
    flags = list(flags)
    position = flags.index("--num-steps") + 1
    flags[position] = str(max(5, round(int(flags[position]) * scale)))
    return flags


def measure(lecture: str, flags: list[str], timeout: int) -> dict:
    """One run of the lecture: its steps/s, or the reason it refused or failed."""
    with tempfile.TemporaryDirectory() as run_dir:
        command = [sys.executable, "-m", f"lectures.{lecture}", "--run-dir",
                   run_dir, *flags]
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s"}
        results_file = pathlib.Path(run_dir) / "results.json"
        if finished.returncode != 0 or not results_file.exists():
            last_line = (finished.stderr.strip().splitlines() or ["(no output)"])[-1]
            kind = "refused" if finished.returncode == 2 else "error"
            return {kind: last_line[-300:]}
        results = json.loads(results_file.read_text())
    rate = results.get("train/steps_per_second")
    return {"steps_per_second": round(rate, 2) if rate else None,
            "wall_seconds": results.get("wall_seconds")}


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"lectures": "l03_logistic_regression",
                                           "variants": "default", "steps_scale": 0})
    parser.add_argument("--lectures", default=",".join(LECTURES),
                        help="comma-separated lectures (default: all training lectures)")
    parser.add_argument("--variants", default="default,mirrored,mixed_precision,xla",
                        help="comma-separated variants (default: all four)")
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="multiply every lecture's number of steps (e.g. 5 on a GPU; at "
                             "least 5 steps a run)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per run")
    parser.add_argument("--flags", default="", help="more flags for every lecture run")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.lectures.split(",") if name not in LECTURES] + \
              [name for name in arguments.variants.split(",") if name not in variant_flags(False)]
    if unknown:
        parser.error(f"unknown lecture or variant: {', '.join(unknown)}")
    options.print_json(measure_table, arguments)


def measure_table(arguments) -> dict:
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    all_variants = variant_flags(has_gpu)
    table = {}
    for lecture in arguments.lectures.split(","):
        flags = [*scaled_steps(LECTURES[lecture], arguments.steps_scale),
                 *shlex.split(arguments.flags)]
        table[lecture] = {}
        for variant in arguments.variants.split(","):
            figures = measure(lecture, flags + all_variants[variant], arguments.timeout)
            table[lecture][variant] = figures
            print(f"{lecture:<26} {variant:<16} {figures}", file=sys.stderr, flush=True)
        default_rate = table[lecture].get("default", {}).get("steps_per_second")
        for figures in table[lecture].values():
            if default_rate and figures.get("steps_per_second"):
                figures["vs_default"] = round(figures["steps_per_second"] / default_rate, 3)
    return {
        "device": "GPU" if has_gpu else "CPU",
        "machine": platform.processor() or platform.machine(),
        "tensorflow": tf.__version__,
        "steps_per_second": table,
    }


if __name__ == "__main__":
    main()
