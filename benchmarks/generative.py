"""One scale for generative models: FID on MNIST (cs20/metrics/fid.py) of lecture 9's GAN,
lecture 10's VAEs and real digits, each against the 10,000 test digits.

    CS20_DATA_DIR=../shared/data python benchmarks/generative.py [--configs gan,vae_latent_2]
                                                                 [--max-seconds 600] [--fresh]

Each model is trained by its lecture at its default budget, in its own process, in
runs/benchmarks/generative/<config>/; --max-seconds passes the lecture's own flag (it
stops with a checkpoint, and the next run of the benchmark resumes it), so long runs can
be spread over several sessions. Finished runs are not trained again. Then, in this
process, every model draws 10,000 digits (z ~ N(0, I); the VAE's pixel probabilities, the
GAN's tanh output mapped to [0, 1]) and one scorer measures them against the test digits:
FID on lecture 7's ConvNet features, and the entropy and coverage of the digits they are
classified as. Real training digits against the test digits give the floor. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {  # name: (lecture, flags)
    "gan": ("l09_gan", ["--summary-every", "500"]),
    "vae_latent_2": ("l10_vae", ["--latent-dim", "2", "--num-epochs", "20"]),
    "vae_latent_50": ("l10_vae", ["--latent-dim", "50", "--num-epochs", "60"]),
}
# The VAE's importance-weighted bound is not what is measured here: keep it tiny.
LECTURE_FLAGS = {"l09_gan": [], "l10_vae": ["--iwae-samples", "2", "--iwae-digits", "100"]}


def train(name: str, run_dir: pathlib.Path, max_seconds: float) -> list[float]:
    """Runs (or resumes) the lecture unless it has finished; returns the seconds of each
    segment so far."""
    lecture, flags = CONFIGS[name]
    # The log and the segment times lie next to the run: a run directory holds only the run.
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    segments_file = run_dir.with_name(f"{name}.segments.json")
    segments = json.loads(segments_file.read_text()) if segments_file.exists() else []
    if status(run_dir) != "finished":
        command = [sys.executable, str(ROOT / "lectures" / f"{lecture}.py"), "--run-dir",
                   str(run_dir), *flags, *LECTURE_FLAGS[lecture], "--quiet",
                   "--max-seconds", str(max_seconds)]
        started = time.perf_counter()
        with run_dir.with_name(f"{name}.log").open("a") as log:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        segments.append(round(time.perf_counter() - started, 1))
        segments_file.write_text(json.dumps(segments) + "\n")
    return segments


def status(run_dir: pathlib.Path) -> str:
    try:
        return json.loads((run_dir / "run.json").read_text()).get("status", "none")
    except (OSError, ValueError):
        return "none"


def sampler(name: str, run_dir: pathlib.Path):
    """-> generate(count): (count, 28, 28, 1) digits in [0, 1] from the run's newest checkpoint."""
    from cs20.models import gan, vae

    import numpy as np
    import tensorflow as tf

    settings = json.loads((run_dir / "config.json").read_text())
    if settings.get("conditional"):
        raise ValueError(f"{run_dir} is a conditional GAN; the benchmark scores z ~ N(0, I) alone")
    if name == "gan":
        model = gan.build_generator(settings["latent_dim"], 0, settings["width"])
        decode = lambda z: (model(z, training=False) + 1.0) / 2.0  # noqa: E731
    else:
        model = vae.VAE(settings["latent_dim"])
        model(tf.zeros((1, 28, 28, 1)))  # build, so that the restore fills real variables
        decode = lambda z: tf.sigmoid(model.decoder(z))  # noqa: E731
    tf.train.Checkpoint(model=model).restore(
        tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    ).assert_existing_objects_matched().expect_partial()  # every weight; not the optimizers
    compiled = tf.function(decode)

    def generate(count: int):
        z = np.random.default_rng(1).standard_normal((count, settings["latent_dim"]))
        return np.concatenate([compiled(tf.constant(z[start:start + 1000], tf.float32)).numpy()
                               for start in range(0, count, 1000)])

    return generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--runs-root", default=str(ROOT / "runs" / "benchmarks" / "generative"))
    parser.add_argument("--max-seconds", type=float, default=0,
                        help="stop each training after this long; the next call goes on")
    parser.add_argument("--fresh", action="store_true", help="start the runs over")
    arguments = parser.parse_args()
    names = arguments.configs.split(",")
    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration: {', '.join(unknown)}")
    runs_root = pathlib.Path(arguments.runs_root)
    segments = {}
    for name in names:
        if arguments.fresh:
            shutil.rmtree(runs_root / name, ignore_errors=True)
            (runs_root / f"{name}.segments.json").unlink(missing_ok=True)
        segments[name] = train(name, runs_root / name, arguments.max_seconds)
        print(f"{name}: {status(runs_root / name)} after {sum(segments[name]):.0f} s",
              file=sys.stderr, flush=True)

    from cs20.datasets import mnist
    from cs20.metrics import fid

    splits = mnist.load_splits()
    scorer = fid.Scorer(splits)
    table = {"real_train_digits": scorer(splits.train.images[:fid.NUM_SAMPLES] / 255.0)}
    for name in names:
        run_dir = runs_root / name
        if not (run_dir / "checkpoints" / "checkpoint").exists():
            table[name] = {"finished": False, "log": str(run_dir.with_name(f"{name}.log"))}
            continue
        results = json.loads((run_dir / "results.json").read_text())
        table[name] = {"flags": " ".join(CONFIGS[name][1]), "finished": status(run_dir) == "finished",
                       "steps": results.get("steps"), "segments": len(segments[name]),
                       "wall_seconds": round(sum(segments[name]), 1),
                       **scorer(sampler(name, run_dir)(fid.NUM_SAMPLES))}
        print(f"{name}: {table[name]}", file=sys.stderr, flush=True)
    print(json.dumps({"machine": platform.processor() or platform.machine(),
                      "samples": fid.NUM_SAMPLES, "reference": "MNIST test digits",
                      "results": table}, indent=2))


if __name__ == "__main__":
    main()
