"""The benchmarks: every script's --tiny mode runs its real code path and prints the JSON
keys docs/results.md's figures come from (those that start lecture runs of their own:
test_benchmarks_lectures.py); the generative benchmark's samplers restore every weight of
a run; the char-RNN curve and the word2vec comparison read what they should.

The tiny modes run in this process (`main(argv)`, TensorFlow already loaded); the lecture
runs they start are processes of their own, as in the full benchmarks.
"""

import importlib
import json
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, run_tiny

sys.path.insert(0, str(ROOT / "benchmarks"))
import generative  # noqa: E402

SCRIPTS = sorted(path.stem for path in (ROOT / "benchmarks").glob("*.py")
                 if "def main(" in path.read_text())


def test_every_benchmark_has_a_documented_tiny_mode(capsys):
    assert len(SCRIPTS) == 12 and "segments" not in SCRIPTS and "options" not in SCRIPTS
    for name in SCRIPTS:
        with pytest.raises(SystemExit) as exited:
            importlib.import_module(name).main(["--help"])
        assert exited.value.code == 0
        assert "--tiny" in capsys.readouterr().out, name


def test_gpu_check_claims_no_time_it_never_measured(capsys):
    import gpu_check

    assert "minutes" not in gpu_check.__doc__


def save_run(run_dir, settings, model):
    import tensorflow as tf

    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(settings))
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(run_dir / "checkpoints"),
                               max_to_keep=1).save()


@pytest.mark.parametrize("name", ["gan", "vae_latent_2"])
def test_sampler_restores_the_lectures_network(tmp_path, name):
    from lectures.l09_gan import model as gan
    from lectures.l10_vae import model as vae

    if name == "gan":
        settings = {"latent_dim": 8, "width": 8}
        model = gan.build_generator(settings["latent_dim"], 0, settings["width"])
    else:
        settings = {"latent_dim": 2}
        model = vae.build_vae(settings["latent_dim"])
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


# The lecture runs of gpu_check, scale and loop read a few hundred digits (the reading of
# MNIST itself is tested with the lectures).

def test_gpu_check_runs_on_the_device_there_is(tiny_mnist, capsys):
    figures = run_tiny("gpu_check", capsys, "--flags", f"--dataset {tiny_mnist}")
    assert figures["device"] == ("gpu" if tf.config.list_physical_devices("GPU") else "cpu")
    run = figures["runs"]["l03_logistic_regression/default"]
    assert run["steps"] == 5 and run["steps_per_second"] > 0 and run["loss_finite"]
    assert run["seconds_to_first_step"] > 0


def test_scale(tiny_mnist, capsys):
    figures = run_tiny("scale", capsys, "--flags", f"--dataset {tiny_mnist}")
    assert figures["steps_per_second"]["l03_logistic_regression"]["default"][
        "steps_per_second"] > 0


def test_loop(data_dir, tiny_mnist, capsys):
    figures = run_tiny("loop", capsys, "--flags", f"--dataset {tiny_mnist}")
    rates = figures["steps_per_second"]["logistic"]
    assert set(rates) == {"timed_steps", "ours", "ours_steps_per_call_1", "bare_loop", "fit_1",
                          "fit_64", "ours_over_best"}
    assert min(rates.values()) > 0
    assert figures["seconds_to_first_step"]["l03_logistic_regression"] > 0


def test_feeding_styles(data_dir, capsys):
    figures = run_tiny("feeding_styles", capsys)
    styles = figures["linear_regression_feeding_styles"]
    assert set(styles) == {"one_sample_per_call", "tf_data", "vectorised"}
    assert all(style["updates_per_second"] > 0 for style in styles.values())
    assert figures["logistic_regression_steps"]["speedup_tf_function_over_eager"] > 0


def test_convnet(data_dir, capsys):
    figures = run_tiny("convnet", capsys)
    assert figures["steps_per_epoch"] == 3 and figures["our_loop"]["eval/accuracy"] > 0
    for side in ("our_loop", "keras_fit"):
        assert figures[side]["training_steps_per_second"] > 0
        assert 0.0 <= figures[side]["eval/accuracy"] <= 1.0
    assert figures["fraction_of_matmul_flops"] > 0 and figures["pipeline_over_model"] > 0


def test_tfrecord(data_dir, capsys):
    figures = run_tiny("tfrecord", capsys)
    assert figures["records"] == 1000
    labels = {f"{kind}_{shards}_shards" for kind in ("uncompressed", "gzip") for shards in (1, 2)}
    assert set(figures["write"]) == set(figures["read"]) == labels
    for readers in figures["read"].values():
        assert set(readers) == {"per_record_parse", "batched_parse", "batched_parse_cache"}
        assert all(reader["records_per_second"] > 0 for reader in readers.values())


def test_word2vec(data_dir, capsys):
    figures = run_tiny("word2vec", capsys)
    assert "course" not in figures and "error" not in figures["fast"]
    assert figures["fast"]["steps"] == 5
    assert 0.0 <= figures["fast"]["analogy_accuracy"] <= 1.0
    assert -1.0 <= figures["fast"]["wordsim353_spearman"] <= 1.0
    try:  # gensim is a benchmark-only dependency: without it, the JSON says so
        import gensim  # noqa: F401
    except ImportError:
        assert "not installed" in figures["gensim"]
    else:
        assert "fast_vs_gensim_defaults" in figures
