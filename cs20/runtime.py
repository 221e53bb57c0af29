"""Everything a run sets up before its first step and writes after its last.

`start` turns a parsed config into a `Run`: the run directory (`runs/<lecture>/<name>/`),
seeds and op determinism, the tf.distribute strategy, the mixed-precision policy, the
TensorBoard writer and `config.json`. `Run.finish` writes `results.json` and prints the
final metrics as a table, so every lecture ends the same way.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import pathlib
import shutil
import tempfile
import time

from cs20 import config as config_lib
from cs20 import summaries
from cs20.datasets import sources

import keras
import tensorflow as tf

RUNS_ROOT = pathlib.Path("runs")
CHECKPOINT_SUBDIR = "checkpoints"


def default_run_dir(lecture: str) -> pathlib.Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return RUNS_ROOT / lecture / stamp


def clear_run_state(directory: pathlib.Path) -> None:
    """--fresh: drop checkpoints and event files so the new run cannot mix with the old."""
    shutil.rmtree(directory / CHECKPOINT_SUBDIR, ignore_errors=True)
    for events_file in directory.rglob("events.out.tfevents.*"):
        events_file.unlink()
    (directory / "results.json").unlink(missing_ok=True)


def set_seed(seed: int, deterministic: bool) -> None:
    # Seeds Python's `random`, NumPy and TensorFlow's global generator in one call.
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute engine behind --strategy."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}: use default, mirrored or multi_worker")


def split_cpu(num_devices: int) -> None:
    """Makes the CPU show up as `num_devices` logical devices (for --strategy mirrored).

    This is how tf.distribute is tested without GPUs. It must happen before TensorFlow
    initialises its devices, i.e. before the first op of the process.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    devices = [tf.config.LogicalDeviceConfiguration()] * num_devices
    if tf.config.get_logical_device_configuration(cpu) == devices:
        return  # already split the same way, e.g. by an earlier run in this process
    try:
        tf.config.set_logical_device_configuration(cpu, devices)
    except RuntimeError as error:
        raise ValueError(f"--logical-devices {num_devices} must be set before TensorFlow "
                         f"starts; run it in a fresh process ({error})") from None


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster.

    Only the chief writes the run's files; the others compute the same steps (their
    collective ops need them) but keep their checkpoints in a scratch folder.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def set_precision(mixed_precision: bool) -> str:
    """Sets (and returns) Keras' global dtype policy.

    float16 needs loss scaling and only pays off on GPUs; CPUs have fast bfloat16 paths
    and bfloat16 keeps float32's range, so it needs no scaling.
    """
    if not mixed_precision:
        policy = "float32"
    elif tf.config.list_physical_devices("GPU"):
        policy = "mixed_float16"
    else:
        policy = "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


@dataclasses.dataclass
class Run:
    """A started run: where it writes and what it runs on."""

    lecture: str
    config: object
    directory: pathlib.Path
    strategy: tf.distribute.Strategy
    writer: tf.summary.SummaryWriter
    chief: bool = True
    started: float = dataclasses.field(default_factory=time.perf_counter)

    @property
    def checkpoint_dir(self) -> pathlib.Path:
        """Where checkpoints are read from (the chief's)."""
        return self.directory / CHECKPOINT_SUBDIR

    @property
    def checkpoint_write_dir(self) -> pathlib.Path:
        """Where this process writes checkpoints: a scratch folder unless it is the chief."""
        if self.chief:
            return self.checkpoint_dir
        return _worker_scratch_dir()

    def write_path(self, name: str) -> pathlib.Path:
        """Where this process saves the artefact `name` that every worker must save (a
        SavedModel of distributed variables): the run directory on the chief, a scratch
        folder on the other workers of a multi-worker run."""
        return self.path(name) if self.chief else _worker_scratch_dir() / name

    def path(self, name: str) -> pathlib.Path:
        """A file in the run directory (artefacts: plots, samples, projector files)."""
        return self.directory / name

    def resume_command(self) -> str:
        return f"python lectures/{self.lecture}.py --run-dir {self.directory}"

    def finish(self, metrics: dict, steps: int | None = None) -> dict:
        """Writes results.json (metrics under their TensorBoard tags) and prints them."""
        results = {name: _plain(value) for name, value in metrics.items()}
        results["wall_seconds"] = round(time.perf_counter() - self.started, 2)
        if steps is not None:
            results["steps"] = int(steps)
        self.writer.flush()
        if self.chief:
            (self.directory / "results.json").write_text(json.dumps(
                {**results, "data_files": sources.files_used()}, indent=2) + "\n")
        print(format_table(results))
        print(f"Results: {self.directory / 'results.json'}")
        print(f"TensorBoard: tensorboard --logdir {self.directory}")
        return results


def saved_model_of(run_dir: str, name: str, lecture: str, flag: str) -> pathlib.Path:
    """The SavedModel folder `name` of a finished run, for flags that use it instead of
    training (--generate, --translate); a missing one is a one-line error saying how to
    make it."""
    if not run_dir:
        raise ValueError(f"{flag} needs --run-dir of a trained run")
    path = pathlib.Path(run_dir) / name
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"no {name} in {run_dir}: train first with "
                                f"python lectures/{lecture}.py --run-dir {run_dir}")
    return path


def _worker_scratch_dir() -> pathlib.Path:
    return pathlib.Path(tempfile.gettempdir()) / f"cs20-worker-{os.getpid()}"


def _plain(value):
    """Tensors and NumPy scalars -> JSON-friendly Python numbers."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    return value


def format_table(results: dict) -> str:
    width = max(len(name) for name in results)
    lines = ["", "Results", "-" * (width + 14)]
    for name, value in results.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<{width}}  {shown:>12}")
    return "\n".join(lines)


def start(lecture: str, config) -> Run:
    """Run directory, seeds, strategy, precision, writer and config.json for a lecture."""
    sources.forget_files_used()
    directory = pathlib.Path(config.run_dir) if config.run_dir else default_run_dir(lecture)
    if getattr(config, "logical_devices", 0):
        split_cpu(config.logical_devices)
    # The strategy comes first: MultiWorkerMirroredStrategy must exist before any op runs.
    strategy = make_strategy(getattr(config, "strategy", "default"))
    chief = is_chief(strategy)
    if config.fresh and chief:
        clear_run_state(directory)
    directory.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed, config.deterministic)
    policy = set_precision(getattr(config, "mixed_precision", False))
    print(f"cs20 {lecture}: run directory {directory}")
    print(config_lib.describe(config))
    if policy != "float32":
        print(f"  (dtype policy: {policy})")
    if chief:
        config_lib.save(config, directory / "config.json")
        writer = tf.summary.create_file_writer(str(directory))
        summaries.hparams(writer, config_lib.to_dict(config))
    else:
        writer = tf.summary.create_noop_writer()
    return Run(lecture=lecture, config=config, directory=directory, strategy=strategy,
               writer=writer, chief=chief)
