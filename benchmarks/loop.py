"""Training steps/s of the shared loop against the alternatives, and time to first step.

    CS20_DATA_DIR=../shared/data flock /tmp/cs20_cpu.lock python benchmarks/loop.py \
        [--rounds 3] [--scale 1.0] [--models logistic,convnet,...] [--startup l03_...,...]
        [--flags "..."] [--tiny]

For lecture 3b's logistic regression, 7's ConvNet, 5a's word2vec, 10's VAE and 11's
char-RNN (their default sizes and batches), each variant trains the same model on the
same data from the same initial weights:

- `ours`: `training.train` with the automatic --steps-per-call (a real run: summaries
  every 100 steps, checkpoint at the end);
- `ours_steps_per_call_1`: the same with --steps-per-call 1;
- `bare_loop`: a Python loop calling the per-replica step as one `tf.function` per step;
- `fit_1` / `fit_64`: Keras `Model.fit` with steps_per_execution 1 / 64, without XLA
  like our step (not for word2vec: its sampled NCE loss is not a Keras loss).

Every rate leaves out the first call (tracing, compiling) and counts training alone (our
loop's summaries and checkpoint are left out too, as `train/steps_per_second` does). The
variants run interleaved, round after round, and each keeps its best round, so a busy
machine slows every variant alike. `ours_over_best` is ours / max(bare_loop, fit_1,
fit_64). The time to first step of each training lecture (process start to the end of
step 1, its `train/loss` summary's wall time, tiny settings) comes last.

Prints JSON.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import tempfile
import time

from cs20 import checkpoints, classification, config, runtime, training
from cs20.datasets import mnist, sources
from lectures.l03_logistic_regression import model as logistic
from lectures.l05_word2vec import data as l05_data
from lectures.l05_word2vec import model as word2vec  # the skip-gram and its step
from lectures.l05_word2vec.config import Config as Word2vecConfig
from lectures.l07_convnet import model as l07_convnet  # the ConvNet and its step
from lectures.l10_vae import data as l10_data
from lectures.l10_vae import model as l10_vae  # the VAE and its step
from lectures.l11_char_rnn import data as chars
from lectures.l11_char_rnn import model as l11_char_rnn  # the char-RNN and its step

import keras
import options
import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Setup:
    """One model with its optimizer, per-replica step and training data, built fresh."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    replica_step: object
    dataset: tf.data.Dataset
    fit_loss: object = None  # a Keras loss, or None: fit runs `replica_step` as train_step
    fit_dataset: tf.data.Dataset | None = None  # fit's data when it differs from ours
    fit_optimizer: keras.optimizers.Optimizer | None = None  # likewise


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    timed_steps: int
    build: object  # (data) -> Setup
    fits: bool = True


class Data:
    """Each data source loaded once, on first use."""

    def __init__(self, data_dir: str | None):
        self.data_dir = data_dir
        self._cache: dict = {}

    def get(self, name: str, load):
        if name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    def mnist(self) -> mnist.Splits:
        return self.get("mnist", lambda: mnist.load_splits(self.data_dir))

    def binarized_mnist(self) -> mnist.Splits:
        return self.get("binarized", lambda: l10_data.load_splits(self.data_dir))

    def text8_ids(self, vocab_size: int = 50_000):
        def load():
            words = l05_data.read_words(sources.resolve("text8_prefix", self.data_dir))
            return l05_data.build_vocabulary(words, vocab_size).to_ids(words)
        return self.get("text8", load)

    def tweet_windows(self):
        def load():
            vocabulary = chars.Vocabulary.course()
            split = chars.split_lines(chars.read_lines(sources.resolve("trump_tweets",
                                                                        self.data_dir)))
            windows = chars.make_windows([vocabulary.encode(line) for line in split.train],
                                         50, 25)
            return vocabulary, windows
        return self.get("tweets", load)


def classifier(build_model, make_train_step, flatten: bool):
    def build(data: Data) -> Setup:
        model = build_model()
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)
        dataset = mnist.make_dataset(data.mnist().train, 128, shuffle=True, seed=0,
                                     repeat=True, flatten=flatten)
        return Setup(model, optimizer, make_train_step(model, optimizer, 128),
                     dataset, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return build


def build_word2vec(data: Data) -> Setup:
    model = word2vec.SkipGram(50_000, 128, "course", seed=0)
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.build(model.trainable_variables)
    dataset = l05_data.skip_gram_dataset(data.text8_ids(), 128, 1, seed=0)
    cfg = Word2vecConfig(batch_size=128, num_sampled=64, seed=0)  # the course's settings
    return Setup(model, optimizer, word2vec.make_train_step(model, optimizer, cfg), dataset)


def build_vae(data: Data) -> Setup:
    model = l10_vae.build_vae(2)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    dataset = l10_data.with_noise(mnist.make_dataset(data.binarized_mnist().train, 128,
                                                     shuffle=True, seed=0, repeat=True), 2, 0)
    # fit runs the same step as Keras' train_step.
    return Setup(model, optimizer, l10_vae.make_train_step(model, optimizer, 128), dataset)


def build_char_rnn(data: Data) -> Setup:
    vocabulary, windows = data.tweet_windows()
    model = l11_char_rnn.build_model(len(vocabulary), (128, 256))[0]
    optimizer = keras.optimizers.Adam(3e-3)
    optimizer.build(model.trainable_variables)
    dataset = chars.training_dataset(windows, 64, seed=0)
    # fit: the same masked cross-entropy with the masks as sample weights, and the same
    # clipping of the gradient's global norm done by the optimizer.
    weighted = dataset.map(lambda inputs, labels: (
        inputs, labels, tf.cast(chars.masks(labels), tf.float32)))
    return Setup(model, optimizer, l11_char_rnn.make_train_step(model, optimizer, 5.0), dataset,
                 keras.losses.SparseCategoricalCrossentropy(from_logits=True), weighted,
                 keras.optimizers.Adam(3e-3, global_clipnorm=5.0))


BENCHMARKS = (
    Benchmark("logistic", 3000, classifier(logistic.build, classification.make_train_step, True)),
    Benchmark("convnet", 40, classifier(l07_convnet.build_convnet, l07_convnet.make_train_step,
                                        False)),
    Benchmark("word2vec", 6000, build_word2vec, fits=False),
    Benchmark("vae", 150, build_vae),
    Benchmark("char_rnn", 60, build_char_rnn),
)


def fresh_setup(benchmark: Benchmark, data: Data) -> Setup:
    keras.utils.set_random_seed(0)
    return benchmark.build(data)


def ours(benchmark: Benchmark, data: Data, steps: int, steps_per_call: int,
         run_dir: pathlib.Path) -> float:
    """Steps/s of `training.train` as the lectures run it (its own training clock)."""
    cfg = config.TrainConfig(run_dir=str(run_dir), fresh=True, num_steps=steps + 1,
                             checkpoint_every=steps + 1, steps_per_call=steps_per_call)
    run = runtime.start(f"benchmark_{benchmark.name}", cfg)
    setup = fresh_setup(benchmark, data)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    iterator = training.distribute(run, setup.dataset)
    checkpoint = checkpoints.make(step, setup.model, setup.optimizer, iterator)
    results = training.train(
        run, step_fn=training.compile_step(run.strategy, setup.replica_step),
        iterator=iterator, checkpoint=checkpoint, step=step,
        schedule=training.make_schedule(cfg, steps + 1))
    return results["train/steps_per_second"]


def bare_loop(benchmark: Benchmark, data: Data, steps: int) -> float:
    """Steps/s of the textbook custom loop: one tf.function call per step from Python."""
    setup = fresh_setup(benchmark, data)
    compiled = tf.function(setup.replica_step)
    iterator = iter(setup.dataset)
    float(compiled(next(iterator))["loss"])  # trace and compile
    started = time.perf_counter()
    for _ in range(steps):
        logs = compiled(next(iterator))
    float(logs["loss"])  # wait for the last step
    return steps / (time.perf_counter() - started)


class _ExecutionClock(keras.callbacks.Callback):
    """Times fit from the end of its first execution (tracing) to the end of training."""

    def __init__(self):
        super().__init__()
        self.first_end = None
        self.end = None

    def on_train_batch_end(self, batch, logs=None):
        if self.first_end is None:
            self.first_end = time.perf_counter()

    def on_train_end(self, logs=None):
        self.end = time.perf_counter()


def fit(benchmark: Benchmark, data: Data, steps: int, steps_per_execution: int) -> float:
    setup = fresh_setup(benchmark, data)
    if setup.fit_loss is None:
        setup.model.train_step = setup.replica_step
    setup.model.compile(optimizer=setup.fit_optimizer or setup.optimizer, loss=setup.fit_loss,
                        steps_per_execution=steps_per_execution, jit_compile=False)
    timed = -(-steps // steps_per_execution) * steps_per_execution
    clock = _ExecutionClock()
    setup.model.fit(setup.fit_dataset or setup.dataset, epochs=1, verbose=0,
                    steps_per_epoch=steps_per_execution + timed, callbacks=[clock])
    return timed / (clock.end - clock.first_end)


def variants(benchmark: Benchmark, data: Data, steps: int, scratch: pathlib.Path) -> dict:
    runs = {
        "ours": lambda: ours(benchmark, data, steps, 0, scratch / "ours"),
        "ours_steps_per_call_1": lambda: ours(benchmark, data, steps, 1, scratch / "ours1"),
        "bare_loop": lambda: bare_loop(benchmark, data, steps),
    }
    if benchmark.fits:
        runs["fit_1"] = lambda: fit(benchmark, data, steps, 1)
        runs["fit_64"] = lambda: fit(benchmark, data, steps, 64)
    return runs


def measure(benchmark: Benchmark, data: Data, rounds: int, scale: float,
            scratch: pathlib.Path) -> dict:
    steps = max(int(benchmark.timed_steps * scale), 2)
    runs = variants(benchmark, data, steps, scratch)
    best = dict.fromkeys(runs, 0.0)
    for round_number in range(1, rounds + 1):
        for name, run in runs.items():
            best[name] = max(best[name], run())
            print(f"{benchmark.name} round {round_number} {name}: {best[name]:.1f} steps/s "
                  f"(best so far)", file=sys.stderr, flush=True)
    baselines = [best[name] for name in ("bare_loop", "fit_1", "fit_64") if name in best]
    return {"timed_steps": steps, **{name: round(rate, 2) for name, rate in best.items()},
            "ours_over_best": round(best["ours"] / max(baselines), 3)}


# Tiny settings: the time to first step is start-up, data and tracing, not training.
STARTUP_FLAGS = {
    "l03_logistic_regression": (),
    "l05_word2vec": ("--vocab-size", "2000", "--num-visualize", "0"),
    "l07_convnet": (),
    "l08_tfrecord": (),
    "l08_style_transfer": ("--image-size", "128"),
    "l10_vae": ("--fid-samples", "0"),
    "l11_char_rnn": (),
    "l12_translation": (),
}


def time_to_first_step(lecture: str, data_dir: str | None, scratch: pathlib.Path,
                       flags: list[str]) -> float:
    """Seconds from starting the lecture's process to the end of its first step.

    The loop writes `train/*` at step 1 (--summary-every 1); the event's wall time, minus
    the moment the process was started, is the answer. SIGTERM then stops the run (it
    saves and writes its events out) instead of waiting for the rest of training.
    """
    run_dir = scratch / lecture
    command = [sys.executable, "-m", f"lectures.{lecture}", "--run-dir",
               str(run_dir), "--fresh", "--summary-every", "1", "--num-steps", "1000",
               *(["--data-dir", data_dir] if data_dir else []), *STARTUP_FLAGS[lecture], *flags]
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    for line in process.stdout:
        if line.startswith("step 1/"):
            process.send_signal(signal.SIGTERM)
            break
    process.communicate(timeout=300)
    return first_summary_time(run_dir, "train/loss") - started


def first_summary_time(run_dir: pathlib.Path, tag: str) -> float:
    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(str(run_dir))
    events.Reload()
    return min(event.wall_time for event in events.Tensors(tag))


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"rounds": 1, "scale": 0, "models": "logistic",
                                           "startup": "l03_logistic_regression"})
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every variant "
                                                              "(default: 3; the best counts)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies every model's number of timed steps (at least 2)")
    parser.add_argument("--models", default=",".join(b.name for b in BENCHMARKS),
                        help="comma-separated subset of the models")
    parser.add_argument("--startup", default=",".join(STARTUP_FLAGS),
                        help="lectures whose time to first step is measured ('' for none)")
    parser.add_argument("--flags", default="",
                        help="more flags for those lectures (e.g. --dataset FOLDER)")
    arguments = parser.parse_args(argv)
    unknown = (set(arguments.models.split(",")) - {b.name for b in BENCHMARKS}) | \
        (set(filter(None, arguments.startup.split(","))) - set(STARTUP_FLAGS))
    if unknown:
        parser.error(f"unknown models or lectures {', '.join(sorted(unknown))}")
    options.print_json(measure_all, arguments)


def measure_all(arguments) -> dict:
    data = Data(os.environ.get("CS20_DATA_DIR"))
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="cs20-loop-benchmark-"))
    report: dict = {"rounds": arguments.rounds, "steps_per_second": {}}
    for benchmark in BENCHMARKS:
        if benchmark.name in arguments.models.split(","):
            report["steps_per_second"][benchmark.name] = measure(
                benchmark, data, arguments.rounds, arguments.scale, scratch)
    report["seconds_to_first_step"] = {
        lecture: round(time_to_first_step(lecture, data.data_dir, scratch,
                                          shlex.split(arguments.flags)), 2)
        for lecture in filter(None, arguments.startup.split(","))}
    return report


if __name__ == "__main__":
    main()
