"""One generic training loop, used by every lecture whose lesson is not the loop itself.

    step = training.compile_step(run.strategy, train_step, jit_compile=config.jit_compile)
    results = training.train(run, step_fn=step, iterator=iterator, checkpoint=checkpoint,
                             step=global_step, schedule=schedule, evaluate=evaluate)

The loop runs a compiled step for `schedule.num_steps` steps (or until
`--max-seconds` of wall time have passed), shows progress, writes
`train/*` scalars, evaluates, checkpoints, and refuses to go on (or to save) once the
loss is NaN or infinite. SIGINT (Ctrl-C) and SIGTERM save a checkpoint and stop with a
message saying how to resume; a run killed harder resumes from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sys
import time

from cs20 import checkpoints, summaries

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


def make_schedule(config, steps_per_epoch: int) -> Schedule:
    """--num-steps wins over --num-epochs; 'every 0 steps' means once per epoch."""
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
    """
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def compile_step(strategy: tf.distribute.Strategy, replica_step, jit_compile: bool = False):
    """Wraps a per-replica step into one tf.function over the strategy.

    `replica_step(batch)` returns a dict of scalars already scaled to the *global*
    batch (e.g. `tf.nn.compute_average_loss`), so summing over replicas gives the
    global value whatever the number of replicas.
    """
    compiled_replica_step = tf.function(replica_step, jit_compile=jit_compile)

    @tf.function
    def distributed_step(batch):
        per_replica = strategy.run(compiled_replica_step, args=(batch,))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()}

    return distributed_step


def compile_steps(strategy: tf.distribute.Strategy, replica_step, jit_compile: bool = False):
    """Like `compile_step`, but one call runs several steps: `fn(iterator, num_steps)`.

    For models whose step is tiny (word2vec: ~0.2 ms) the Python loop around a call
    costs more than the step; a `tf.while_loop` of steps in one call does not. Returns
    each scalar averaged over the steps of the call. Pass it to `train` with
    `steps_per_call`.
    """
    distributed_step = compile_step(strategy, replica_step, jit_compile)

    @tf.function
    def multi_step(iterator, num_steps):
        totals = distributed_step(next(iterator))
        for _ in tf.range(num_steps - 1):
            logs = distributed_step(next(iterator))
            totals = {name: totals[name] + logs[name] for name in totals}
        return {name: value / tf.cast(num_steps, value.dtype) for name, value in totals.items()}

    return multi_step


def steps_until_event(current: int, schedule: Schedule, limit: int) -> int:
    """How many steps one call may run without stepping over a summary, evaluation or
    checkpoint step (or the end), at most `limit`."""
    events = (schedule.summary_every, schedule.eval_every, schedule.checkpoint_every)
    distances = [every - current % every for every in events if every > 0]
    return min([limit, schedule.num_steps - current, *distances])


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
          schedule: Schedule, evaluate=None, on_summary=None, progress_every: int = 10,
          steps_per_call: int = 1) -> dict:
    """Runs `step_fn(next(iterator))` until `step` reaches `schedule.num_steps`.

    With `steps_per_call` > 1, `step_fn` comes from `compile_steps` and is called as
    `step_fn(iterator, n)`, n <= steps_per_call chosen so that no summary, evaluation or
    checkpoint step is skipped over.

    `step` must be the variable tracked by `checkpoint` so that a restore puts the loop
    back where it stopped. `evaluate()` returns a dict of metrics, logged as `eval/*`.
    `on_summary(step)` runs at every summary step (histograms, images, samples).
    Returns the last train and eval metrics under their TensorBoard tags.
    """
    manager = checkpoints.restore_or_initialize(checkpoint, run.checkpoint_dir, step,
                                                write_directory=run.checkpoint_write_dir)
    progress = _Progress(schedule.num_steps, schedule.summary_every)
    results: dict = {}
    current = int(step.numpy())
    if current >= schedule.num_steps:
        progress.message(f"Already trained for {current} steps (--num-steps {schedule.num_steps}).")
    max_seconds = getattr(run.config, "max_seconds", 0.0)
    started = time.perf_counter()
    # Throughput counts training only: not the first step (tracing, compiling), and not
    # the time spent evaluating, summarising or checkpointing.
    clock = _TrainingClock(current)

    def save(values: dict) -> None:
        _require_finite(values, current, manager)
        checkpoints.save(manager, current)

    with stop_requests() as stop:
        while current < schedule.num_steps:
            previous = current
            if steps_per_call == 1:
                logs, advance = step_fn(next(iterator)), 1
            else:
                advance = steps_until_event(current, schedule, steps_per_call)
                logs = step_fn(iterator, tf.constant(advance))
            current = int(step.assign_add(advance).numpy())
            clock.step_done(current)
            out_of_time = bool(max_seconds) and time.perf_counter() - started >= max_seconds
            last = current == schedule.num_steps or out_of_time
            values = to_floats(logs) if (current // progress_every != previous // progress_every
                                         or last or current % schedule.summary_every == 0) \
                else None
            with clock.side_work():
                if values is not None:
                    _require_finite(values, current, manager)
                    values["steps_per_second"] = clock.recent_rate()
                    progress.update(current, values)
                    results.update({f"train/{name}": value for name, value in values.items()})
                if current % schedule.summary_every == 0 or last:
                    summaries.scalars(run.writer, values, current, prefix="train/")
                    if on_summary is not None:
                        on_summary(current)
                if evaluate is not None and (current % schedule.eval_every == 0 or last):
                    metrics = to_floats(evaluate())
                    summaries.scalars(run.writer, metrics, current, prefix="eval/")
                    progress.message(f"step {current}: eval " + "  ".join(
                        f"{name} {value:.4f}" for name, value in metrics.items()))
                    results.update({f"eval/{name}": value for name, value in metrics.items()})
                if current % schedule.checkpoint_every == 0 or last:
                    save(values if values is not None else to_floats(logs))
            if out_of_time and current < schedule.num_steps:
                run.complete = False
                progress.message(f"--max-seconds {max_seconds:g} reached at step {current} "
                                 f"of {schedule.num_steps}; go on with: {run.resume_command()}")
                break
            if stop["signum"] is not None and not last:
                save(values if values is not None else to_floats(logs))
                run.writer.flush()
                name = signal.Signals(stop["signum"]).name
                raise TrainingInterrupted(
                    f"\n{name} at step {current}: checkpoint saved to {manager.latest_checkpoint}."
                    f"\nResume with: {run.resume_command()}", stop["signum"])
    run.writer.flush()
    results.pop("train/steps_per_second", None)
    if clock.overall_rate() is not None:
        results["train/steps_per_second"] = clock.overall_rate()
    return results


class _TrainingClock:
    """Steps per second of training alone, recent and over the whole run."""

    def __init__(self, start_step: int):
        self.side_seconds = 0.0
        self.first = None  # (step, time, side_seconds) when the first step finished
        self.last = None  # the same for the latest step
        self.window = (start_step, time.perf_counter(), 0.0)

    def step_done(self, step: int) -> None:
        mark = (step, time.perf_counter(), self.side_seconds)
        if self.first is None:
            self.first = mark
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

    def recent_rate(self) -> float:
        """Since the previous call; call it right after step_done."""
        rate = self._rate(self.window, self.last)
        self.window = self.last
        return rate or 0.0

    def overall_rate(self) -> float | None:
        return self._rate(self.first, self.last) if self.first else None


def _require_finite(values: dict, step: int, manager: tf.train.CheckpointManager) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            kept = manager.latest_checkpoint or "none saved yet"
            raise NonFiniteLoss(
                f"{name} became {value} at step {step}; stopped without saving "
                f"(last good checkpoint: {kept}). Try a lower --learning-rate.")
