"""Lecture 12: test BLEU greedy vs beam search (widths 4 and 8), training and decoding speed.

    CS20_DATA_DIR=../shared/data flock /tmp/cs20_cpu.lock python benchmarks/translation.py \
        [--num-steps 4000] [--run-dir DIR]

Trains the real lecture script for --num-steps (default: the lecture's 4,000 steps of 64
pairs), which scores the test set greedily and with beam width 4; then runs the lecture
again on the same run directory with --beam-width 8, which finds the training done and
only decodes. Every figure is read from the runs' results.json. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_lecture(run_dir: pathlib.Path, *flags: str) -> dict:
    command = [sys.executable, str(ROOT / "lectures" / "l12_translation.py"), "--run-dir",
               str(run_dir), *flags]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        sys.exit(f"l12_translation failed: {finished.stderr.strip().splitlines()[-1:]}")
    return json.loads((run_dir / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-steps", type=int, default=4000, help="training steps")
    parser.add_argument("--run-dir", default="", help="run directory (default: a temporary one)")
    arguments = parser.parse_args()
    run_dir = pathlib.Path(arguments.run_dir or tempfile.mkdtemp(prefix="l12-benchmark-"))
    steps = ["--num-steps", str(arguments.num_steps)]
    trained = run_lecture(run_dir, *steps, "--beam-width", "4")
    wider = run_lecture(run_dir, *steps, "--beam-width", "8")
    print(json.dumps({
        "training_steps": trained["steps"],
        "batch_size": 64,
        "train_steps_per_second": trained.get("train/steps_per_second"),
        "train_wall_seconds": trained["wall_seconds"],
        "final_train_loss": trained.get("train/loss"),
        "validation_bleu_greedy": trained.get("eval/bleu"),
        "test_sentences": trained["test/sentences"],
        "test_bleu": {"greedy": trained["test/bleu_greedy"], "beam4": trained["test/bleu_beam4"],
                      "beam8": wider["test/bleu_beam8"]},
        "decoding_sentences_per_second": {
            "greedy": trained["test/greedy_sentences_per_second"],
            "beam4": trained["test/beam4_sentences_per_second"],
            "beam8": wider["test/beam8_sentences_per_second"]},
    }, indent=2))


if __name__ == "__main__":
    main()
