"""Restore-or-initialise with tf.train.Checkpoint and tf.train.CheckpointManager.

The caller builds everything that has variables first (call the model once, and
`optimizer.build(model.trainable_variables)`) so the restore fills real variables
instead of queueing a deferred restore that silently never matches.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil

import keras
import tensorflow as tf


def make(step: tf.Variable, model: keras.Model, optimizer=None, iterator=None,
         **extra) -> tf.train.Checkpoint:
    """A checkpoint of everything a run needs to continue exactly where it stopped.

    Besides the model, optimizer, step and data iterator it tracks the model's
    non-trainable variables explicitly: Keras 3 keeps random-number states (Dropout's
    seed generator) there, and tf.train.Checkpoint does not reach them through the
    model, so without this a resumed run would draw different dropout masks.

    A tf.data iterator is saved too, so a resumed run sees the batches it would have
    seen. Iterators over a dataset distributed across replicas (`--strategy mirrored`,
    `multi_worker`) cannot be saved (tf.distribute does not support it): such a run, or
    one resumed with another strategy, reads its data again from the first batch
    (`restore_or_initialize` says so).
    """
    parts = dict(step=step, model=model, model_state=list(model.non_trainable_variables),
                 **extra)
    if optimizer is not None:
        parts["optimizer"] = optimizer
    if isinstance(iterator, tf.data.Iterator):
        parts["iterator"] = iterator
    return tf.train.Checkpoint(**parts)


def restore_or_initialize(checkpoint: tf.train.Checkpoint, directory: pathlib.Path,
                          step: tf.Variable, max_to_keep: int = 3,
                          write_directory: pathlib.Path | None = None, iterator=None
                          ) -> tf.train.CheckpointManager:
    """Restores the newest readable checkpoint in `directory` if there is one; prints which.

    `iterator` is the one the run reads its data from (None: no data): when a resume
    cannot put it back where it was, one line says so.

    Half-written checkpoints (`ckpt-N_temp`, left by a kill or a full disk) are removed
    first. A newest checkpoint that cannot be read (truncated) is skipped for the one
    before it, with a message. A learning rate given now (a new `--learning-rate` on
    resume) wins over the one saved with the optimizer.

    The returned manager saves into `write_directory` (default: `directory`): in a
    multi-worker run every worker must take part in saving, but only the chief's
    copy is the real one.
    """
    for folder in {pathlib.Path(directory), pathlib.Path(write_directory or directory)}:
        require_folder(folder)
    remove_partial_saves(pathlib.Path(write_directory or directory))
    manager = tf.train.CheckpointManager(checkpoint, directory=str(write_directory or directory),
                                         max_to_keep=max_to_keep, step_counter=step)
    candidates = _checkpoints_newest_first(directory)
    if not candidates:
        print(f"No checkpoint in {directory}: starting from step 0")
        return manager
    optimizer = getattr(checkpoint, "optimizer", None)
    learning_rate = _learning_rate_variable(optimizer)
    requested_rate = None if learning_rate is None else float(learning_rate.numpy())
    for index, path in enumerate(candidates):
        try:
            # assert_existing_objects_matched: a checkpoint from another model is an error,
            # not a silent partial restore.
            status = _restorable_part(checkpoint, path).restore(
                path).assert_existing_objects_matched()
        except (tf.errors.OpError, IndexError) as error:  # IndexError: a truncated file
            reason = str(error).strip().splitlines()[0][:160]
            later = "the one before it" if index + 1 < len(candidates) else "none left"
            print(f"Checkpoint {path} cannot be read ({reason}); trying {later}")
            continue
        print(f"Resumed from {path} at step {int(step.numpy())}")
        if iterator is not None and (note := unrestored_position(iterator, path)):
            status.expect_partial()  # the note replaces TensorFlow's warnings about it
            print(note)
        if learning_rate is not None:
            saved_rate = float(learning_rate.numpy())
            if saved_rate != requested_rate:
                learning_rate.assign(requested_rate)
                print(f"Learning rate {requested_rate:g} (from the flags; the checkpoint "
                      f"had {saved_rate:g})")
        return manager
    raise ValueError(f"no checkpoint in {directory} can be read; start over with --fresh")


def _holds_iterator(path: str) -> bool:
    return any(name.startswith("iterator/") for name, _ in tf.train.list_variables(path))


def _restorable_part(checkpoint: tf.train.Checkpoint, path: str) -> tf.train.Checkpoint:
    """`checkpoint`, less a data iterator that the checkpoint at `path` does not hold (it
    was saved under a strategy whose iterator cannot be saved): left in, the iterator
    would fail the check that every object found its values."""
    children = checkpoint._trackable_children()
    if "iterator" not in children or _holds_iterator(path):
        return checkpoint
    return tf.train.Checkpoint(**{name: child for name, child in children.items()
                                  if name not in ("iterator", "save_counter")})


def unrestored_position(iterator, path: str) -> str | None:
    """Why a resume from checkpoint `path` leaves `iterator` at the start of the data, or
    None when the checkpoint put it back (see `make`)."""
    if not isinstance(iterator, tf.data.Iterator):
        why = ("this run's iterator is split across replicas (--strategy mirrored or multi_worker), "
               "which tf.distribute cannot restore")
    elif not _holds_iterator(path):
        why = "the checkpoint holds none: it was saved under --strategy mirrored or multi_worker"
    else:
        return None
    return (f"Data position not restored ({why}): training reads the data again from "
            "its first batch")


def _checkpoints_newest_first(directory: pathlib.Path) -> list[str]:
    """Checkpoint prefixes listed in the `checkpoint` state file, newest first."""
    state = tf.train.get_checkpoint_state(str(directory))
    if state is None:
        return []
    paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    if state.model_checkpoint_path not in paths:
        paths.append(state.model_checkpoint_path)
    return [os.path.join(str(directory), os.path.basename(path)) for path in reversed(paths)]


def saved_step(directory: pathlib.Path) -> int:
    """The step of the newest checkpoint in `directory`, 0 when there is none: the
    training loop saves step N as `ckpt-N`."""
    if not directory.is_dir():
        return 0
    state = tf.train.get_checkpoint_state(str(directory))
    prefix, _, number = os.path.basename(state.model_checkpoint_path if state else "").rpartition("-")
    return int(number) if prefix == "ckpt" and number.isdigit() else 0


def _learning_rate_variable(optimizer):
    """The optimizer's learning-rate variable, or None when it follows a schedule (a
    schedule is rebuilt from the flags at every start, so nothing needs restoring)."""
    if optimizer is None:
        return None
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    variable = getattr(inner, "_learning_rate", None)
    return variable if hasattr(variable, "assign") else None


def remove_partial_saves(directory: pathlib.Path) -> None:
    """Deletes `ckpt-N_temp*` leftovers of saves that never completed."""
    if not directory.is_dir():
        return
    for leftover in directory.glob("*_temp*"):
        print(f"Removing {leftover} (a checkpoint save that did not complete)")
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def require_folder(directory: pathlib.Path) -> None:
    """A one-line error (ValueError) when the checkpoint folder's name is taken by a file:
    TensorFlow would report it as a failed save, which reads like a full disk."""
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a folder: the run keeps its checkpoints "
                         "there; move or rename that file and run the same command again")


def save(manager: tf.train.CheckpointManager, step: int) -> str:
    """`manager.save` with a one-line error (ValueError) when the disk is full or the
    folder unwritable; the previous checkpoints stay intact and usable."""
    try:
        return manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as error:
        require_folder(pathlib.Path(manager.directory))
        remove_partial_saves(pathlib.Path(manager.directory))
        reason = str(error).strip().splitlines()[0][:200]
        kept = manager.latest_checkpoint or "none"
        raise ValueError(f"could not save the checkpoint of step {step} in "
                         f"{manager.directory} ({reason}); the last good checkpoint "
                         f"({kept}) is kept: free some space and run the same command "
                         "again") from None


def save_final(directory: pathlib.Path, **trackables) -> str:
    """Saves finished models (no training state) for scripts that train in one go.

    Restore with `tf.train.Checkpoint(name=SameModelClass()).restore(path)`.
    """
    return tf.train.Checkpoint(**trackables).save(str(directory / "final"))


# The files of the checkpoint folder that cs20 itself writes, besides the checkpoints.
TRAINED_RESULTS = "trained.json"
# TensorFlow's: the state file, `ckpt-N.*` (CheckpointManager), `final-N.*` (save_final)
# and the `*_temp*` leftovers of unfinished saves.
WRITTEN_PATTERNS = ("checkpoint", "ckpt-*", "final-*", "*_temp*", TRAINED_RESULTS)


def remove_all(directory: pathlib.Path) -> None:
    """Deletes the checkpoints and the files cs20 writes in `directory` (--fresh), and the
    folder itself once empty; other files (a model the user keeps there) stay."""
    if not directory.is_dir():
        return
    for pattern in WRITTEN_PATTERNS:
        for path in directory.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: the user's files are left in it
        directory.rmdir()


def write_json(path: pathlib.Path, value) -> None:
    """Writes JSON atomically: a reader (another worker, a crash) never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(temporary, path)


def read_json(path: pathlib.Path):
    """The JSON value in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def save_trained_results(directory: pathlib.Path, step: int, results: dict) -> None:
    """Keeps the metrics of a finished training loop next to its last checkpoint: a run
    stopped after training (during its final evaluation) resumes at that checkpoint with
    no step left to train, and its results.json still gets the train and eval metrics."""
    write_json(directory / TRAINED_RESULTS, {"step": step, "results": results})


def trained_results(directory: pathlib.Path, step: int) -> dict:
    """The metrics `save_trained_results` kept for `step` ({} if none were kept)."""
    saved = read_json(directory / TRAINED_RESULTS) or {}
    return dict(saved.get("results", {})) if saved.get("step") == step else {}
