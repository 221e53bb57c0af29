"""One generic training loop, used by every lecture whose lesson is not the loop itself.

    iterator = training.distribute(run, dataset)
    step_fn = training.compile_step(run.strategy, train_step, jit_compile=config.jit_compile)
    results = training.train(run, step_fn=step_fn, iterator=iterator, checkpoint=checkpoint,
                             step=global_step, schedule=schedule, evaluate=evaluate)

The loop runs the compiled step for `schedule.num_steps` steps (or until `--max-seconds`
of wall time have passed), several steps per call: one call of `step_fn` is a
`tf.while_loop` of steps on the device that returns its metrics once, so the host does
not wait for the device after every step. A call ends at every summary, evaluation and
checkpoint step (`--steps-per-call` sets how many steps a call may run; 0 chooses calls
of about a tenth of a second). Between calls the loop shows progress, writes `train/*`
scalars, evaluates, checkpoints, and refuses to go on (or to save) once the loss is NaN
or infinite. SIGINT (Ctrl-C) and SIGTERM save a checkpoint at the end of the current call
and stop with a message saying how to resume; a run killed harder resumes from its last
checkpoint. A --max-seconds stop evaluates and saves, and says how to go on. The metrics
of the last step are kept with its checkpoint, so a run stopped after training (in its
final evaluation) resumes with no step left to train and still reports them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import pathlib
import signal
import sys
import time

from cs20 import checkpoints, summaries
from cs20 import config as config_lib

import keras
import tensorflow as tf


class TrainingInterrupted(Exception):
    """Raised after SIGINT/SIGTERM once the checkpoint is safely written."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite; nothing after the last good checkpoint is saved."""


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When things happen, in steps."""

    num_steps: int
    eval_every: int
    checkpoint_every: int
    summary_every: int


def make_schedule(config, steps_per_epoch: int, examples: int | None = None) -> Schedule:
    """--num-steps wins over --num-epochs; 'every 0 steps' means once per epoch.

    `examples`: how many examples, in the unit of --batch-size, the training data holds;
    a larger --batch-size is refused (`config.check_batch_size`). Lectures whose batches
    come from `mnist.make_dataset` are checked there.
    """
    if examples is not None:
        config_lib.check_batch_size(config.batch_size, examples)
    num_steps = config.num_steps or config.num_epochs * steps_per_epoch
    return Schedule(num_steps=num_steps,
                    eval_every=config.eval_every or min(steps_per_epoch, num_steps),
                    checkpoint_every=config.checkpoint_every or min(steps_per_epoch, num_steps),
                    summary_every=config.summary_every)


def learning_rate(peak: float, decay: str, num_steps: int):
    """A constant learning rate, or cosine decay from `peak` to 0 over the run.

    Decaying to zero averages out the noise of the last steps' mini-batch gradients:
    a constant Adam rate keeps jumping around the minimum.
    """
    if decay == "constant":
        return peak
    if decay == "cosine":
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=num_steps)
    raise ValueError(f"unknown learning-rate decay {decay!r}: use constant or cosine")


def with_loss_scaling(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """`optimizer` wrapped in a LossScaleOptimizer under the mixed_float16 policy.

    float16 gradients underflow to zero without loss scaling; bfloat16 (the CPU policy)
    has float32's range and needs none. Steps call `optimizer.scale_loss(loss)` inside
    the tape: a plain optimizer returns the loss unchanged, a LossScaleOptimizer scales
    it and `apply` unscales the gradients (and skips steps whose gradients overflowed).
    A step that reads the gradients before `apply` (clipping, norms) sees them times
    `loss_scale(optimizer)`.
    """
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def loss_scale(optimizer: keras.optimizers.Optimizer) -> tf.Tensor:
    """What `optimizer.scale_loss` multiplies a loss by now: 2^15 at first under
    mixed_float16 (it then moves), 1 otherwise. The gradients of a scaled loss are the
    loss's gradients times this, until `apply` divides it out: a clip norm or a reported
    norm must be measured in the same units."""
    return tf.convert_to_tensor(optimizer.scale_loss(tf.constant(1.0)))


def dense_gradients(gradients: list) -> list:
    """`gradients` with the sparse ones (`tf.IndexedSlices`, from embedding lookups) made
    dense, for a step that applies them with Adam, or under several replicas.

    An embedding's gradient is an IndexedSlices with one row per token of the batch, so
    a word seen twice has two rows. Keras 3's Adam squares the gradient row by row: its
    second moment gets the sum of the squares of the two rows, not the square of their
    sum, and the word's update comes out up to sqrt(n) times too large for a word seen n
    times (the dense gradient is the sum, as the maths says). And TensorFlow all-reduces
    an IndexedSlices by gathering each replica's row count and indices, which depend on
    the batch alone: inside one call of `compile_step` (a loop of steps) a replica can
    start those gathers for its next step while another is still in the current one,
    and they pair across steps ("Shape mismatch in the collective instance" once two
    steps' batches differ in shape). A dense gradient depends on the weights, so its
    all-reduce keeps the replicas in step. The cost: a (vocabulary, embedding) gradient,
    which Adam's dense moment updates read in full anyway. SGD is linear in the gradient
    and may keep its rows (lecture 5a).
    """
    return [tf.convert_to_tensor(gradient) if isinstance(gradient, tf.IndexedSlices)
            else gradient for gradient in gradients]


# One call of the compiled step runs steps for about this long when --steps-per-call is 0:
# long enough that the per-call cost on the host is a fraction of a percent, short enough
# that Ctrl-C and --max-seconds are answered at once.
CALL_SECONDS = 0.1
# The automatic size under --strategy multi_worker, where it cannot follow the clock: every
# worker must run calls of the same length (their all-reduces pair up step by step), and
# each worker's clock says something else.
MULTI_WORKER_STEPS_PER_CALL = 10


def data_options(deterministic: bool) -> tf.data.Options:
    """The tf.data options every training pipeline runs with.

    Autotuned parallelism and prefetch buffers; elements of parallel maps may come out of
    order (whichever is ready first) unless the run is --deterministic. A map that states
    `deterministic=True` itself keeps its order either way.
    """
    options = tf.data.Options()
    options.autotune.enabled = True
    options.deterministic = deterministic
    return options


def distribute(run, dataset: tf.data.Dataset):
    """The iterator the loop draws batches from: `dataset` with `data_options`, split
    across the strategy's replicas.

    Mirrored strategies also prefetch each replica's part onto its device. On a single
    device the batches are taken inside the compiled call instead: prefetching onto a GPU
    (`prefetch_to_device`) would make the iterator impossible to checkpoint.
    """
    dataset = dataset.with_options(data_options(run.config.deterministic))
    return iter(run.strategy.experimental_distribute_dataset(dataset))


def compile_step(strategy: tf.distribute.Strategy, replica_step, jit_compile: bool = False):
    """Wraps a per-replica step into `run_steps(iterator, num_steps)`, one tf.function.

    A call runs `num_steps` steps, each on the next batch of `iterator` (None for steps
    that take no data), in a `tf.while_loop` on the device, and returns each metric
    averaged over those steps: the host reads the metrics once per call, not per step.
    `replica_step(batch)` returns a dict of scalars already scaled to the *global* batch
    (e.g. `tf.nn.compute_average_loss`), so summing over replicas gives the global value
    whatever the number of replicas. `jit_compile` compiles the replica step with XLA.
    """
    compiled_replica_step = tf.function(replica_step, jit_compile=jit_compile)

    def one_step(iterator) -> dict:
        batch = None if iterator is None else next(iterator)
        per_replica = strategy.run(compiled_replica_step, args=(batch,))
        # float32 sums: float16 metrics of mixed precision would overflow over many steps.
        return {name: tf.cast(strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None),
                              tf.float32) for name, value in per_replica.items()}

    @tf.function
    def run_steps(iterator, num_steps):
        # The step appears once in the graph, inside the loop: a second copy (say, a first
        # step before the loop) would hold its own stateful random ops (word2vec's
        # sampler), each drawing its own stream, and the draws would then depend on how
        # the steps are split into calls. The names of the metrics come from a trace of
        # the step that is never run.
        names = tf.function(one_step).get_concrete_function(iterator).structured_outputs
        totals = {name: tf.constant(0.0) for name in names}
        for _ in tf.range(num_steps):
            logs = one_step(iterator)
            totals = {name: totals[name] + logs[name] for name in totals}
        return {name: value / tf.cast(num_steps, tf.float32) for name, value in totals.items()}

    return run_steps


def compile_totals(batch_sums, names: tuple[str, ...]):
    """-> `totals(dataset)`: the sums of `batch_sums(batch)[name]` over a whole finite
    dataset, computed in one compiled call and returned once (no host read per batch).

    `batch_sums(batch)` returns a dict of per-batch scalar sums (summed loss, number
    correct, count). Totals are float64, exactly what adding each batch's float32 sum
    to a Python float would give.
    """

    @tf.function
    def totals(dataset: tf.data.Dataset) -> dict:
        sums = {name: tf.constant(0.0, tf.float64) for name in names}
        for batch in dataset:
            values = batch_sums(batch)
            sums = {name: sums[name] + tf.cast(values[name], tf.float64) for name in names}
        return sums

    return totals


def steps_until_event(current: int, schedule: Schedule, limit: int) -> int:
    """How many steps one call may run without stepping over a summary, evaluation or
    checkpoint step (or the end), at most `limit`."""
    events = (schedule.summary_every, schedule.eval_every, schedule.checkpoint_every)
    distances = [every - current % every for every in events if every > 0]
    return min([limit, schedule.num_steps - current, *distances])


class _CallSizer:
    """How many steps the next call may run (before `steps_until_event` cuts it short).

    `--steps-per-call N` fixes it. With 0 (automatic), a call runs as many steps as take
    about CALL_SECONDS at the speed of the previous call, and no more than the time left
    under --max-seconds; the first two calls run one step each (the first traces and
    compiles, so its time says nothing about a step).
    """

    def __init__(self, requested: int, max_seconds: float):
        if requested < 0:
            raise ValueError(f"--steps-per-call must be 0 (automatic) or a number of steps, "
                             f"got {requested}")
        self.requested = requested
        self.max_seconds = max_seconds
        self.calls = 0
        self.seconds_per_step = None

    def limit(self, elapsed_seconds: float) -> int:
        if self.requested:
            return self.requested
        if self.seconds_per_step is None:
            return 1
        steps = CALL_SECONDS / self.seconds_per_step
        if self.max_seconds:
            steps = min(steps, (self.max_seconds - elapsed_seconds) / self.seconds_per_step)
        return max(1, int(steps))

    def call_done(self, steps: int, seconds: float) -> None:
        self.calls += 1
        if self.calls > 1:
            self.seconds_per_step = max(seconds / steps, 1e-9)


@contextlib.contextmanager
def stop_requests():
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps.

    A second Ctrl-C while the flag is already set falls back to KeyboardInterrupt, for
    a user who really wants out now.
    """
    received = {"signum": None}

    def handler(signum, frame):
        if received["signum"] == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received["signum"] = signum

    previous = {signum: signal.signal(signum, handler)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, old_handler in previous.items():
            signal.signal(signum, old_handler)


def to_floats(logs: dict) -> dict:
    return {name: float(value) for name, value in logs.items()}


class _Progress:
    """keras.utils.Progbar on a terminal; in logs and CI, one plain line per summary step."""

    def __init__(self, num_steps: int, summary_every: int):
        self.num_steps = num_steps
        self.summary_every = summary_every
        self.progbar = keras.utils.Progbar(num_steps, unit_name="step") if sys.stdout.isatty() \
            else None

    def update(self, step: int, values: dict) -> None:
        if self.progbar is not None:
            self.progbar.stateful_metrics.update(values)
            self.progbar.update(step, list(values.items()))
        elif step % self.summary_every == 0 or step == self.num_steps:
            shown = "  ".join(f"{name} {value:.4g}" for name, value in values.items())
            print(f"step {step}/{self.num_steps}  {shown}", flush=True)

    def message(self, text: str) -> None:
        if self.progbar is not None:
            print()
        print(text, flush=True)


def train(run, *, step_fn, iterator, checkpoint: tf.train.Checkpoint, step: tf.Variable,
          schedule: Schedule, evaluate=None, on_summary=None,
          steps_per_call: int | None = None, max_loss: float | None = None) -> dict:
    """Calls `step_fn(iterator, n)` (from `compile_step`) until `step` reaches
    `schedule.num_steps`; each call runs n steps.

    n never steps over a summary, evaluation or checkpoint step, or the end; at most
    `steps_per_call` (default: the run's --steps-per-call; 0 = automatic, see `_CallSizer`,
    or MULTI_WORKER_STEPS_PER_CALL under --strategy multi_worker). A run whose checkpoint
    is past `schedule.num_steps` is refused (ValueError): it cannot be untrained.
    `step` must be the variable tracked by `checkpoint`, so that a restore puts the loop
    back where it stopped: the loop counts steps on the host and writes the count into
    `step` after each call, never reading it back. `evaluate()` returns a dict of metrics,
    logged as `eval/*`. `on_summary(step)` runs at every summary step (histograms,
    images, samples). The `train/*` scalars at a summary step are the means over the
    steps since the previous one. A call whose mean loss passes `max_loss` (a bound a
    healthy run stays under) stops the run as a NaN loss does. Returns the last train and
    eval metrics under their TensorBoard tags, with `train/steps_per_call` (the mean) and
    `seconds_to_first_step` (from the start of the process, where it can be read).
    """
    if steps_per_call is None:
        steps_per_call = getattr(run.config, "steps_per_call", 0)
    if steps_per_call == 0 and getattr(run.config, "strategy", "default") == "multi_worker":
        steps_per_call = MULTI_WORKER_STEPS_PER_CALL
    max_seconds = getattr(run.config, "max_seconds", 0.0)
    sizer = _CallSizer(steps_per_call, max_seconds)
    manager = checkpoints.restore_or_initialize(checkpoint, run.checkpoint_dir, step,
                                                write_directory=run.checkpoint_write_dir,
                                                iterator=iterator)
    progress = _Progress(schedule.num_steps, schedule.summary_every)
    current = int(step.numpy())
    start_step = current
    if current > schedule.num_steps:
        if run.chief:
            run.undo_start()
        raise ValueError(f"the run has trained {current} steps, more than the "
                         f"{schedule.num_steps} that --num-steps / --num-epochs ask for now: "
                         f"nothing was trained. Ask for {current} steps or more to go on, or "
                         "--fresh to start over")
    # A run stopped after its last step: the metrics kept then (none before the last step,
    # where the loop computes them again).
    results = checkpoints.trained_results(run.checkpoint_dir, current)
    if current == schedule.num_steps:
        progress.message(f"Already trained for {current} steps (--num-steps {schedule.num_steps}).")
    started = time.perf_counter()
    # Throughput counts training only: not the first call (tracing, compiling), and not
    # the time spent evaluating, summarising or checkpointing.
    clock = _TrainingClock()
    interval = _IntervalMeans()
    seconds_to_first_step = None

    with stop_requests() as stop:
        while current < schedule.num_steps:
            advance = steps_until_event(current, schedule,
                                        sizer.limit(time.perf_counter() - started))
            call_started = time.perf_counter()
            logs = to_floats(step_fn(iterator, tf.constant(advance)))  # the call's one read
            sizer.call_done(advance, time.perf_counter() - call_started)
            first, current = current + 1, current + advance
            step.assign(current)
            clock.step_done(current)
            if sizer.calls == 1:
                seconds_to_first_step = seconds_since_process_start()
            _require_finite(logs, first, current, manager, max_loss)
            interval.add(logs, advance)
            out_of_time, stopping = agree(
                run.strategy, bool(max_seconds) and time.perf_counter() - started >= max_seconds,
                stop["signum"] is not None)
            finished = current == schedule.num_steps
            last = finished or out_of_time
            summary_due = current % schedule.summary_every == 0 or last
            with clock.side_work():
                values = interval.means()
                rate = clock.recent_rate() if summary_due else None
                if rate is not None:
                    values["steps_per_second"] = rate
                if summary_due:
                    interval.reset()
                progress.update(current, values)
                results.update({f"train/{name}": value for name, value in values.items()})
                if summary_due:
                    summaries.scalars(run.writer, values, current, prefix="train/")
                if summary_due and on_summary is not None and not stopping:
                    on_summary(current)
                # Also at a --max-seconds stop: a time-budgeted run's result is its evaluation
                # (lecture 11's 10 minutes against an n-gram); the test set waits for the end.
                if evaluate is not None and not stopping and (
                        last or current % schedule.eval_every == 0):
                    metrics = to_floats(evaluate())
                    summaries.scalars(run.writer, metrics, current, prefix="eval/")
                    progress.message(f"step {current}: eval " + "  ".join(
                        f"{name} {value:.4f}" for name, value in metrics.items()))
                    results.update({f"eval/{name}": value for name, value in metrics.items()})
                if current % schedule.checkpoint_every == 0 or last or stopping:
                    checkpoints.save(manager, current)
            if finished or out_of_time:
                results = _overall_results(results, clock, current - start_step, sizer.calls,
                                           seconds_to_first_step)
            if finished:
                # Kept with the last checkpoint: a resume after a stop from here on (this
                # signal, or one in the final evaluation) has them without training.
                checkpoints.save_trained_results(run.checkpoint_write_dir, current, results)
            # A signal that came after the workers last agreed (during the last step's
            # evaluation or checkpoint) stops the run too, before its final evaluation.
            if stopping or (finished and stop["signum"] is not None):
                # Also at the last step: the signal asked to stop, so the run does not go
                # on to its final evaluation and artefacts; the resume command does that.
                run.writer.flush()
                signum = stop["signum"] or signal.SIGTERM  # None: another worker was stopped
                name = signal.Signals(signum).name if stop["signum"] else "Another worker's stop"
                raise TrainingInterrupted(
                    f"\n{name} at step {current}: checkpoint saved to {manager.latest_checkpoint}."
                    f"\nResume with: {run.resume_command()}", signum)
            if out_of_time and not finished:
                run.complete = False
                progress.message(f"--max-seconds {max_seconds:g} reached at step {current} "
                                 f"of {schedule.num_steps}; go on with: {run.resume_command()}")
                break
    run.writer.flush()
    return results


def _overall_results(results: dict, clock, steps_trained: int, calls: int,
                     seconds_to_first_step: float | None) -> dict:
    """The loop's results as it returns them: the last summary's train and eval metrics,
    with the steps per second over the whole run in place of the last interval's."""
    overall = {name: value for name, value in results.items()
               if name != "train/steps_per_second"}
    if clock.overall_rate() is not None:
        overall["train/steps_per_second"] = clock.overall_rate()
    if calls:
        overall["train/steps_per_call"] = steps_trained / calls
    if seconds_to_first_step is not None:
        overall["seconds_to_first_step"] = seconds_to_first_step
    return overall


def agree(strategy: tf.distribute.Strategy, *flags: bool) -> tuple[bool, ...]:
    """Each flag, raised if it is raised on any worker of a multi-worker cluster.

    Workers must stop after the same step: their all-reduces pair up step by step, so a
    worker that stops alone (its own clock ran out, or it alone got SIGTERM) would leave
    the others waiting forever. Elsewhere the flags are returned as they are.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return flags
    local = tf.constant([float(flag) for flag in flags])  # (flags,) 1.0 where raised
    # ReduceOp has only SUM and MEAN: a flag is raised somewhere when its sum is positive.
    raised_count = strategy.reduce(tf.distribute.ReduceOp.SUM,
                                   strategy.run(tf.identity, args=(local,)), axis=None)
    return tuple(bool(count > 0) for count in raised_count.numpy())


class _IntervalMeans:
    """Means of the train metrics over the steps since the last summary step, from each
    call's means (weighted by its number of steps), so that the logged value does not
    depend on how the steps were split into calls."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.sums: dict = {}
        self.steps = 0

    def add(self, means: dict, steps: int) -> None:
        for name, value in means.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * steps
        self.steps += steps

    def means(self) -> dict:
        return {name: total / self.steps for name, total in self.sums.items()}


class _TrainingClock:
    """Steps per second of training alone, recent and over the whole run, both from the
    end of the first call (which traces and compiles)."""

    def __init__(self):
        self.side_seconds = 0.0
        self.first = None  # (step, time, side_seconds) when the first call finished
        self.last = None  # the same for the latest call
        self.window = None  # the same where the recent rate starts

    def step_done(self, step: int) -> None:
        mark = (step, time.perf_counter(), self.side_seconds)
        if self.first is None:
            self.first = self.window = mark
        self.last = mark

    @contextlib.contextmanager
    def side_work(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.side_seconds += time.perf_counter() - started

    @staticmethod
    def _rate(start, end) -> float | None:
        steps, seconds = end[0] - start[0], (end[1] - start[1]) - (end[2] - start[2])
        return steps / seconds if steps > 0 and seconds > 0 else None

    def recent_rate(self) -> float | None:
        """Since the previous recent_rate (None right after the first call)."""
        rate = self._rate(self.window, self.last)
        self.window = self.last
        return rate

    def overall_rate(self) -> float | None:
        return self._rate(self.first, self.last) if self.first else None


def _require_finite(values: dict, first: int, last: int,
                    manager: tf.train.CheckpointManager, max_loss: float | None = None) -> None:
    """Stops the run when a metric of the call that ran steps first..last is NaN or
    infinite (a call's metrics are means, so one bad step shows), or its loss passed
    `max_loss`: training diverged, and what it would save is garbage."""
    for name, value in values.items():
        too_high = name == "loss" and max_loss is not None and value > max_loss
        if not math.isfinite(value) or too_high:
            kept = manager.latest_checkpoint or "none saved yet"
            where = (f"at step {last}" if first == last else
                     f"in steps {first}-{last} (one call; --steps-per-call 1 finds the step)")
            became = (f"rose to {value:.4g}, above {max_loss:.4g}," if too_high
                      else f"became {value}")
            raise NonFiniteLoss(
                f"{name} {became} {where}; stopped without saving "
                f"(last good checkpoint: {kept}). Try a lower --learning-rate.")


def seconds_since_process_start() -> float | None:
    """Wall-clock seconds since this process started, from Linux's /proc (None elsewhere):
    the start-up a user waits through, imports and tracing included."""
    try:
        stat = pathlib.Path("/proc/self/stat").read_text()
        uptime_seconds = float(pathlib.Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    # Field 22 of /proc/self/stat, counted after the parenthesised command name (which
    # may hold spaces): the start time in clock ticks since boot.
    start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return uptime_seconds - start_ticks / os.sysconf("SC_CLK_TCK")
