"""Restore-or-initialise with tf.train.Checkpoint and tf.train.CheckpointManager.

The caller builds everything that has variables first (call the model once, and
`optimizer.build(model.trainable_variables)`) so the restore fills real variables
instead of queueing a deferred restore that silently never matches.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf


def restore_or_initialize(checkpoint: tf.train.Checkpoint, directory: pathlib.Path,
                          step: tf.Variable, max_to_keep: int = 3) -> tf.train.CheckpointManager:
    """Restores the newest checkpoint in `directory` if there is one; prints which."""
    manager = tf.train.CheckpointManager(checkpoint, directory=str(directory),
                                         max_to_keep=max_to_keep, step_counter=step)
    if manager.latest_checkpoint:
        # assert_existing_objects_matched: a checkpoint from another model is an error,
        # not a silent partial restore.
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        print(f"Resumed from {manager.latest_checkpoint} at step {int(step.numpy())}")
    else:
        print(f"No checkpoint in {directory}: starting from step 0")
    return manager
