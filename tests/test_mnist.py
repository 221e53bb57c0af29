"""MNIST via tensorflow-datasets, prepared offline: split sizes and pipeline shapes."""

from cs20.datasets import mnist, shuffling

import numpy as np
import pytest


@pytest.fixture(scope="module")
def splits():
    import os

    assert os.environ.get("CS20_DATA_DIR"), "set CS20_DATA_DIR (e.g. ../shared/data)"
    return mnist.load_splits()


def test_split_sizes_and_dtypes(splits):
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (55000, 5000, 10000)
    assert splits.train.images.shape == (55000, 28, 28, 1)
    assert splits.train.images.dtype == np.uint8 and splits.train.labels.dtype == np.int64
    assert set(np.unique(splits.test.labels)) == set(range(10))


def test_split_is_seeded_and_disjoint():
    first = mnist.load_splits(split_seed=3)
    second = mnist.load_splits(split_seed=3)
    np.testing.assert_array_equal(first.validation.labels, second.validation.labels)
    # 55k + 5k = the 60k training images: the validation images are not in train.
    train_keys = {image.tobytes() for image in first.train.images[:2000]}
    assert not train_keys & {image.tobytes() for image in first.validation.images[:2000]}


def test_each_split_is_decoded_once_per_process_and_is_read_only(splits):
    again = mnist.load_splits(split_seed=3)  # another hold-out of the same decoded arrays
    assert again.test.images is splits.test.images
    with pytest.raises(ValueError, match="read-only"):
        again.test.images[0, 0, 0, 0] = 255
    assert len(again.train) == len(splits.train) and not np.array_equal(
        again.validation.labels, splits.validation.labels)


def test_pipeline_shapes_scaling_and_one_hot(splits):
    images, labels = next(iter(mnist.make_dataset(splits.train, 32, flatten=True, one_hot=True)))
    assert images.shape == (32, 784) and labels.shape == (32, 10)
    assert float(np.min(images)) >= 0.0 and float(np.max(images)) <= 1.0
    images, labels = next(iter(mnist.make_dataset(splits.train, 32)))
    assert images.shape == (32, 28, 28, 1) and labels.dtype == np.int64


def test_one_epoch_visits_every_example_once(splits):
    dataset = mnist.make_dataset(splits.validation, 512, shuffle=True, seed=1)
    labels = np.concatenate([batch_labels.numpy() for _, batch_labels in dataset])
    assert np.bincount(labels).tolist() == np.bincount(splits.validation.labels).tolist()
    assert len(labels) == 5000


def test_shuffled_indices_are_a_new_permutation_each_epoch():
    import tensorflow as tf

    positions = tf.range(0, 3 * 50, dtype=tf.int64)
    indices = shuffling.shuffled_indices(positions, 50, seed=7).numpy()
    epochs = indices.reshape(3, 50)
    for epoch in epochs:
        assert sorted(epoch) == list(range(50))
    assert list(epochs[0]) != list(epochs[1]) and list(epochs[0]) != list(range(50))
    again = shuffling.shuffled_indices(positions, 50, seed=7).numpy()
    assert (again == indices).all()
    assert (shuffling.shuffled_indices(positions, 50, seed=8).numpy() != indices).any()


def test_a_training_iterator_checkpoints_a_position_not_a_buffer(tmp_path, data_dir):
    """The shuffled MNIST stream's saved state is small (it was 12 MB with a shuffle
    buffer) and a restored iterator continues with the same batches."""
    import tensorflow as tf

    splits = mnist.load_splits(str(data_dir))
    dataset = mnist.make_dataset(splits.train, 128, shuffle=True, seed=3, repeat=True)
    iterator = iter(dataset)
    for _ in range(5):
        next(iterator)
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    path = checkpoint.write(str(tmp_path / "iterator"))
    expected = [next(iterator)[1].numpy() for _ in range(3)]
    size = sum(file.stat().st_size for file in tmp_path.glob("iterator*"))
    assert size < 2_000_000, size
    restored = iter(dataset)
    tf.train.Checkpoint(iterator=restored).read(path).assert_consumed()
    for labels in expected:
        assert (next(restored)[1].numpy() == labels).all()
