"""The benchmarks that start lecture runs of their own (translation, style transfer, VAE,
generative models, char-RNN): their --tiny mode runs the real code path and prints the
JSON keys docs/results.md's figures come from. A file of its own so that the two test
workers share the benchmarks (tests/test_benchmarks.py has the others)."""

import math
import sys

from conftest import ROOT, run_tiny
from run_state import directory_state

sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts, imported by their names


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
