"""Lectures as two MultiWorkerMirroredStrategy workers on 127.0.0.1 (TF_CONFIG).

Both workers must finish; only the chief writes the run directory (results, the
exported SavedModel), and both start from the chief's checkpoints. Two workers train
char-RNN and translation (batches of several length buckets) to one device's weights.
The loop's own multi-worker behaviour (workers agree, the chief's checkpoint resumes) is tested with a
tiny model in test_training.py.
"""

import concurrent.futures
import math

import numpy as np
from conftest import checkpoint_variables, read_results, run_cluster, run_lecture_process


def cluster_trains_like_one_device(lecture: str, tmp_path, *flags) -> list[str]:
    """Runs `lecture` as two workers (run directory tmp_path/cluster) and, beside them,
    on one device (tmp_path/single); checks both end with the same variables. Returns
    the workers' standard outputs."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # one device, beside the cluster
        single = pool.submit(run_lecture_process, lecture, "--run-dir",
                             str(tmp_path / "single"), *flags)
        outputs = run_cluster(lecture, tmp_path / "cluster", *flags)
        assert single.result().returncode == 0, single.result().stderr[-2000:]
    expected = checkpoint_variables(tmp_path / "single")
    actual = checkpoint_variables(tmp_path / "cluster")
    assert expected and expected.keys() == actual.keys()
    for key, value in expected.items():
        np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
    return outputs


def test_char_rnn_cluster_trains_like_one_device_and_the_chief_keeps_the_generator(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"the cat {i} sat on the mat" for i in range(200)) + "\n")
    run_dir = tmp_path / "cluster"
    flags = ("--num-steps", "4", "--corpus", str(corpus), "--hidden-sizes", "8,16",
             "--batch-size", "8", "--eval-every", "2", "--checkpoint-every", "2", "--length",
             "12", "--deterministic")
    # Each worker's half of every global batch, all-reduced: one device's steps (measured:
    # within 1.4e-7, where every weight matrix moves about 5e-3 in steps 3-4 alone).
    outputs = cluster_trains_like_one_device("l11_char_rnn", tmp_path, *flags)
    assert all("No checkpoint" in stdout for stdout in outputs)
    assert sum("Saved generator" in stdout for stdout in outputs) == 1  # the chief only
    assert (run_dir / "generator" / "saved_model.pb").is_file()
    assert read_results(run_dir)["steps"] == 4


def small_translation_corpus(path):
    """120 pairs of 1 to 9 words from two 10-word vocabularies: batches of 16 fall into
    several length buckets (measured: the first four steps' batches are 9, 5, 7 and 11
    tokens long), unlike the shortest pairs of the Tatoeba corpus, which share one."""
    english, french = ["the", "cat", "dog", "saw", "a", "big", "red", "ball", "on", "mat"], \
        ["le", "chat", "chien", "a", "vu", "une", "grande", "balle", "rouge", "tapis"]
    path.write_text("".join(
        " ".join(english[(i + k) % 10] for k in range(1 + i % 9)) + "\t"
        + " ".join(french[(3 * i + k) % 10] for k in range(1 + i % 9)) + "\n"
        for i in range(120)))
    return path


def test_translation_cluster_trains_like_one_device_and_the_chief_keeps_the_translator(
        tmp_path):
    # One call of 4 steps over batches of 4 length buckets. Each worker must take its
    # half of the same global batch, or the workers' shapes differ and the all-reduce
    # fails ("Shape mismatch in the collective instance"; so did the sparse embedding
    # gradients' all-gather, once) or trains on other batches than one device does. In
    # float32: under bfloat16 Adam turns the rounding of near-zero gradients into whole
    # steps (measured 4e-4 off one device), as large as another batch's.
    run_dir = tmp_path / "cluster"
    flags = ("--num-steps", "4", "--batch-size", "16", "--units", "16", "--embedding-size",
             "8", "--dropout", "0", "--validation-sentences", "5", "--eval-every", "4",
             "--checkpoint-every", "4", "--beam-width", "2", "--deterministic", "--quiet",
             "--corpus", str(small_translation_corpus(tmp_path / "pairs.txt")))
    outputs = cluster_trains_like_one_device("l12_translation", tmp_path, *flags)
    assert sum("Saved translator" in stdout for stdout in outputs) == 1  # the chief only
    assert (run_dir / "translator" / "saved_model.pb").is_file()
    assert (run_dir / "source_vocabulary.txt").is_file()
    results = read_results(run_dir)
    assert results["steps"] == 4 and math.isfinite(results["train/loss"])
