"""The benchmarks: every script's --tiny mode runs its real code path and prints the JSON
keys the README's figures come from; the generative benchmark's samplers restore every
weight of a run; the char-RNN curve and the word2vec comparison read what they should.

The tiny modes run in this process (`main(argv)`, TensorFlow already loaded); the lecture
runs they start are processes of their own, as in the full benchmarks.
"""

import functools
import importlib
import json
import math
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT
from run_state import directory_state

sys.path.insert(0, str(ROOT / "benchmarks"))
import generative  # noqa: E402

SCRIPTS = sorted(path.stem for path in (ROOT / "benchmarks").glob("*.py")
                 if "def main(" in path.read_text())


@pytest.fixture(autouse=True, scope="module")
def mnist_read_once():
    """The in-process benchmarks read MNIST once between them (each reading costs
    seconds); the lectures they start read it themselves."""
    from cs20.datasets import mnist

    original = mnist.load_splits
    read = functools.cache(original)
    mnist.load_splits = lambda data_dir=None, **options: read(
        data_dir or os.environ.get("CS20_DATA_DIR"), **options)
    yield
    mnist.load_splits = original


def run_tiny(name: str, capsys, *flags: str) -> dict:
    """The JSON that `benchmarks/<name>.py --tiny FLAGS` prints on stdout (its only output
    there: progress and data lines go to stderr)."""
    capsys.readouterr()
    importlib.import_module(name).main(["--tiny", *flags])
    return json.loads(capsys.readouterr().out)


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


# --- every benchmark's tiny mode --------------------------------------------------------

def test_translation_scores_beam_8_from_the_finished_run_without_writing_to_it(
        tmp_path, data_dir, capsys):
    import translation as benchmark

    run_dir = tmp_path / "run"
    figures = run_tiny("translation", capsys, "--run-dir", str(run_dir))
    assert figures["training_steps"] == 4 and figures["batch_size"] == 16
    for name in ("greedy", "beam4", "beam8"):
        assert 0.0 <= figures["test_bleu"][name] <= 1.0
        assert figures["decoding_sentences_per_second"][name] > 0
    # The wider beam reads the finished run (which would refuse to run again) and
    # writes nothing to it.
    before = directory_state(run_dir)
    assert round(benchmark.bleu_on_test_set(run_dir, 8)[0], 6) == figures["test_bleu"]["beam8"]
    assert directory_state(run_dir) == before


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


def test_style_transfer(data_dir, capsys):
    figures = run_tiny("style_transfer", capsys)
    row = figures["seconds_per_step"]["squeezenet_64px"]
    assert min(row[mode] for mode in ("eager", "tf_function", "tf_function_xla")) > 0
    quality = figures["quality_64px"]["tv_weight_0"]
    assert "error" not in quality
    assert quality["final/high_frequency_ratio"] > 0 and quality["final/border_step_ratio"] > 0


def test_vae(tmp_path, data_dir, capsys):
    figures = run_tiny("vae", capsys, "--runs-root", str(tmp_path))
    run = figures["runs"]["latent_2"]
    assert run["finished"] and run["steps"] == 5
    assert run["test_elbo"] < 0 and run["test_iwae_log_likelihood_k100"] < 0
    assert (tmp_path / "latent_2" / "results.json").is_file()


def test_generative(tmp_path, data_dir, capsys, monkeypatch):
    from lectures.l09_gan import fid

    # FID's feature network, trained for a few steps into this test's folder (the real
    # one is tested in test_gan.py).
    monkeypatch.setattr(fid, "CLASSIFIER_STEPS", 20)
    monkeypatch.setattr(fid, "default_cache_directory", lambda: tmp_path / "fid")
    figures = run_tiny("generative", capsys, "--runs-root", str(tmp_path / "runs"))
    assert figures["samples"] == 200
    for name in ("real_train_digits", "gan"):
        assert math.isfinite(figures["results"][name]["fid"])
        assert 1 <= figures["results"][name]["modes_covered"] <= 10
    assert figures["results"]["gan"]["finished"] and figures["results"]["gan"]["steps"] == 5


def test_char_rnn(tmp_path, data_dir, capsys):
    figures = run_tiny("char_rnn", capsys, "--run-dir", str(tmp_path))
    run = figures["tiny"]
    assert run["training_steps"] == 4 and run["validation_bits_per_character"] > 0
    assert [point[1] for point in run["curve_seconds_step_bits"]] == [2, 4]
    assert all(figures[f"ngram{order}_bits_per_character"] > 0 for order in range(2, 7))
    assert figures["unigram_bits_per_character"] > 0
    step = figures["course_network_step"]
    assert step["timed_steps"] == 2 and step["ours_over_fit_no_xla"] > 0
