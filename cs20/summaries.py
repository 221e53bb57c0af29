"""TensorBoard helpers on top of tf.summary, one writer per run.

Tags follow `<split>/<name>` (`train/loss`, `eval/accuracy`) so TensorBoard groups them.
"""

from __future__ import annotations

import io
import pathlib

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api


def scalars(writer: tf.summary.SummaryWriter, values: dict, step: int, prefix: str = "") -> None:
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(f"{prefix}{name}", value)


def histograms(writer: tf.summary.SummaryWriter, variables, step: int, prefix: str = "") -> None:
    """One histogram per variable, named by its path (`dense/kernel`)."""
    with writer.as_default(step=step):
        for variable in variables:
            tf.summary.histogram(f"{prefix}{variable.path}", variable)


def images(writer: tf.summary.SummaryWriter, tag: str, batch, step: int,
           max_outputs: int = 16) -> None:
    """batch: (n, height, width, channels), float in [0, 1] or uint8."""
    with writer.as_default(step=step):
        tf.summary.image(tag, batch, max_outputs=max_outputs)


def text(writer: tf.summary.SummaryWriter, tag: str, markdown: str, step: int) -> None:
    with writer.as_default(step=step):
        tf.summary.text(tag, markdown)


def hparams(writer: tf.summary.SummaryWriter, config_values: dict) -> None:
    """Logs the run's settings once, at step 0, for TensorBoard's HParams tab."""
    plain = {name: value for name, value in config_values.items()
             if isinstance(value, (bool, int, float, str))}
    with writer.as_default(step=0):
        hparams_api.hparams(plain)


def png_bytes_to_image(png: bytes) -> tf.Tensor:
    """A PNG file's bytes -> (1, height, width, 4) uint8, ready for `images`."""
    return tf.expand_dims(tf.io.decode_png(png, channels=4), 0)


def png_file(writer: tf.summary.SummaryWriter, tag: str, path: pathlib.Path, step: int) -> None:
    """Shows a PNG the run wrote (a plot, a grid) in TensorBoard's Images tab too."""
    images(writer, tag, png_bytes_to_image(pathlib.Path(path).read_bytes()), step)


def figure_to_image(figure) -> tf.Tensor:
    """A matplotlib figure -> (1, height, width, 4) uint8 image for TensorBoard."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return png_bytes_to_image(buffer.getvalue())


def trace_graph(writer: tf.summary.SummaryWriter, function, *args, name: str = "graph") -> int:
    """Runs a tf.function once with tracing on and writes its graph to TensorBoard.

    Returns the number of ops in the traced graph (handy for the lectures that count
    nodes).
    """
    tf.summary.trace_on(graph=True)
    function(*args)
    with writer.as_default(step=0):
        tf.summary.trace_export(name=name)
    concrete = function.get_concrete_function(*args)
    return len(concrete.graph.get_operations())


def step_graph(writer: tf.summary.SummaryWriter, train_step, dataset: tf.data.Dataset) -> None:
    """Writes the graph of one training step, its batch read under a `data` name scope.

    The step is traced, never run, so no weight changes; the step's own name scopes
    (`embed`, `loss`, `optimizer`, ...) group the rest of the graph.
    """

    @tf.function
    def one_step(iterator):
        with tf.name_scope("data"):
            batch = next(iterator)
        return train_step(batch)

    graph = one_step.get_concrete_function(iter(dataset)).graph
    with writer.as_default(step=0):
        tf.summary.graph(graph)


def grid(images_batch: np.ndarray, columns: int) -> np.ndarray:
    """(n, h, w, c) -> one (rows*h, columns*w, c) mosaic, padded with zeros."""
    count, height, width, channels = images_batch.shape
    rows = -(-count // columns)
    mosaic = np.zeros((rows * height, columns * width, channels), images_batch.dtype)
    for index in range(count):
        row, column = divmod(index, columns)
        mosaic[row * height:(row + 1) * height, column * width:(column + 1) * width] = \
            images_batch[index]
    return mosaic


def projector(directory: pathlib.Path, name: str, vectors: np.ndarray,
              labels: list[str]) -> dict:
    """Writes an embedding for TensorBoard's Projector tab and for projector.tensorflow.org.

    In `directory` (a run directory, which TensorBoard lists as a run): `metadata.tsv`
    (one label per line, no header: a single-column file must not have one),
    `vectors.tsv` (for the web projector's "Load"), a checkpoint holding the vectors
    under `projector/`, and `projector_config.pbtxt` naming that checkpoint's tensor.
    Returns the paths and the tensor name.

    The config names no checkpoint path: TensorBoard opens a `model_checkpoint_path` as
    given, relative to *its own* working directory, so a relative one only works when
    TensorBoard is started inside the run directory, and an absolute one breaks when the
    run is moved. Without one, TensorBoard takes the latest checkpoint recorded in the
    run directory's `checkpoint` file, whose path is relative to that directory; the
    metadata path is resolved against the config's directory. So the projector works
    from any working directory, and after the run directory is copied or moved.
    """
    from tensorboard.plugins import projector as projector_plugin

    directory = pathlib.Path(directory)
    metadata = directory / "metadata.tsv"
    metadata.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    vectors_path = directory / "vectors.tsv"
    np.savetxt(vectors_path, vectors, delimiter="\t", fmt="%.6g")
    # The manager records the checkpoint, relative to `directory`, in directory/checkpoint
    # (the run's training checkpoints keep their own record in checkpoints/).
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(**{name: tf.Variable(vectors)}),
                                         directory, max_to_keep=1,
                                         checkpoint_name=f"projector/{name}")
    checkpoint_prefix = manager.save()
    tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
    config = projector_plugin.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = tensor_name
    embedding.metadata_path = metadata.name
    projector_plugin.visualize_embeddings(str(directory), config)
    return {"metadata": metadata, "vectors": vectors_path, "checkpoint": checkpoint_prefix,
            "config": directory / "projector_config.pbtxt", "tensor_name": tensor_name}
