"""Lectures as two MultiWorkerMirroredStrategy workers on 127.0.0.1 (TF_CONFIG).

Both workers must finish; only the chief writes the run directory (results, the
exported SavedModel), and both start from the chief's checkpoints. Two workers train
char-RNN to one device's weights. The loop's own
multi-worker behaviour (workers agree, the chief's checkpoint resumes) is tested with a
tiny model in test_training.py.
"""

import concurrent.futures
import math

import numpy as np
from conftest import ROOT, checkpoint_variables, read_results, run_cluster, run_lecture_process


def test_char_rnn_cluster_trains_like_one_device_and_the_chief_keeps_the_generator(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"the cat {i} sat on the mat" for i in range(200)) + "\n")
    run_dir = tmp_path / "cluster"
    flags = ("--num-steps", "4", "--corpus", str(corpus), "--hidden-sizes", "8,16",
             "--batch-size", "8", "--eval-every", "2", "--checkpoint-every", "2", "--length",
             "12", "--deterministic")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # one device, beside the cluster
        single = pool.submit(run_lecture_process, "l11_char_rnn", "--run-dir",
                             str(tmp_path / "single"), *flags)
        outputs = run_cluster(ROOT / "lectures" / "l11_char_rnn.py", run_dir, *flags)
        assert single.result().returncode == 0, single.result().stderr[-2000:]
    assert all("No checkpoint" in stdout for stdout in outputs)
    assert sum("Saved generator" in stdout for stdout in outputs) == 1  # the chief only
    assert (run_dir / "generator" / "saved_model.pb").is_file()
    assert read_results(run_dir)["steps"] == 4
    # Each worker's half of every global batch, all-reduced: one device's steps (measured:
    # within 1.4e-7, where every weight matrix moves about 5e-3 in steps 3-4 alone).
    expected, actual = checkpoint_variables(tmp_path / "single"), checkpoint_variables(run_dir)
    assert expected and expected.keys() == actual.keys()
    for key, value in expected.items():
        np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


def test_translation_cluster_trains_and_the_chief_keeps_the_translator(tmp_path, tatoeba_file):
    # One call of 4 steps over batches of several length buckets (the sparse embedding
    # gradients' all-reduce once crashed there), with mixed precision: the lecture's test
    # of replicas under a mixed-precision policy.
    run_dir = tmp_path / "cluster"
    outputs = run_cluster(ROOT / "lectures" / "l12_translation.py", run_dir, "--num-steps", "4",
                          "--batch-size", "16", "--units", "16", "--embedding-size", "8",
                          "--max-length", "5", "--validation-sentences", "20", "--eval-every",
                          "4", "--checkpoint-every", "4", "--beam-width", "2", "--corpus",
                          str(tatoeba_file), "--mixed-precision")
    assert sum("Saved translator" in stdout for stdout in outputs) == 1  # the chief only
    assert (run_dir / "translator" / "saved_model.pb").is_file()
    assert (run_dir / "source_vocabulary.txt").is_file()
    results = read_results(run_dir)
    assert results["steps"] == 4 and math.isfinite(results["train/loss"])
