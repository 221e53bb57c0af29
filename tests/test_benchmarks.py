"""The generative benchmark's samplers rebuild each lecture's network from a run's
config.json and restore every weight from its checkpoint (an untrained one here)."""

import json
import sys

import numpy as np
import pytest
from conftest import ROOT, load_lecture

sys.path.insert(0, str(ROOT / "benchmarks"))
import generative  # noqa: E402


def save_run(run_dir, settings, model):
    import tensorflow as tf

    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(settings))
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(run_dir / "checkpoints"),
                               max_to_keep=1).save()


@pytest.mark.parametrize("name", ["gan", "vae_latent_2"])
def test_sampler_restores_the_lectures_network(tmp_path, name):
    from cs20.models import gan

    if name == "gan":
        settings = {"latent_dim": 8, "width": 8}
        model = gan.build_generator(settings["latent_dim"], 0, settings["width"])
    else:
        settings = {"latent_dim": 2}
        model = load_lecture("l10_vae").build_vae(settings["latent_dim"])
    save_run(tmp_path, settings, model)
    digits = generative.sampler(name, tmp_path)(3)
    assert digits.shape == (3, 28, 28, 1)
    assert digits.min() >= 0.0 and digits.max() <= 1.0 and np.ptp(digits) > 0


def test_char_rnn_curve_reads_each_evaluation_of_a_run(tmp_path):
    import importlib.util

    import tensorflow as tf

    spec = importlib.util.spec_from_file_location("char_rnn_benchmark",
                                                  ROOT / "benchmarks" / "char_rnn.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        tf.summary.scalar("train/loss", 3.0, step=1)  # not an evaluation
        for step, bits in ((300, 2.5), (600, 2.0)):
            tf.summary.scalar("eval/bits_per_character", bits, step=step)
    writer.flush()
    curve = benchmark.evaluation_curve(tmp_path)
    assert [point[1:] for point in curve] == [[300, 2.5], [600, 2.0]]
    assert 0 <= curve[0][0] <= curve[1][0] < 60  # seconds since the writer opened


def test_word2vec_comparison_scores_every_similarity_set_both_models_have():
    import word2vec as benchmark

    ours = {"analogy_accuracy": 0.08, "wordsim353_spearman": 0.48, "train_seconds": 25.0,
            "similarity_file_spearman": 0.20}
    gensim = {"analogy_accuracy": 0.06, "wordsim353_spearman": 0.40, "train_seconds": 28.0,
              "similarity_file_spearman": 0.22}
    result = benchmark.comparison(ours, gensim)
    assert result["analogy_accuracy_difference"] == 0.02
    assert result["similarity_file_spearman_difference"] == -0.02
    assert result["train_seconds_ratio"] == round(25 / 28, 3)
    assert result["better_on_both_in_no_more_time"]
    del gensim["similarity_file_spearman"]
    assert "similarity_file_spearman_difference" not in benchmark.comparison(ours, gensim)
    assert not benchmark.comparison({**ours, "train_seconds": 29.0},
                                    gensim)["better_on_both_in_no_more_time"]
