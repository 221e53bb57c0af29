"""Lecture 5a: corpus and pairs, the skip-gram model, metrics, and the lecture end to end
(its notebook, then resumed as a script)."""

import json
import re

from cs20 import cli
from lectures.l05_word2vec import data, evaluation
from lectures.l05_word2vec import model as word2vec  # pairs, the variables, losses, the step
from lectures.l05_word2vec.config import Config

import numpy as np
import pytest
import tensorflow as tf
from conftest import (
    assert_mirrored_matches_default,
    checkpoint_variables,
    event_files,
    execute_notebook,
    lecture_main,
    read_results,
)

main = lecture_main("l05_word2vec")

SIX_WORDS = np.array([1, 2, 3, 4, 5, 6], np.int32)


def test_pairs_with_window_one_are_all_neighbours_in_course_order():
    centers, contexts = data.chunk_pairs(tf.constant(SIX_WORDS), 1,
                                         tf.constant([1, 2], tf.int64), shuffle=False)
    assert centers.numpy().tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    assert contexts.numpy().tolist() == [2, 1, 3, 2, 4, 3, 5, 4, 6, 5]


def test_window_pairs_of_the_lecture_match_the_pipeline_with_window_one():
    assert word2vec.window_pairs("abcd", 0, 2) == [("a", "b"), ("a", "c")]
    assert word2vec.window_pairs("abcd", 2, 2) == [("c", "a"), ("c", "b"), ("c", "d")]
    # With skip_window 1 the pipeline draws no window sizes: the same pairs, same order.
    by_hand = [pair for center in range(6) for pair in word2vec.window_pairs(SIX_WORDS, center, 1)]
    centers, contexts = data.chunk_pairs(tf.constant(SIX_WORDS), 1,
                                         tf.constant([1, 2], tf.int64), shuffle=False)
    assert by_hand == list(zip(centers.numpy(), contexts.numpy(), strict=True))


def test_pairs_with_random_window_golden_for_a_fixed_seed():
    centers, contexts = data.chunk_pairs(tf.constant(SIX_WORDS), 2,
                                         tf.constant([1, 2], tf.int64), shuffle=False)
    # Windows drawn for this seed: 2, 1, 2, 1, 2, 1 (left context first, as the course).
    assert centers.numpy().tolist() == [1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6]
    assert contexts.numpy().tolist() == [2, 3, 1, 3, 1, 2, 4, 5, 3, 5, 3, 4, 6, 4, 5]


def test_dataset_batches_are_fixed_size_reproducible_and_real_pairs():
    ids = np.arange(1, 1001, dtype=np.int32)
    first = data.skip_gram_dataset(ids, 32, 2, seed=3, chunk_words=100)
    second = data.skip_gram_dataset(ids, 32, 2, seed=3, chunk_words=100)
    for (centers, contexts), (centers_again, _) in zip(first.take(20), second.take(20),
                                                        strict=True):
        assert centers.shape == (32,) and contexts.shape == (32,)
        np.testing.assert_array_equal(centers, centers_again)
        distance = np.abs(centers.numpy() - contexts.numpy())
        assert np.all((distance >= 1) & (distance <= 2))


def test_expected_pairs_per_epoch_count_the_kept_words_and_mean_window():
    # A window drawn in 1..2 makes 2 x 1.5 = 3 pairs per kept word on average.
    assert data.expected_pairs([10, 20, 30], 2) == 180
    assert data.expected_pairs([10, 20, 30], 2, np.array([1.0, 0.5, 0.0])) == 60


def test_subsampling_drops_frequent_words():
    keep = data.keep_probabilities([0, 900, 90, 10], threshold=0.01)
    assert keep[3] == 1.0 and keep[1] < keep[2] < 1.0
    np.testing.assert_allclose(keep[1], np.sqrt(0.01 / 0.9) + 0.01 / 0.9, rtol=1e-6)
    assert data.keep_probabilities([0, 900, 90, 10], threshold=0.0) is None  # keep all


def test_vocabulary_unk_and_tsv_round_trip(tmp_path):
    words = ["b", "a", "b", "c", "a", "b", "d"]
    vocabulary = data.build_vocabulary(words, 3)
    assert vocabulary.words == ("UNK", "b", "a")
    assert vocabulary.counts == (2, 3, 2)  # c and d are UNK
    assert vocabulary.to_ids(["a", "zebra", "b"]).tolist() == [2, 0, 1]
    vocabulary.save_tsv(tmp_path / "vocab.tsv")
    assert data.Vocabulary.load_tsv(tmp_path / "vocab.tsv") == vocabulary


def test_bad_corpora_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="larger than the corpus's 4 distinct words"):
        data.build_vocabulary(["b", "a", "b", "c", "a", "b", "d"], 10)
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ValueError, match="has no words"):
        data.read_words(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8 text .invalid byte at offset 3"):
        data.read_words(tmp_path / "latin1.txt")
    (tmp_path / "binary.bin").write_bytes(b"abc\x00\x01")
    with pytest.raises(ValueError, match="looks binary"):
        data.read_words(tmp_path / "binary.bin")
    with pytest.raises(FileNotFoundError):
        data.read_words(tmp_path / "missing.txt")


def test_model_shapes_and_course_initialisers():
    model = word2vec.SkipGram(1000, 16, seed=0)
    assert model.embedding.shape == (1000, 16) and model.nce_biases.shape == (1000,)
    embedding = model.embedding.numpy()
    assert embedding.min() >= 0.0 and embedding.max() < 1.0
    assert abs(model.nce_weights.numpy().std() - 0.25 * 0.88) < 0.02  # truncated at 2 std


def test_nce_loss_with_given_candidates_matches_the_formula():
    model = word2vec.SkipGram(5, 2, seed=0)
    model.embedding.assign([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.0]])
    model.nce_weights.assign([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, -1.0], [0.0, 0.0]])
    sampled = (tf.constant([2, 3], tf.int64), tf.constant([[0.5]]), tf.constant([0.25, 0.5]))
    loss = word2vec.batch_losses(model, (tf.constant([1]), tf.constant([3])), sampled,
                               Config())
    # logit = w.x + b - log(expected count): true 1 - log 0.5; sampled 0 - log 0.25, 1 - log 0.5
    true_logit, sampled_logits = 1 - np.log(0.5), np.array([-np.log(0.25), 1 - np.log(0.5)])
    expected = np.log1p(np.exp(-true_logit)) + np.sum(np.log1p(np.exp(sampled_logits)))
    np.testing.assert_allclose(loss.numpy(), [expected], rtol=1e-5)


def test_presets_resolve_to_their_flags_and_typed_flags_win():
    from cs20 import config

    assert config.parse(Config, ["--preset", "course"]) == config.parse(Config, [])
    fast = config.parse(Config, ["--preset", "fast"])
    assert Config.PRESETS["fast"]["loss"] == "negative_sampling"
    for name, value in Config.PRESETS["fast"].items():
        assert getattr(fast, name) == value, name
    mixed = config.parse(Config, ["--batch-size", "1024", "--preset", "fast"])
    assert (mixed.batch_size, mixed.loss, mixed.skip_window) == (1024, "negative_sampling", 5)


def hand_made_embedding():
    """Gender and royalty axes: king - man + woman is exactly queen."""
    words = ["UNK", "man", "woman", "king", "queen", "apple"]
    vectors = np.array([[0, 0, 1], [1, 0, 0.1], [-1, 0, 0.1], [1, 1, 0], [-1, 1, 0],
                        [0, -1, 0.3]], np.float32)
    return evaluation.normalized(vectors), {word: i for i, word in enumerate(words)}


def test_analogy_accuracy_golden_on_a_hand_made_embedding():
    unit, index = hand_made_embedding()
    questions = [("man", "woman", "king", "queen"), ("woman", "man", "queen", "king"),
                 ("man", "king", "woman", "apple"), ("man", "woman", "king", "zebra")]
    result = evaluation.analogy_accuracy(unit, index, questions)
    assert result == {"accuracy": 2 / 3, "covered": 3, "total": 4}


def test_spearman_golden_and_similarity_correlation():
    assert evaluation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert evaluation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # With ties (average ranks): scipy.stats.spearmanr gives 0.7631578947368421.
    assert evaluation.spearman([1, 2, 2, 3, 5], [2, 1, 4, 4, 6]) == pytest.approx(0.7631578947368421)
    unit, index = hand_made_embedding()
    pairs = [("king", "queen", 8.0), ("man", "woman", 7.0), ("king", "apple", 1.0),
             ("man", "zebra", 5.0)]
    result = evaluation.similarity_correlation(unit, index, pairs)
    assert result["covered"] == 3 and result["total"] == 4
    assert -1.0 <= result["spearman"] <= 1.0


def test_projector_files_name_the_embedding_tensor(tmp_path):
    from cs20 import summaries

    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    files = summaries.projector(tmp_path, "embedding", vectors, ["UNK", "a", "b", "c"])
    assert (tmp_path / "metadata.tsv").read_text() == "UNK\na\nb\nc\n"
    np.testing.assert_allclose(np.loadtxt(tmp_path / "vectors.tsv"), vectors)
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "embedding/.ATTRIBUTES/VARIABLE_VALUE"' in config
    assert 'metadata_path: "metadata.tsv"' in config
    reader = tf.train.load_checkpoint(files["checkpoint"])
    np.testing.assert_array_equal(reader.get_tensor(files["tensor_name"]), vectors)


TINY = ["--vocab-size", "2000", "--embedding-size", "16", "--num-visualize", "50",
        "--steps-per-call", "20"]


def test_notebook_then_script_resumes(tmp_path, data_dir, capsys):
    results, output = execute_notebook(
        "l05_word2vec", tmp_path, vocab_size=2000, embedding_size=16, num_visualize=50,
        steps_per_call=20, data_dir=str(data_dir), summary_every=50, checkpoint_every=50,
        num_steps=100)
    # The worked example: five pairs of text8's first words, then the batch's negatives.
    assert 'pairs (skip window 1) of "anarchism originated as a term' in output
    assert output.count(" -> ") >= 5 and "originated (" in output
    assert "Negatives of the 128 pairs (64), each with its expected count" in output
    run_dir = tmp_path / "notebook_run"
    assert results["steps"] == 100 and np.isfinite(results["train/loss"])
    assert results["eval/analogy_covered"] > 0 and results["eval/wordsim353_covered"] > 0
    assert event_files(run_dir)
    assert (run_dir / "checkpoints" / "checkpoint").is_file()
    assert (run_dir / "vocab.tsv").read_text().startswith("word\tcount\nUNK\t")
    assert len((run_dir / "metadata.tsv").read_text().splitlines()) == 50
    assert (run_dir / "projector_config.pbtxt").is_file()
    assert json.loads((run_dir / "config.json").read_text())["vocab_size"] == 2000

    main(["--run-dir", str(run_dir), "--num-steps", "150", "--quiet"])
    assert read_results(run_dir)["steps"] == 150
    output = capsys.readouterr().out
    assert "Worked example" not in output
    assert "Resumed from" in output and "at step 100" in output


def test_bad_flags_are_one_line_errors(tmp_path, data_dir, capsys):
    # In this process: cli.guard turns the error into one line and exit code 2, as the
    # script's `__main__` does.
    for flags, message in (
            (["--mixed-precision", "--run-dir", str(tmp_path / "mp")],
             "--mixed-precision does not apply"),
            (["--row-power", "1.5", "--run-dir", str(tmp_path / "rp")], "--row-power must be in"),
            (["--vocab-size", "10000000", "--run-dir", str(tmp_path / "big"), "--data-dir",
              str(data_dir)], "larger than the corpus's"),
            (["--corpus", str(tmp_path / "nope.txt"), "--run-dir", str(tmp_path / "missing")],
             "does not exist")):
        with pytest.raises(SystemExit) as exit_info:
            cli.guard(main, flags)
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in error and "Traceback" not in error


def test_word_similarity_files_with_commas_or_tabs_comments_and_a_header(tmp_path):
    (tmp_path / "wordsim.csv").write_text("Word 1,Word 2,Human (mean)\nLove,sex,6.77\n")
    assert evaluation.read_word_similarity(tmp_path / "wordsim.csv") == [("love", "sex", 6.77)]
    (tmp_path / "simlex.txt").write_text("# SimLex\n# Word 1\tWord 2\tHuman\n\nold\tnew\t1.58\n"
                                         "smart\tintelligent\t9.2\n")
    assert evaluation.read_word_similarity(tmp_path / "simlex.txt") == [
        ("old", "new", 1.58), ("smart", "intelligent", 9.2)]
    bad = {"two.txt": ("a,b,1\nc d 2\n", "line 2: expected word, word and score"),
           "score.txt": ("a,b,1\nc,d,high\n", "line 2: the score 'high' is not a number"),
           "empty.txt": ("# nothing\n", "has no .word, word, score. lines")}
    for name, (text, message) in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message):
            evaluation.read_word_similarity(tmp_path / name)


@pytest.mark.parametrize("file_text, message", [
    (None, "missing.txt: no such word-similarity file"),
    ("a,b,1\nc,d,high\n", "line 2: the score 'high' is not a number")])
def test_a_bad_similarity_file_is_refused_before_training(tmp_path, capsys, file_text, message):
    path, run_dir = tmp_path / "missing.txt", tmp_path / "run"
    if file_text is not None:
        path.write_text(file_text)
    with pytest.raises(SystemExit) as exit_info:
        main(["--similarity-file", str(path), "--run-dir", str(run_dir)])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err.splitlines()[-1])
    assert not run_dir.exists()


def test_vocabulary_smaller_than_the_negatives_is_refused_before_writing(tmp_path, capsys):
    run_dir = tmp_path / "small"
    with pytest.raises(SystemExit) as exit_info:
        main(["--vocab-size", "50", "--run-dir", str(run_dir)])
    assert exit_info.value.code == 2
    assert "--vocab-size 50 is smaller than --num-sampled 64" in capsys.readouterr().err
    assert not run_dir.exists()


def test_one_step_per_call_with_the_fast_preset(tmp_path, data_dir, capsys):
    run_dir, similarity = tmp_path / "one", tmp_path / "mine.tsv"
    similarity.write_text("# my own set\nking\tqueen\t9\nking\tthe\t2\nthree\tfour\t7\n")
    main([*TINY, "--preset", "fast", "--steps-per-call", "1", "--num-steps", "3",
          "--similarity-file", str(similarity), "--run-dir", str(run_dir),
          "--data-dir", str(data_dir)])
    results = read_results(run_dir)
    assert results["steps"] == 3 and np.isfinite(results["train/loss"])
    assert results["eval/similarity_file_covered"] == 3
    assert -1.0 <= results["eval/similarity_file_spearman"] <= 1.0
    # The preset keeps input + output rows: the projector shows their sum.
    trained = checkpoint_variables(run_dir)
    embedding, output = (next(value for key, value in trained.items()
                              if key.startswith(f"model/{name}/"))
                         for name in ("embedding", "nce_weights"))
    np.testing.assert_allclose(np.loadtxt(run_dir / "vectors.tsv"), (embedding + output)[:50],
                               rtol=1e-5, atol=1e-6)

    # --evaluate re-scores the saved vectors (here the input rows alone), prints them and
    # exits 0 having written nothing.
    before = {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")}
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.guard(main, ["--run-dir", str(run_dir), "--evaluate", "--vectors", "input",
                         "--similarity-file", str(similarity), "--data-dir", str(data_dir)])
    assert exit_info.value.code == 0
    assert f"Scores of {run_dir / 'checkpoints'}" in capsys.readouterr().out
    scores = word2vec.evaluate_saved(str(run_dir), "input", str(data_dir), str(similarity))
    vocabulary = data.Vocabulary.load_tsv(run_dir / "vocab.tsv")
    expected = evaluation.evaluate(evaluation.normalized(embedding), vocabulary.index(),
                                   data_dir, str(similarity))
    assert scores == pytest.approx(expected) and "similarity_file_spearman" in scores
    assert scores["wordsim353_spearman"] != pytest.approx(results["eval/wordsim353_spearman"])
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before


def test_evaluate_needs_a_trained_run(tmp_path):
    with pytest.raises(ValueError, match="--evaluate needs --run-dir of a trained run"):
        main(["--evaluate"])
    with pytest.raises(FileNotFoundError, match="no checkpoint in .*empty: train first with "
                                                "python -m lectures.l05_word2vec --run-dir"):
        main(["--evaluate", "--run-dir", str(tmp_path / "empty")])
    assert not (tmp_path / "empty").exists()


def test_kept_vectors_are_the_input_rows_or_their_sum_with_the_output_rows():
    model = word2vec.SkipGram(3, 2, seed=0)
    model.embedding.assign([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    model.nce_weights.assign([[0.5, 0.0], [0.0, -1.0], [2.0, 2.0]])
    trained = model.embedding.numpy(), model.nce_weights.numpy()
    np.testing.assert_array_equal(word2vec.kept_vectors(*trained, "input"),
                                  [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(word2vec.kept_vectors(*trained, "input+output"),
                                  [[1.5, 2], [3, 3], [7, 8]])
    with pytest.raises(ValueError, match="--vectors must be one of input, input[+]output"):
        word2vec.kept_vectors(*trained, "output")


def test_mirrored_on_two_logical_cpus_matches_default_strategy(tmp_path, data_dir):
    assert_mirrored_matches_default(
        "l05_word2vec", tmp_path, *TINY, "--num-steps", "20", "--deterministic", "--data-dir",
        str(data_dir), "--learning-rate", "0.5", rtol=1e-5, atol=1e-6)
