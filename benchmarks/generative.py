"""One scale for generative models: FID on MNIST (lectures/l09_gan/fid.py) of lecture 9's
GAN, lecture 10's VAEs and real digits, each against the 10,000 test digits.

    CS20_DATA_DIR=../shared/data python benchmarks/generative.py [--configs gan,vae_latent_2]
                                                                 [--max-seconds 600] [--fresh]
                                                                 [--samples 10000] [--test-digits N]
                                                                 [--tiny]

Each model is trained by its lecture at its default budget, in its own process, in
runs/benchmarks/generative/<config>/; --max-seconds passes the lecture's own flag (it
stops with a checkpoint, and the next run of the benchmark resumes it), so long runs can
be spread over several sessions. Finished runs are not trained again. Then, in this
process, every model draws --samples digits (default 10,000) (z ~ N(0, I); the VAE's pixel probabilities, the
GAN's tanh output mapped to [0, 1]) and one scorer measures them against the test digits:
FID on lecture 7's ConvNet features, and the entropy and coverage of the digits they are
classified as. Real training digits against the test digits give the floor
(--test-digits: the first N test digits only). Prints JSON.
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
sys.path.insert(0, str(ROOT))

CONFIGS = {  # name: (lecture, flags)
    "gan": ("l09_gan", ["--summary-every", "500"]),
    "vae_latent_2": ("l10_vae", ["--latent-dim", "2", "--num-epochs", "20"]),
    "vae_latent_50": ("l10_vae", ["--latent-dim", "50", "--num-epochs", "20"]),
}
# The VAE's importance-weighted bound is not what is measured here: keep it tiny.
LECTURE_FLAGS = {"l09_gan": [], "l10_vae": ["--iwae-samples", "2", "--iwae-digits", "100"]}
TINY = {"configs": "gan", "flags": "--num-steps 5 --fid-samples 0", "samples": 200,
        "test_digits": 500}


def sampler(name: str, run_dir: pathlib.Path):
    """-> generate(count): (count, 28, 28, 1) digits in [0, 1] from the run's newest checkpoint."""
    from lectures.l09_gan import model as gan
    from lectures.l10_vae import model as vae

    import numpy as np
    import tensorflow as tf

    settings = json.loads((run_dir / "config.json").read_text())
    if settings.get("conditional"):
        raise ValueError(f"{run_dir} is a conditional GAN; the benchmark scores z ~ N(0, I) alone")
    if name == "gan":
        model = gan.build_generator(settings["latent_dim"], 0, settings["width"])
        decode = lambda z: (model(z, training=False) + 1.0) / 2.0  # noqa: E731
    else:
        model = vae.build_vae(settings["latent_dim"])
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


def main(argv=None) -> None:
    from lectures.l09_gan import fid

    parser = segments.parser(__doc__, CONFIGS, ROOT / "runs" / "benchmarks" / "generative",
                             TINY)
    parser.add_argument("--test-digits", type=int, default=0,
                        help="score against the first N test digits only (0: all 10,000)")
    parser.add_argument("--samples", type=int, default=fid.NUM_SAMPLES,
                        help=f"digits drawn from each model and scored (default: "
                             f"{fid.NUM_SAMPLES:,}, as many as the test digits)")
    options.print_json(measure, segments.parse(parser, argv))


def measure(arguments) -> dict:
    from cs20.datasets import mnist
    from lectures.l09_gan import fid

    names, runs_root, count = arguments.names, arguments.runs_root, arguments.samples
    seconds = {}
    for name in names:
        lecture, flags = CONFIGS[name]
        seconds[name] = segments.train(lecture, runs_root / name,
                                       [*flags, *LECTURE_FLAGS[lecture],
                                        *shlex.split(arguments.flags)],
                                       arguments.max_seconds, arguments.fresh)
        print(f"{name}: {segments.status(runs_root / name)} after {sum(seconds[name]):.0f} s",
              file=sys.stderr, flush=True)

    splits = options.first_digits(mnist.load_splits(), "test", arguments.test_digits)
    scorer = fid.Scorer(splits)
    table = {"real_train_digits": scorer(splits.train.images[:count] / 255.0)}
    for name in names:
        run_dir = runs_root / name
        if not (run_dir / "checkpoints" / "checkpoint").exists():
            table[name] = {"finished": False, "log": str(segments.log_path(run_dir))}
            continue
        results = json.loads((run_dir / "results.json").read_text())
        table[name] = {"flags": " ".join(CONFIGS[name][1]), "finished": segments.status(run_dir) == "finished",
                       "steps": results.get("steps"), "segments": len(seconds[name]),
                       "wall_seconds": round(sum(seconds[name]), 1),
                       **scorer(sampler(name, run_dir)(count))}
        print(f"{name}: {table[name]}", file=sys.stderr, flush=True)
    return {"machine": platform.processor() or platform.machine(),
            "samples": count, "reference": "MNIST test digits", "results": table}


if __name__ == "__main__":
    main()
