"""Lecture 12: test BLEU greedy vs beam search (widths 4 and 8), training and decoding speed.

    CS20_DATA_DIR=../shared/data flock /tmp/cs20_cpu.lock python benchmarks/translation.py \
        [--num-steps 4000] [--run-dir DIR] [--corpus FILE] [--corpus-pairs N] [--flags "..."]

Trains the real lecture (python -m lectures.l12_translation) for --num-steps (default: the
lecture's 4,000 steps of 64 pairs), which scores the test set greedily and with beam width
4. Then, in this process, the run's newest checkpoint decodes the same test sentences with
beam width 8 through the lecture's own decoder, length penalty and BLEU
(`decoding.make_decoder`, `bleu_of`): it reads the run and writes nothing to it (a finished
run refuses to run again, and beam width is not a reason to train). Every other figure is
read from the run's results.json and config.json. Prints JSON.
"""

from __future__ import annotations

import json
import pathlib
import shlex
import subprocess
import sys

import options

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lectures.l12_translation import data, decoding  # noqa: E402
from lectures.l12_translation.model import Seq2Seq  # noqa: E402

import tensorflow as tf  # noqa: E402

WIDER_BEAM = 8
# The lecture's settings that shape its model (config.json names; Seq2Seq's arguments).
MODEL_SETTINGS = ("embedding_size", "units", "bidirectional", "attention", "dropout")


def run_lecture(run_dir: pathlib.Path, *flags: str) -> dict:
    command = [sys.executable, "-m", "lectures.l12_translation", "--run-dir", str(run_dir),
               *flags]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        sys.exit(f"l12_translation failed: {finished.stderr.strip().splitlines()[-1:]}")
    return json.loads((run_dir / "results.json").read_text())


def first_pairs_file(corpus: str, count: int, run_dir: pathlib.Path) -> pathlib.Path:
    """The first `count` pairs of the corpus (the shortest, in Tatoeba's files) as a
    tab-separated file next to the run directory (which holds only the run)."""
    pairs = data.read_pairs(data.corpus_path(corpus))[:count]
    path = run_dir.with_name(f"{run_dir.name}.first-{count}-pairs.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{source}\t{target}\n" for source, target in pairs),
                    encoding="utf-8")
    return path


def bleu_on_test_set(run_dir: pathlib.Path, beam_width: int) -> tuple[float, float]:
    """(test BLEU, sentences/s) of the run's newest checkpoint decoded with `beam_width`,
    on the lecture's corpus split, decoder and length penalty. Reads the run only."""
    settings = json.loads((run_dir / "config.json").read_text())
    corpus = data.load(settings["data_dir"] or None, settings["corpus"],
                       reverse=settings["reverse"], max_length=settings["max_length"],
                       min_count=settings["min_count"])
    model = Seq2Seq(len(corpus.source_vocabulary), len(corpus.target_vocabulary),
                    **{name: settings[name] for name in MODEL_SETTINGS})
    model((tf.ones([1, 2], tf.int32), tf.ones([1, 2], tf.int32)))  # create the variables
    tf.train.Checkpoint(model=model).restore(
        tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    ).assert_existing_objects_matched().expect_partial()  # every weight; not the optimizer
    decoder = decoding.make_decoder(model, settings["max_length"] + 2, beam_width,
                                    settings["length_penalty"])
    bleu, _, _, speed = decoding.bleu_of(decoder, *corpus.test.references(), corpus)
    return bleu, speed


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={
        "num_steps": 4, "corpus_pairs": 3000,
        "flags": "--batch-size 16 --units 16 --embedding-size 8 --validation-sentences 20 "
                 "--eval-every 4 --checkpoint-every 4 --summary-every 2"})
    parser.add_argument("--num-steps", type=int, default=4000, help="training steps")
    parser.add_argument("--run-dir", default="", help="run directory (default: a temporary one)")
    parser.add_argument("--corpus", default="",
                        help="the lecture's --corpus (default: Tatoeba's fra-eng.zip)")
    parser.add_argument("--corpus-pairs", type=int, default=0,
                        help="train on the corpus' first N pairs only (0: all)")
    parser.add_argument("--flags", default="", help="more flags for the lecture")
    options.print_json(measure, parser.parse_args(argv))


def measure(arguments) -> dict:
    run_dir = pathlib.Path(options.scratch_folder(arguments.run_dir, "l12-benchmark-"))
    corpus = arguments.corpus
    if arguments.corpus_pairs:
        corpus = str(first_pairs_file(corpus, arguments.corpus_pairs, run_dir))
    trained = run_lecture(run_dir, "--num-steps", str(arguments.num_steps), "--beam-width", "4",
                          "--quiet", *(["--corpus", corpus] if corpus else []),
                          *shlex.split(arguments.flags))
    settings = json.loads((run_dir / "config.json").read_text())
    wider_bleu, wider_speed = bleu_on_test_set(run_dir, WIDER_BEAM)
    return {
        "training_steps": trained["steps"],
        "batch_size": settings["batch_size"],
        "train_steps_per_second": trained.get("train/steps_per_second"),
        "train_wall_seconds": trained["wall_seconds"],
        "final_train_loss": trained.get("train/loss"),
        "validation_bleu_greedy": trained.get("eval/bleu"),
        "test_sentences": trained["test/sentences"],
        "test_bleu": {"greedy": trained["test/bleu_greedy"], "beam4": trained["test/bleu_beam4"],
                      f"beam{WIDER_BEAM}": round(wider_bleu, 6)},
        "decoding_sentences_per_second": {
            "greedy": trained["test/greedy_sentences_per_second"],
            "beam4": trained["test/beam4_sentences_per_second"],
            f"beam{WIDER_BEAM}": round(wider_speed, 6)},
    }


if __name__ == "__main__":
    main()
