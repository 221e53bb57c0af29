"""Lecture 10's VAE quality: test ELBO and importance-weighted log-likelihood, and how long.

    CS20_DATA_DIR=../shared/data python benchmarks/vae.py [--configs latent_2,latent_50]
                                                          [--max-seconds 420]

Each configuration is a full run of lectures/l10_vae.py in its own process, in
runs/benchmarks/vae/<config>/. With --max-seconds the run is stopped with SIGTERM after
that long (the lecture checkpoints and exits); running the benchmark again resumes it
from the checkpoint, so a long run can be spread over several short sessions on a shared
machine. The wall time reported is the sum over those segments (each one also pays the
start-up: loading TensorFlow and MNIST, tracing). Finished configurations are not rerun
(--fresh starts them over). The JSON lists every configuration, finished or not.

The TensorFlow convolutional VAE tutorial reports a test ELBO of about -78 nats for a
50-d latent after 100 epochs, with the same fixed-threshold binarization.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

CONFIGS = {
    "latent_2": ["--latent-dim", "2", "--num-epochs", "20"],
    "latent_50": ["--latent-dim", "50", "--num-epochs", "60"],
}
COMMON = ["--summary-every", "430", "--iwae-samples", "100", "--iwae-digits", "10000"]


def run_segment(run_dir: pathlib.Path, flags: list[str], max_seconds: float) -> float:
    """Runs (or resumes) the lecture until it finishes or `max_seconds` pass; returns the
    seconds it ran. SIGTERM makes the lecture save a checkpoint before it exits."""
    command = [sys.executable, str(ROOT / "lectures" / "l10_vae.py"), "--run-dir",
               str(run_dir), *flags]
    log = (run_dir / "benchmark.log").open("a")
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        process.wait(timeout=max_seconds or None)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait()
    return time.perf_counter() - started


def measure(name: str, runs_root: pathlib.Path, max_seconds: float, fresh: bool) -> dict:
    run_dir = runs_root / name
    if fresh:
        shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    segments_file = run_dir / "segments.json"
    segments = json.loads(segments_file.read_text()) if segments_file.exists() else []
    results_file = run_dir / "results.json"
    flags = CONFIGS[name] + COMMON
    if not results_file.exists():
        segments.append(round(run_segment(run_dir, flags, max_seconds), 1))
        segments_file.write_text(json.dumps(segments) + "\n")
    figures = {"flags": " ".join(flags), "segments": len(segments),
               "wall_seconds": round(sum(segments), 1)}
    if not results_file.exists():
        return {**figures, "finished": False, "log": str(run_dir / "benchmark.log")}
    results = json.loads(results_file.read_text())
    return {**figures, "finished": True, "steps": results["steps"],
            "test_elbo": round(results["test/elbo"], 3),
            "test_iwae_log_likelihood_k100": round(results["test/iwae_log_likelihood"], 3),
            "test_reconstruction": round(results["test/reconstruction"], 3),
            "test_kl": round(results["test/kl"], 3),
            # Only a segment that trained has it (not one that resumed to evaluate).
            "train_steps_per_second_last_segment": results.get("train/steps_per_second")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--runs-root", default=str(ROOT / "runs" / "benchmarks" / "vae"))
    parser.add_argument("--max-seconds", type=float, default=0,
                        help="stop each run after this long and resume it next time (0: never)")
    parser.add_argument("--fresh", action="store_true", help="start the runs over")
    arguments = parser.parse_args()
    names = arguments.configs.split(",")
    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration: {', '.join(unknown)}")
    table = {}
    for name in names:
        table[name] = measure(name, pathlib.Path(arguments.runs_root), arguments.max_seconds,
                              arguments.fresh)
        print(f"{name}: {table[name]}", file=sys.stderr, flush=True)
    print(json.dumps({"machine": platform.processor() or platform.machine(),
                      "tutorial_test_elbo_latent_50": -78.0, "runs": table}, indent=2))


if __name__ == "__main__":
    main()
