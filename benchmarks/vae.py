"""Lecture 10's VAE quality: test ELBO and importance-weighted log-likelihood, and how long.

    CS20_DATA_DIR=../shared/data python benchmarks/vae.py [--configs latent_2,latent_50]
                                                          [--max-seconds 420] [--tiny]

Each configuration is a full run of lecture 10 (python -m lectures.l10_vae) in its own
process, in runs/benchmarks/vae/<config>/. --max-seconds passes the lecture's own flag (it
stops with a checkpoint; running the benchmark again resumes it: benchmarks/segments.py),
so a long run can be spread over several short sessions on a shared machine. The wall
time reported is the sum over those segments (each one also pays the start-up: loading
TensorFlow and MNIST, tracing). Finished configurations are not rerun
(--fresh starts them over). The JSON lists every configuration, finished or not.

The TensorFlow convolutional VAE tutorial reports a test ELBO of about -78 nats for a
50-d latent after 100 epochs, with the same fixed-threshold binarization.
"""

from __future__ import annotations

import json
import pathlib
import platform
import shlex
import sys

import options
import segments

ROOT = segments.ROOT

CONFIGS = {
    "latent_2": ["--latent-dim", "2", "--num-epochs", "20"],
    "latent_50": ["--latent-dim", "50", "--num-epochs", "60"],
}
# FID is benchmarks/generative.py's measure: left out of these timings.
COMMON = ["--summary-every", "430", "--iwae-samples", "100", "--iwae-digits", "10000",
          "--fid-samples", "0"]
TINY_FLAGS = "--num-steps 5 --iwae-samples 2 --iwae-digits 10"


def measure(name: str, runs_root: pathlib.Path, max_seconds: float, fresh: bool,
            more_flags: list[str]) -> dict:
    run_dir = runs_root / name
    flags = CONFIGS[name] + COMMON + more_flags
    seconds = segments.train("l10_vae", run_dir, flags, max_seconds, fresh)
    figures = {"flags": " ".join(flags), "segments": len(seconds),
               "wall_seconds": round(sum(seconds), 1)}
    if segments.status(run_dir) != "finished":
        return {**figures, "finished": False, "log": str(segments.log_path(run_dir))}
    results = json.loads((run_dir / "results.json").read_text())
    return {**figures, "finished": True, "steps": results["steps"],
            "test_elbo": round(results["test/elbo"], 3),
            "test_iwae_log_likelihood_k100": round(results["test/iwae_log_likelihood"], 3),
            "test_reconstruction": round(results["test/reconstruction"], 3),
            "test_kl": round(results["test/kl"], 3),
            # Only a segment that trained has it (not one that resumed to evaluate).
            "train_steps_per_second_last_segment": results.get("train/steps_per_second")}


def main(argv=None) -> None:
    parser = segments.parser(__doc__, CONFIGS, ROOT / "runs" / "benchmarks" / "vae",
                             tiny={"configs": "latent_2", "flags": TINY_FLAGS})
    options.print_json(measure_all, segments.parse(parser, argv))


def measure_all(arguments) -> dict:
    table = {}
    for name in arguments.names:
        table[name] = measure(name, arguments.runs_root, arguments.max_seconds, arguments.fresh,
                              shlex.split(arguments.flags))
        print(f"{name}: {table[name]}", file=sys.stderr, flush=True)
    return {"machine": platform.processor() or platform.machine(),
            "tutorial_test_elbo_latent_50": -78.0, "runs": table}


if __name__ == "__main__":
    main()
