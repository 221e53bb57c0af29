"""Restore-or-initialise with tf.train.Checkpoint and tf.train.CheckpointManager.

The caller builds everything that has variables first (call the model once, and
`optimizer.build(model.trainable_variables)`) so the restore fills real variables
instead of queueing a deferred restore that silently never matches.
"""

from __future__ import annotations

import pathlib

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
    seen. Iterators over a dataset distributed across replicas cannot be saved
    (tf.distribute does not support it): such a run restarts its data order on resume.
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
                          write_directory: pathlib.Path | None = None
                          ) -> tf.train.CheckpointManager:
    """Restores the newest checkpoint in `directory` if there is one; prints which.

    The returned manager saves into `write_directory` (default: `directory`): in a
    multi-worker run every worker must take part in saving, but only the chief's
    copy is the real one.
    """
    manager = tf.train.CheckpointManager(checkpoint, directory=str(write_directory or directory),
                                         max_to_keep=max_to_keep, step_counter=step)
    latest = tf.train.latest_checkpoint(str(directory))
    if latest:
        # assert_existing_objects_matched: a checkpoint from another model is an error,
        # not a silent partial restore.
        checkpoint.restore(latest).assert_existing_objects_matched()
        print(f"Resumed from {latest} at step {int(step.numpy())}")
    else:
        print(f"No checkpoint in {directory}: starting from step 0")
    return manager


def save_final(directory: pathlib.Path, **trackables) -> str:
    """Saves finished models (no training state) for scripts that train in one go.

    Restore with `tf.train.Checkpoint(name=SameModelClass()).restore(path)`.
    """
    return tf.train.Checkpoint(**trackables).save(str(directory / "final"))
