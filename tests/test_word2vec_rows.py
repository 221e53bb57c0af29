"""Lecture 5a's negative sampling on rows of consecutive centers: the rows with their
windows and negatives (tf.data), the loss of every pair of a row in one batched matmul
(against a pair-by-pair sum), and training."""

from cs20 import training
from lectures.l05_word2vec import data
from lectures.l05_word2vec import model as word2vec  # the losses and the train step
from lectures.l05_word2vec.config import Config

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_mirrored_matches_default, lecture_main

main = lecture_main("l05_word2vec")
COUNTS = np.array([0, 1, 16, 81], np.int64)  # ** 0.75: 0, 1, 8, 27


def test_rows_are_overlapping_spans_of_consecutive_words_reproducible():
    positions = np.arange(1, 2001)
    first = data.center_rows_dataset(positions.astype(np.int32), 128, 3, seed=5,
                                     noise_counts=np.ones(2001), negatives_per_row=7,
                                     row_words=64, chunk_words=500)
    again = data.center_rows_dataset(positions.astype(np.int32), 128, 3, seed=5,
                                     noise_counts=np.ones(2001), negatives_per_row=7,
                                     row_words=64, chunk_words=500)
    overlaps = 0
    for (spans, windows, negatives), (spans_again, _, negatives_again) in zip(
            first.take(12), again.take(12), strict=True):
        assert spans.shape == (2, 70) and windows.shape == (2, 64) and negatives.shape == (2, 7)
        np.testing.assert_array_equal(spans, spans_again)
        np.testing.assert_array_equal(negatives, negatives_again)
        assert np.all(np.diff(spans.numpy(), axis=1) == 1)  # consecutive, no subsampling
        if spans[1, 0] == spans[0, 0] + 64:  # two rows of one chunk overlap by 2 x 3 words
            np.testing.assert_array_equal(spans[0, -6:], spans[1, :6])
            overlaps += 1
        assert windows.numpy().min() >= 1 and windows.numpy().max() <= 3
        assert negatives.numpy().min() >= 0 and negatives.numpy().max() <= 2000
    assert overlaps >= 6  # most batches' two rows come from one chunk


def test_negatives_follow_counts_to_the_three_quarters():
    ids = np.tile(np.arange(1, 4, dtype=np.int32), 3000)
    rows = data.center_rows_dataset(ids, 64, 2, seed=0, noise_counts=COUNTS,
                                    negatives_per_row=500)
    draws = np.concatenate([negatives.numpy().ravel() for _, _, negatives in rows.take(20)])
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size,
                               [0, 1 / 36, 8 / 36, 27 / 36], atol=0.01)
    np.testing.assert_allclose(data.noise_distribution(COUNTS), [0, 1 / 36, 8 / 36, 27 / 36],
                               rtol=1e-6)


def test_subsampling_drops_frequent_words_from_the_rows():
    ids = np.tile(np.array([1, 2, 1, 3], np.int32), 2000)  # word 1 is half the corpus
    keep = np.array([0.0, 0.1, 1.0, 1.0], np.float32)
    rows = data.center_rows_dataset(ids, 64, 2, seed=0, subsample_probability=keep,
                                    noise_counts=COUNTS)
    words = np.concatenate([spans.numpy().ravel() for spans, _, _ in rows.take(30)])
    counts = np.bincount(words, minlength=4)
    assert counts[2] > 0 and counts[3] > 0 and counts[1] < 0.3 * counts[2]


def test_bad_batch_sizes_are_clear_errors():
    ids = np.arange(1, 3000, dtype=np.int32)
    with pytest.raises(ValueError, match="too few for batches of 4,096; lower --batch-size"):
        data.center_rows_dataset(ids, 4096, 5, seed=0, noise_counts=np.ones(3000))
    with pytest.raises(ValueError, match="--batch-size 100 must be a multiple of 64"):
        data.center_rows_dataset(ids, 100, 5, seed=0, noise_counts=np.ones(3000))


@pytest.mark.parametrize("row", [4, 64])
def test_row_losses_equal_the_sum_over_its_pairs_one_by_one(row):
    rng = np.random.default_rng(row)
    vocab, dim, skip_window, rows, sampled = 30, 4, 3, 3, 5
    model = word2vec.SkipGram(vocab, dim, "word2vec", seed=0)
    model.embedding.assign(rng.normal(size=(vocab, dim)).astype(np.float32))
    model.nce_weights.assign(rng.normal(size=(vocab, dim)).astype(np.float32))
    model.nce_biases.assign(rng.normal(size=vocab).astype(np.float32))
    spans = rng.integers(0, vocab, (rows, row + 2 * skip_window)).astype(np.int32)
    windows = rng.integers(1, skip_window + 1, (rows, row)).astype(np.int32)
    negatives = rng.integers(0, vocab, (rows, sampled)).astype(np.int32)
    losses, pairs = word2vec.row_losses(model, tf.constant(spans), tf.constant(windows),
                                        tf.constant(negatives), negatives_per_pair=5.0)

    embedding, weights, biases = (variable.numpy() for variable in
                                  (model.embedding, model.nce_weights, model.nce_biases))
    softplus = lambda z: np.logaddexp(0.0, z)  # noqa: E731
    expected_losses = np.zeros((rows, row))
    expected_pairs = np.zeros((rows, row))
    for r in range(rows):
        for c in range(row):
            center = skip_window + c  # its place in the span
            vector = embedding[spans[r, center]]
            own = negatives[r]
            negative_term = 5.0 * np.mean(softplus(weights[own] @ vector + biases[own]))
            for other in range(center - windows[r, c], center + windows[r, c] + 1):
                if other != center:
                    context = spans[r, other]
                    expected_losses[r, c] += (softplus(-(weights[context] @ vector
                                                         + biases[context])) + negative_term)
                    expected_pairs[r, c] += 1
    np.testing.assert_array_equal(pairs.numpy(), expected_pairs)
    np.testing.assert_allclose(losses.numpy(), expected_losses, rtol=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("loss", ["nce", "negative_sampling"])
def test_training_lowers_the_loss_on_a_tiny_corpus(loss, jit_compile):
    words = ("the quick brown fox jumps over the lazy dog " * 300).split()
    vocabulary = data.build_vocabulary(words, 9)
    ids = vocabulary.to_ids(words)
    if loss == "nce":  # listed pairs, 4 negatives shared by the batch
        dataset = data.skip_gram_dataset(ids, 64, 2, seed=0, chunk_words=500)
    else:  # one row of 64 centers, 4 negatives of its own
        dataset = data.center_rows_dataset(ids, 64, 2, seed=0, chunk_words=500,
                                           noise_counts=vocabulary.counts,
                                           negatives_per_row=4)
    model = word2vec.SkipGram(vocabulary.size, 8, "word2vec", seed=0)
    optimizer = keras.optimizers.SGD(0.5)
    optimizer.build(model.trainable_variables)
    cfg = Config(batch_size=64, num_sampled=4, loss=loss, skip_window=2,
                 vocab_size=vocabulary.size, jit_compile=jit_compile, seed=1)
    step = training.compile_step(tf.distribute.get_strategy(),
                                 word2vec.make_train_step(model, optimizer, cfg))
    iterator = iter(dataset)
    first = float(step(iterator, tf.constant(20))["loss"])
    for _ in range(13):
        last = float(step(iterator, tf.constant(20))["loss"])
    assert np.isfinite(last) and last < 0.8 * first


def test_negative_sampling_mirrored_on_two_logical_cpus_matches_default(tmp_path, data_dir):
    # Rows split exactly between replicas (2 of the 4 rows each), each with its negatives.
    assert_mirrored_matches_default(
        "l05_word2vec", tmp_path, "--preset", "fast", "--vocab-size", "2000",
        "--embedding-size", "16", "--num-visualize", "0", "--batch-size", "256",
        "--learning-rate", "20", "--num-steps", "20", "--deterministic", "--data-dir",
        str(data_dir), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_rows_of_one_word_are_divided_by_their_count_to_the_power(power):
    # Word 3 is updated by three rows, word 5 by one; the dense bias gradient is unchanged.
    sparse = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]),
                              tf.constant([3, 5, 3, 3]), tf.constant([6, 2]))
    biases = tf.IndexedSlices(tf.constant([1.0, 2.0]), tf.constant([3, 3]), tf.constant([6]))
    dense = tf.constant([1.0, 2.0])
    scaled, scaled_biases, unchanged = word2vec.scaled_by_row_counts([sparse, biases, dense],
                                                                       power)
    np.testing.assert_allclose(scaled_biases.values.numpy(), [1.0 / 2 ** power, 2.0 / 2 ** power],
                               rtol=1e-6)
    counts = np.array([3.0, 1.0, 3.0, 3.0])[:, None]
    np.testing.assert_allclose(scaled.values.numpy(), sparse.values.numpy() / counts ** power,
                               rtol=1e-6)
    np.testing.assert_array_equal(scaled.indices.numpy(), [3, 5, 3, 3])
    np.testing.assert_array_equal(unchanged.numpy(), dense.numpy())


def test_a_negative_sampling_run_stops_above_twice_the_loss_of_zero_logits(tmp_path, capsys):
    # Untrained word2vec-initialised rows score every pair near 0: a pair's loss starts
    # at (1 + k) log 2, and the lecture's bound is twice that, 2 (1 + k) log 2, whatever
    # the run's actual start.
    k = 2.0
    spans = tf.constant(np.random.default_rng(0).integers(0, 50, (4, 64 + 2 * 5)), tf.int32)
    windows = tf.fill((4, 64), 5)
    negatives = tf.constant(np.random.default_rng(1).integers(0, 50, (4, 48)), tf.int32)
    untrained = word2vec.SkipGram(50, 16, "word2vec", seed=0)
    losses, pairs = word2vec.row_losses(untrained, spans, windows, negatives, k)
    start = float(tf.reduce_sum(losses) / tf.reduce_sum(pairs))
    assert start == pytest.approx((1 + k) * np.log(2), rel=0.01)

    from cs20 import cli

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(f"w{word}" for word in
                               np.random.default_rng(2).zipf(1.5, 20_000) % 300))
    with pytest.raises(SystemExit) as exit_info:
        cli.guard(main, [
            "--preset", "fast", "--negatives-per-pair", str(k), "--learning-rate", "1e6",
            "--corpus", str(corpus), "--vocab-size", "200", "--embedding-size", "16",
            "--batch-size", "128", "--num-steps", "20", "--steps-per-call", "1",
            "--num-visualize", "0", "--quiet", "--run-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 1
    assert f"above {2 * (1 + k) * np.log(2):.4g}, at step" in capsys.readouterr().err
