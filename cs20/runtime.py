"""Everything a run sets up before its first step and writes after its last.

`start` turns a parsed config into a `Run`: the run directory (`runs/<lecture>/<name>/`),
seeds and op determinism, the tf.distribute strategy, the mixed-precision policy, the
TensorBoard writer and `config.json`. `Run.finish` writes `results.json` and prints the
final metrics as a table, so every lecture ends the same way. Between the two, SIGTERM
stops the run with a one-line message and its resume command (the training loop answers
it itself: `training.stop_requests`).
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import datetime
import json
import math
import os
import pathlib
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

from cs20 import checkpoints, cli, summaries, training
from cs20 import config as config_lib
from cs20.checkpoints import read_json, write_json
from cs20.datasets import sources

import keras
import tensorflow as tf

RUNS_ROOT = pathlib.Path("runs")
CHECKPOINT_SUBDIR = "checkpoints"


def default_run_dir(lecture: str) -> pathlib.Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return RUNS_ROOT / lecture / stamp


LOCK_FILE = ".lock"


class RunFinished(Exception):
    """The lecture has nothing (more) to run: raised by `start` for a run that has already
    finished (its results were printed), and by a lecture's first cell after a read-only
    mode (--evaluate, --generate, --translate) printed what it read. Nothing was written;
    the command line exits 0."""


def clear_run_state(directory: pathlib.Path) -> None:
    """--fresh: drops what the run wrote that the new run could mix with: its checkpoints,
    its event files, its results and history. Only the run's own files, and only in the run
    directory itself: a subfolder may be another run, or the user's."""
    checkpoints.remove_all(directory / CHECKPOINT_SUBDIR)
    for pattern in ("events.out.tfevents.*", "results.json", "results-step*.json",
                    config_lib.RUN_INFO):
        for path in directory.glob(pattern):
            if path.is_file():
                path.unlink()


def refuse_fresh_outside_own_run(directory: pathlib.Path, lecture: str) -> None:
    """--fresh deletes a run's files: only in a run this lecture made (run.json says so)
    or in a folder holding nothing (hidden files aside); elsewhere a one-line error."""
    if not config_lib.visible_entries(directory):
        return
    owner = config_lib.run_lecture(directory)
    if owner == lecture:
        return
    what = f"is a run of {owner}" if owner else "is a folder that is not a cs20 run (no run.json)"
    raise ValueError(f"--fresh deletes a run's checkpoints and results, and --run-dir {directory} "
                     f"{what}, not of {lecture}: nothing was deleted; choose another --run-dir")


def acquire_lock(directory: pathlib.Path) -> pathlib.Path:
    """Makes this process the only writer of `directory`, or raises ValueError.

    Two processes on one run directory would interleave checkpoints and results. The
    lock file names its owner; a lock whose process is gone (killed) is taken over.
    """
    path = directory / LOCK_FILE
    owner = {"pid": os.getpid(), "host": socket.gethostname(),
             "since": datetime.datetime.now().isoformat(timespec="seconds")}
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _lock_holder(path)
            if holder.get("pid") == os.getpid() and holder.get("host") == owner["host"]:
                return path  # this process started the run earlier (e.g. a test)
            if holder.get("host") == owner["host"] and not _process_alive(holder.get("pid")):
                print(f"Removing a stale lock of process {holder.get('pid')} (no longer "
                      f"running) from {directory}")
                path.unlink(missing_ok=True)
                continue
            raise ValueError(
                f"--run-dir {directory} is in use by process {holder.get('pid')} on "
                f"{holder.get('host')} since {holder.get('since')}; wait for it to finish "
                f"or choose another --run-dir (if that process is gone, delete {path})"
            ) from None
        except OSError as error:
            raise ValueError(f"cannot write to --run-dir {directory} ({error.strerror}); "
                             "choose a folder you can write to") from None
        with os.fdopen(descriptor, "w") as lock:
            json.dump(owner, lock)
        return path
    raise ValueError(f"could not lock --run-dir {directory}; try again")


def _lock_holder(path: pathlib.Path, wait_seconds: float = 1.0) -> dict:
    """The owner a lock file names ({} if it names none). A lock just created is empty
    until its owner has written itself in: wait for that a moment."""
    deadline = time.monotonic() + wait_seconds
    while (holder := read_json(path)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return holder or {}


def release_lock(directory: pathlib.Path) -> None:
    path = directory / LOCK_FILE
    holder = read_json(path) or {}
    if holder.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def _process_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


# Per run directory this process created, the folders its start made, outermost first
# (the run directory last): removed again if the run fails before it has saved anything
# (no stub folders from a typo in a flag or a missing data file).
_created_for_runs: list[list[pathlib.Path]] = []


def make_directory(directory: pathlib.Path) -> list[pathlib.Path]:
    """`mkdir -p directory` -> the folders it created, outermost first ([] if it existed)."""
    missing = [path for path in (directory, *directory.parents) if not path.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create --run-dir {directory} ({error.strerror})") from None
    return missing[::-1]


def discard_runs_without_progress() -> None:
    """Deletes the run directories this process created that hold no checkpoint and no
    results (the run failed before its first step), and the empty parents their start
    created; folders that were there before stay, empty or not."""
    while _created_for_runs:
        *parents, directory = _created_for_runs.pop()
        if (directory / CHECKPOINT_SUBDIR / "checkpoint").exists() or \
                (directory / "results.json").exists():
            continue
        shutil.rmtree(directory, ignore_errors=True)
        for parent in reversed(parents):
            try:
                parent.rmdir()  # only if empty (e.g. runs/<lecture>/ made for this run)
            except OSError:
                break


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
    # False when training stopped before its last step (--max-seconds): the run is
    # not finished, and running the same command again goes on.
    complete: bool = True
    # SIGTERM's handler before `start` set the run's own; `finish` puts it back.
    previous_sigterm_handler: object = None
    # config.json and run.json as they were before `start` rewrote them (None: absent).
    previous_files: dict = dataclasses.field(default_factory=dict)

    def undo_start(self) -> None:
        """Puts config.json and run.json back as `start` found them, for a run refused
        after it started (fewer --num-epochs than it has trained is known only once the
        steps of an epoch are): its settings and history stay those of the run it kept."""
        for name, value in self.previous_files.items():
            if value is None:
                (self.directory / name).unlink(missing_ok=True)
            else:
                write_json(self.directory / name, value)

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
        """The command that goes on with this run, typed in the current directory: the
        lecture's command (`python -m lectures.NAME`) and the run directory, as a path
        that works from here."""
        script = pathlib.Path(sys.argv[0])
        if (cli.LECTURES_DIR / self.lecture).is_dir():
            program = cli.lecture_command(self.lecture)
        elif script.suffix == ".py" and script.name != "__main__.py" and script.is_file():
            program = f"python {shlex.quote(path_from_here(script))}"
        else:  # python -m cs20 run LECTURE, or a notebook
            program = f"python -m cs20 run {self.lecture}"
        # Quoted for the shell: a run directory may hold spaces.
        return f"{program} --run-dir {shlex.quote(path_from_here(self.directory))}"

    def final_evaluation_due(self, what: str) -> bool:
        """Whether the costly end-of-run evaluation `what` runs now: not after --max-seconds
        stopped training early (results.json then holds no test figures)."""
        if not self.complete:
            print(f"Stopped early: {what} will run when the run finishes.")
        return self.complete

    def finish(self, metrics: dict, steps: int | None = None) -> dict:
        """Writes results.json (metrics under their TensorBoard tags) and prints them."""
        results = {name: _plain(value) for name, value in metrics.items()}
        results["wall_seconds"] = round(time.perf_counter() - self.started, 2)
        if steps is not None:
            results["steps"] = int(steps)
        self.writer.flush()
        if self.chief:
            self._write_results({**results, "data_files": sources.files_used()})
            info = read_json(self.directory / config_lib.RUN_INFO) or {}
            write_json(self.directory / config_lib.RUN_INFO,
                       {**info, "status": "finished" if self.complete else "stopped"})
            release_lock(self.directory)
        if self.previous_sigterm_handler is not None:
            signal.signal(signal.SIGTERM, self.previous_sigterm_handler)
        print(format_table(results))
        print(f"Results: {self.directory / 'results.json'}")
        print(f"TensorBoard: tensorboard --logdir {self.directory}")
        return results

    def _write_results(self, results: dict) -> None:
        """results.json, unless it holds a run that went further than this one."""
        path = self.directory / "results.json"
        previous = read_json(path) or {}
        if previous.get("steps", 0) > results.get("steps", 0):
            path = self.directory / f"results-step{results.get('steps', 0)}.json"
            print(f"results.json holds a longer run ({previous['steps']} steps): "
                  f"these results go to {path.name}")
        write_json(path, results)


def saved_model_of(run_dir: str, name: str, lecture: str, flag: str) -> pathlib.Path:
    """The SavedModel folder `name` of a finished run, for flags that use it instead of
    training (--generate, --translate); a missing one is a one-line error saying how to
    make it."""
    if not run_dir:
        raise ValueError(f"{flag} needs --run-dir of a trained run")
    path = pathlib.Path(run_dir) / name
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"no {name} in {run_dir}: train first with "
                                f"{cli.lecture_command(lecture)} --run-dir {run_dir}")
    return path


def _worker_scratch_dir() -> pathlib.Path:
    return pathlib.Path(tempfile.gettempdir()) / f"cs20-worker-{os.getpid()}"


def path_from_here(path) -> str:
    """`path` relative to the current directory when it lies below it, else absolute."""
    absolute = pathlib.Path(path).resolve()
    try:
        return str(absolute.relative_to(pathlib.Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


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
    """Run directory, seeds, strategy, precision, writer and config.json for a lecture.

    Nothing is written before the run directory is known to be usable: not a file, not
    in use by another process, not already finished (`RunFinished`).
    """
    sources.forget_files_used()
    directory = pathlib.Path(config.run_dir) if config.run_dir else default_run_dir(lecture)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--run-dir {directory} is a file, not a folder")
    if getattr(config, "logical_devices", 0):
        split_cpu(config.logical_devices)
    # The strategy comes first: MultiWorkerMirroredStrategy must exist before any op runs.
    strategy = make_strategy(getattr(config, "strategy", "default"))
    chief = is_chief(strategy)
    saved = None if config.fresh else read_json(directory / "config.json")
    changed = config_lib.changes(saved, config) if saved else {}
    if chief:
        if config.fresh:
            refuse_fresh_outside_own_run(directory, lecture)
        else:
            _refuse_finished(directory, lecture, changed)
            _refuse_fewer_steps(directory, config, saved)
        created = make_directory(directory)
        if created:
            _created_for_runs.append(created)
        acquire_lock(directory)
        atexit.register(release_lock, directory)
        if config.fresh:
            clear_run_state(directory)
    set_seed(config.seed, config.deterministic)
    policy = set_precision(getattr(config, "mixed_precision", False))
    print(f"cs20 {lecture}: run directory {directory}")
    print(config_lib.describe(config))
    if changed:
        print("  changed since the run's last start: " + ", ".join(
            f"{name} {old!r} -> {new!r}" for name, (old, new) in changed.items()))
    if policy != "float32":
        print(f"  (dtype policy: {policy})")
    if chief:
        # run.json first: a second process reading the folder in between sees a run (and
        # is then refused by the lock), not a foreign folder holding a config.json.
        previous_files = {name: read_json(directory / name)
                          for name in (config_lib.RUN_INFO, "config.json")}
        info = copy.deepcopy(previous_files[config_lib.RUN_INFO]) or {"lecture": lecture,
                                                                      "history": []}
        info["history"].append({"started": datetime.datetime.now().isoformat(timespec="seconds"),
                                "changes": changed})
        write_json(directory / config_lib.RUN_INFO, {**info, "status": "running"})
        write_json(directory / "config.json", config_lib.to_dict(config))
        writer = tf.summary.create_file_writer(str(directory))
        summaries.hparams(writer, config_lib.to_dict(config))
    else:
        writer = tf.summary.create_noop_writer()
        previous_files = {}
    run = Run(lecture=lecture, config=config, directory=directory, strategy=strategy,
              writer=writer, chief=chief, previous_files=previous_files)
    if threading.current_thread() is threading.main_thread():  # where signals are handled
        run.previous_sigterm_handler = signal.signal(signal.SIGTERM, _stop_handler(run))
    return run


def _stop_handler(run: Run):
    """SIGTERM outside the training loop (which saves and stops itself): the default
    action kills the process without a word, in the middle of the final evaluation, say.
    This stops it with one line and the resume command (exit code 143, through
    cli.guard): the checkpoints are kept, and resuming redoes what came after the last
    one, the final evaluation with the training's metrics (`training.train`) included."""

    def handler(signum, frame):
        raise training.TrainingInterrupted(
            f"{signal.Signals(signum).name}: the run stopped before it finished; its "
            f"checkpoints are kept. Resume with: {run.resume_command()}", signum)

    return handler


# Settings whose change asks a finished run for more training.
EXTENDING_SETTINGS = ("num_steps", "num_epochs")


def _refuse_fewer_steps(directory: pathlib.Path, config, saved: dict | None) -> None:
    """A run asked for fewer steps than its checkpoints hold: it cannot be untrained, and
    going on would replace its results and its config.json. A one-line error, before
    anything is written. Fewer --num-epochs is known here only for a finished run (it
    trained all its epochs); `training.train` refuses the others, once it knows the
    steps of an epoch."""
    trained = checkpoints.saved_step(directory / CHECKPOINT_SUBDIR)
    asked_steps, asked_epochs = getattr(config, "num_steps", 0), getattr(config, "num_epochs", 0)
    if asked_steps and trained > asked_steps:
        raise ValueError(f"--run-dir {directory} has trained {trained} steps, more than "
                         f"--num-steps {asked_steps}: nothing was run. Pass --num-steps "
                         f"{trained} or more to go on with it, or --fresh to start it over")
    finished = (read_json(directory / config_lib.RUN_INFO) or {}).get("status") == "finished"
    saved_epochs = (saved or {}).get("num_epochs", 0)
    if (finished and not asked_steps and not (saved or {}).get("num_steps")
            and asked_epochs < saved_epochs):
        raise ValueError(f"--run-dir {directory} has trained {saved_epochs} epochs "
                         f"({trained} steps), more than --num-epochs {asked_epochs}: nothing "
                         f"was run. Pass --num-epochs {saved_epochs} or more to go on with it, "
                         "or --fresh to start it over")


def _refuse_finished(directory: pathlib.Path, lecture: str, changed: dict) -> None:
    """A finished run asked to run again without more steps: print its results, write
    nothing, raise RunFinished."""
    info = read_json(directory / config_lib.RUN_INFO) or {}
    results = read_json(directory / "results.json")
    if info.get("status") != "finished" or results is None:
        return
    if any(name in changed for name in EXTENDING_SETTINGS):
        return
    print(format_table(results))
    print(f"\n{directory} has finished (results above, in {directory / 'results.json'}); "
          "nothing was run. To train longer pass a larger --num-steps / --num-epochs; "
          "to start over, --fresh.")
    raise RunFinished(str(directory))
