"""Lecture 11: validation bits per character after a wall-clock budget, against baselines,
and the speed of our training step against the same network in `model.fit`.

    CS20_DATA_DIR=../shared/data flock /tmp/cs20_cpu.lock python benchmarks/char_rnn.py \
        [--budget-seconds 600] [--run-dir DIR] [--presets course,fast] [--skip-speed]
        [--eval-every 300] [--run 'LABEL=FLAGS' ...] [--baseline-lines N] [--speed-steps 200]
        [--tiny]

1. Trains the real lecture script with each of its presets (`course`, learning rate
   3e-3, and `fast`, the default: 0.01) and each --run's flags, each stopped by
   --max-seconds at the budget, and reads its validation bits per character (whole
   held-out tweets, every character but the first of each predicted from the ones before
   it) at the end and at each of its evaluations (the curve against time).
2. Scores the same validation characters (course character set, same split) with two
   baselines fitted on the training lines: the unigram distribution (add-one smoothed),
   and character n-grams of orders 2..6 with interpolated absolute discounting (D = 0.75),
   whose history starts at the beginning of the tweet like the RNN's state
   (--baseline-lines: fitted and scored on the first N lines of each split only).
3. Times --speed-steps training steps of the course's network (batch 64, windows of 50),
   after a tenth as many to warm up: our compiled step from the shared loop vs `model.fit`
   with the masked loss as sample weights, with Keras' default jit_compile="auto" (XLA)
   and without XLA.

Prints JSON.
"""

from __future__ import annotations

import collections
import json
import math
import os
import pathlib
import shlex
import subprocess
import sys
import time

import options

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cs20 import training  # noqa: E402
from cs20.datasets import sources  # noqa: E402
from lectures.l11_char_rnn import data as chars  # noqa: E402
from lectures.l11_char_rnn import model as l11_char_rnn  # noqa: E402  (the lecture's step)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.util import event_pb2  # noqa: E402

LINE_START = "\x00"  # history before a tweet's first character


def train_lecture(run_dir: pathlib.Path, budget_seconds: float, eval_every: int,
                  flags: list[str]) -> dict:
    """The lecture's figures after --max-seconds `budget_seconds` with `flags`, and its
    curve of validation bits/char against time (an evaluation every `eval_every` steps
    unless the flags say otherwise)."""
    command = [sys.executable, "-m", "lectures.l11_char_rnn", "--run-dir",
               str(run_dir.resolve()), "--max-seconds", str(budget_seconds), "--quiet",
               "--eval-every", str(eval_every), *flags]
    finished = subprocess.run(command, capture_output=True, text=True,
                              cwd=ROOT)  # where `lectures` is
    if finished.returncode != 0:
        sys.exit(f"l11_char_rnn failed: {finished.stderr.strip().splitlines()[-1:]}")
    trained = json.loads((run_dir / "results.json").read_text())
    return {"flags": " ".join(flags), "run_dir": str(run_dir), "training_steps": trained["steps"],
            "train_steps_per_second": trained.get("train/steps_per_second"),
            "wall_seconds": trained["wall_seconds"],
            "final_train_bits_per_character": trained.get("train/bits_per_character"),
            "validation_bits_per_character": trained["eval/bits_per_character"],
            "curve_seconds_step_bits": evaluation_curve(run_dir)}


def evaluation_curve(run_dir: pathlib.Path) -> list[list[float]]:
    """[seconds since the run's TensorBoard writer opened, step, validation bits/char] at
    each evaluation, read from the run's event file."""
    points, opened = [], None
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            opened = event.wall_time if opened is None else opened
            for value in event.summary.value:
                if value.tag == "eval/bits_per_character":
                    points.append([round(event.wall_time - opened, 1), event.step,
                                   round(float(tf.make_ndarray(value.tensor)), 4)])
    return points


def unigram_bits(train_lines: list[str], validation_lines: list[str], alphabet: int) -> float:
    """Cross-entropy (bits) of validation targets under add-one smoothed frequencies."""
    counts = collections.Counter(character for line in train_lines for character in line[1:])
    total = sum(counts.values())
    targets = [character for line in validation_lines for character in line[1:]]
    return -sum(math.log2((counts[c] + 1) / (total + alphabet)) for c in targets) / len(targets)


class NGram:
    """Character n-gram model with interpolated absolute discounting, down to uniform."""

    def __init__(self, lines: list[str], order: int, alphabet: int, discount: float = 0.75):
        self.order, self.alphabet, self.discount = order, alphabet, discount
        # counts[k][history of k characters][next character]
        self.counts = [collections.defaultdict(collections.Counter) for _ in range(order)]
        for line in lines:
            padded = LINE_START * (order - 1) + line
            for position in range(order, len(padded)):  # targets: line[1:]
                for k in range(order):
                    self.counts[k][padded[position - k:position]][padded[position]] += 1
        self.totals = [{h: sum(c.values()) for h, c in level.items()} for level in self.counts]

    def probability(self, history: str, character: str) -> float:
        probability = 1.0 / self.alphabet
        for k in range(self.order):  # from the empty history up to order - 1 characters
            context = history[len(history) - k:] if k else ""
            following = self.counts[k].get(context)
            if not following:
                continue
            total = self.totals[k][context]
            seen = max(following.get(character, 0) - self.discount, 0.0) / total
            probability = seen + self.discount * len(following) / total * probability
        return probability

    def bits(self, lines: list[str]) -> float:
        total, count = 0.0, 0
        for line in lines:
            padded = LINE_START * (self.order - 1) + line
            for position in range(self.order, len(padded)):
                history = padded[position - self.order + 1:position]
                total -= math.log2(self.probability(history, padded[position]))
                count += 1
        return total / count


def baselines(data_dir: str | None, max_lines: int) -> dict:
    """The baselines' bits/char, fitted and scored on the first `max_lines` lines of
    each split (0: all)."""
    vocabulary = chars.Vocabulary.course()
    split = chars.split_lines(chars.read_lines(sources.resolve("trump_tweets", data_dir)))
    kept = slice(max_lines or None)
    # What the model sees: characters outside the course's set are dropped.
    train = [vocabulary.decode(vocabulary.encode(line)) for line in split.train[kept]]
    validation = [line for line in (vocabulary.decode(vocabulary.encode(line))
                                    for line in split.validation[kept]) if len(line) >= 2]
    alphabet = len(vocabulary) - 1
    result = {"validation_characters": sum(len(line) - 1 for line in validation),
              "unigram_bits_per_character": round(unigram_bits(train, validation, alphabet), 4)}
    for order in range(2, 7):
        started = time.perf_counter()
        bits = NGram(train, order, alphabet).bits(validation)
        result[f"ngram{order}_bits_per_character"] = round(bits, 4)
        print(f"{order}-gram: {bits:.4f} bits/char ({time.perf_counter() - started:.1f} s)",
              file=sys.stderr)
    return result


def training_speed(data_dir: str | None, steps: int) -> dict:
    """Steps/s of our compiled step vs model.fit, same network, data and batch, each
    timed over `steps` steps after a tenth as many to warm up."""
    warmup = max(1, steps // 10)
    vocabulary = chars.Vocabulary.course()
    split = chars.split_lines(chars.read_lines(sources.resolve("trump_tweets", data_dir)))
    windows = chars.make_windows([vocabulary.encode(line) for line in split.train], 50, 25)
    dataset = chars.training_dataset(windows, 64, seed=0)

    def fresh_model():
        keras.utils.set_random_seed(0)
        return l11_char_rnn.build_model(len(vocabulary), (128, 256))[0]

    model = fresh_model()
    optimizer = keras.optimizers.Adam(3e-3)
    optimizer.build(model.trainable_variables)
    step = training.compile_step(tf.distribute.get_strategy(),
                                 l11_char_rnn.make_train_step(model, optimizer, clip_norm=5.0))
    iterator = iter(dataset)
    step(iterator, tf.constant(warmup))
    started = time.perf_counter()
    logs = step(iterator, tf.constant(steps))
    float(logs["loss"])  # wait for the last step
    ours = steps / (time.perf_counter() - started)

    def fit_rate(jit_compile) -> float:
        model = fresh_model()
        model.compile(optimizer=keras.optimizers.Adam(3e-3, global_clipnorm=5.0),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit_compile)
        weighted = dataset.map(lambda inputs, labels: (
            inputs, labels, tf.cast(chars.masks(labels), tf.float32)))
        model.fit(weighted, steps_per_epoch=warmup, epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(weighted, steps_per_epoch=steps, epochs=1, verbose=0)
        return steps / (time.perf_counter() - started)

    # Keras' default jit_compile="auto" compiles the fit step with XLA when every layer
    # supports it (the GRUs do); our step runs without XLA unless --jit-compile.
    fit_auto, fit_plain = fit_rate("auto"), fit_rate(False)
    return {"timed_steps": steps, "ours_steps_per_second": round(ours, 2),
            "fit_xla_auto_steps_per_second": round(fit_auto, 2),
            "fit_no_xla_steps_per_second": round(fit_plain, 2),
            "ours_over_fit_no_xla": round(ours / fit_plain, 3)}


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={
        "presets": "", "run": ["tiny=--num-steps 4 --hidden-sizes 16,16 --length 20"],
        "eval_every": 2, "baseline_lines": 200, "speed_steps": 2})
    parser.add_argument("--budget-seconds", type=float, default=600.0,
                        help="wall-clock budget of the training run (default: 600)")
    parser.add_argument("--run-dir", default="", help="run directory (default: a temporary one)")
    parser.add_argument("--speed-only", action="store_true",
                        help="only time our step against model.fit")
    parser.add_argument("--presets", default="course,fast",
                        help="the lecture's presets to train, comma-separated "
                             "(default: course,fast)")
    parser.add_argument("--eval-every", type=int, default=300,
                        help="steps between the evaluations of each run's curve (default: 300)")
    parser.add_argument("--run", action="append", default=[], metavar="LABEL=FLAGS",
                        help="also train the lecture with these flags (a lever), e.g. "
                             "'bptt48=--window 300 --bptt 48'; repeatable")
    parser.add_argument("--skip-speed", action="store_true",
                        help="leave out the timing of our step against model.fit")
    parser.add_argument("--baseline-lines", type=int, default=0,
                        help="fit and score the baselines on the first N lines of each split "
                             "(0: all)")
    parser.add_argument("--speed-steps", type=int, default=200,
                        help="steps timed by each side of the speed comparison (default: 200)")
    arguments = parser.parse_args(argv)
    for run in arguments.run:
        label, separator, _ = run.partition("=")
        if not separator or not label:
            parser.error(f"--run takes LABEL=FLAGS, got {run!r}")
    options.print_json(measure, arguments)


def measure(arguments) -> dict:
    data_dir = os.environ.get("CS20_DATA_DIR")
    if arguments.speed_only:
        return training_speed(data_dir, arguments.speed_steps)
    run_dir = pathlib.Path(options.scratch_folder(arguments.run_dir, "l11-benchmark-"))
    runs = {f"preset_{preset}": ["--preset", preset]
            for preset in arguments.presets.split(",") if preset}
    runs.update({label: shlex.split(flags)
                 for label, _, flags in (run.partition("=") for run in arguments.run)})
    result = {"budget_seconds": arguments.budget_seconds,
              **{label: train_lecture(run_dir / label, arguments.budget_seconds,
                                      arguments.eval_every, flags)
                 for label, flags in runs.items()},
              **baselines(data_dir, arguments.baseline_lines)}
    if not arguments.skip_speed:
        result["course_network_step"] = training_speed(data_dir, arguments.speed_steps)
    return result


if __name__ == "__main__":
    main()
