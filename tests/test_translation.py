"""Lecture 12: tokenisation, vocabularies, masks, attention, decoding, BLEU, the lecture."""

import itertools
import json
import math
import re
import subprocess
import sys
import zipfile

from cs20 import cli, config, runtime
from lectures.l12_translation import attention, bleu, data, decoding
from lectures.l12_translation import model as lecture  # Seq2Seq, its loss and train step
from lectures.l12_translation.config import Config

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import (
    ROOT,
    assert_mirrored_matches_default,
    event_files,
    execute_notebook,
    lecture_main,
    read_results,
)
from run_state import directory_state

main = lecture_main("l12_translation")

PAIRS = [("I am cold.", "J'ai froid."), ("Go!", "Va\u202f!"), ("He is here.", "Il est ici."),
         ("I am here.", "Je suis ici."), ("Who is cold?", "Qui a froid\u202f?")] * 4


# --- data -------------------------------------------------------------------------------

def test_tokenize_splits_punctuation_and_elisions_and_lowers_case():
    assert data.tokenize_python(["Je n'ai pas été là\u202f!", "Don't GO."]) == [
        ["je", "n'", "ai", "pas", "été", "là", "!"], ["don'", "t", "go", "."]]


FRENCH = ["Montrez-moi le chat\u202f!", "Où est Tom ?", "Je vois Tom.", "Dis-le-moi, Tom.",
          "« Viens », dit-il.", "J'ai 20 % de chances."]
ENGLISH = ["Show me the cat!", "Where is Tom?", "Can I see Tom?", "Tell me, Tom.",
           'He said "come".', "I'm 20% sure.", "Tom's dog (a pug) ate it."]


def test_detokenize_writes_sentences_the_way_the_training_sentences_are_written():
    # Learnt from each language's sentences: French spaces before ! and ?, English does not.
    for sentences in (FRENCH, ENGLISH):
        orthography = data.Orthography.learn(sentences)
        for sentence, tokens in zip(sentences, data.tokenize_python(sentences),
                                    strict=True):
            assert orthography.detokenize(tokens) == " ".join(sentence.split())
    french = data.Orthography.learn(FRENCH)
    assert french.detokenize(["montrez", "-", "moi", "!"]) == "Montrez-moi !"
    assert french.detokenize(["tom", "n'", "est", "pas", "là", "?"]) == "Tom n'est pas là ?"
    english = data.Orthography.learn(ENGLISH)
    assert english.detokenize(["can", "i", "see", "tom'", "s", "cat", "?"]) == \
        "Can I see Tom's cat?"
    assert english.detokenize(["«", "écoute", "!", "»"]) == "« Écoute! »"
    assert english.detokenize([]) == ""
    assert english.detokenize(["<unk>", "is", "here", "."]) == "<unk> is here."
    assert english.detokenize(["3", "cats", "."]) == "3 cats."
    assert english.detokenize(["«", "écoute", "»"]) == "« Écoute »"
    # The SavedModel translator writes its output with the same ops.
    tokens = (*data.RESERVED, "montrez", "-", "moi", "!", "tom")
    translator = decoding.Translator(lecture.Seq2Seq(5, len(tokens), embedding_size=4, units=4),
                                     ["a"], tokens, beam_width=1, alpha=0.0, max_length=4,
                                     trained_max_length=3, target_orthography=french)
    ids = tf.constant([4, 5, 6, 7, 8, data.EOS_ID, 4])
    assert translator.text(ids).numpy().decode() == "Montrez-moi ! Tom"


def test_read_pairs_from_any_tab_separated_file(tmp_path):
    plain = tmp_path / "deu.txt"
    plain.write_text("Hi.\tHallo!\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123\n"
                     "\n"
                     "Go.\tGeh.\r\n", encoding="utf-8")
    assert data.read_pairs(plain) == [("Hi.", "Hallo!"), ("Go.", "Geh.")]
    archive = tmp_path / "deu-eng.zip"
    with zipfile.ZipFile(archive, "w") as output:
        output.write(plain, "deu-eng/deu.txt")
        output.writestr("deu-eng/_about.txt", "about")
    assert data.read_pairs(archive) == data.read_pairs(plain)
    bad_lines = {"no tab here": "line 2", "a\tb\tc\td": "line 2", "Hi.\t ": "line 2"}
    for line, message in bad_lines.items():
        (tmp_path / "bad.txt").write_text(f"Hi.\tSalut.\n{line}\nGo.\tVa.\n", encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            data.read_pairs(tmp_path / "bad.txt")
    (tmp_path / "latin1.txt").write_bytes("Hi.\tSalut.\n\nTea.\tThé.\n".encode("latin-1"))
    with pytest.raises(ValueError, match="line 3: not UTF-8"):
        data.read_pairs(tmp_path / "latin1.txt")
    with pytest.raises(ValueError, match="is a folder"):
        data.read_pairs(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.read_pairs(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="no sentence pairs"):
        data.read_pairs(tmp_path / "empty.txt")


def test_vocabulary_round_trip_with_unknown_words(tmp_path):
    sentences = data.tokenize_python(["the cat sat", "the dog sat", "a bird"])
    vocabulary = data.Vocabulary.build(sentences, min_count=2)
    assert vocabulary.tokens == (*data.RESERVED, "sat", "the")
    ids = vocabulary.encode(["the", "cat", "sat"])
    assert ids == [5, data.UNK_ID, 4]
    assert vocabulary.decode([*ids, data.EOS_ID, 4]) == ["the", "<unk>", "sat"]
    assert vocabulary.unknown(["the", "cat"]) == ["cat"]
    vocabulary.save(tmp_path / "vocabulary.txt")
    assert data.Vocabulary.load(tmp_path / "vocabulary.txt") == vocabulary
    (tmp_path / "bad.txt").write_text("hello\nworld")
    with pytest.raises(ValueError, match="not a vocabulary file"):
        data.Vocabulary.load(tmp_path / "bad.txt")


def test_corpus_filters_splits_deterministically_and_groups_references():
    corpus = data.make_corpus(PAIRS, max_length=4, min_count=1, validation_percent=30,
                                     test_percent=30)
    everything = corpus.train.sources + corpus.validation.sources + corpus.test.sources
    assert ["i", "am", "cold", "."] in everything and len(everything) == len(PAIRS)
    again = data.make_corpus(PAIRS, max_length=4, min_count=1, validation_percent=30,
                                    test_percent=30)
    assert again == corpus
    short = data.make_corpus(PAIRS, max_length=3, min_count=1)
    assert all(len(s) <= 3 for s in short.train.sources + short.train.targets)
    reversed_corpus = data.make_corpus(PAIRS, reverse=True, min_count=1)
    assert "froid" in reversed_corpus.source_vocabulary.tokens
    assert "cold" in reversed_corpus.target_vocabulary.tokens
    split = data.Split([["a"], ["b"], ["a"]], [["x"], ["y"], ["z"]])
    assert split.references() == ([["a"], ["b"]], [[["x"], ["z"]], [["y"]]])


def test_batches_are_padded_with_zeros_and_masks_mark_real_tokens():
    dataset = data.training_dataset([[4, 5], [6], [7, 8, 9]] * 8,
                                           [[1, 4, 2], [1, 5, 6, 2], [1, 2]] * 8,
                                           batch_size=4, seed=0)
    source, target = next(iter(dataset))
    assert source.shape[0] == 4 and target.shape[0] == 4
    mask = data.masks(source).numpy()
    assert np.array_equal(mask, source.numpy() != 0)
    assert np.array_equal(data.masks(tf.constant([[4, 5, 0]])).numpy(),
                          [[True, True, False]])


def test_real_corpus_loads(data_dir):
    corpus = data.load(data_dir)
    assert len(corpus.train) > 100_000 and len(corpus.test) > 5_000
    assert len(corpus.target_vocabulary) > 5_000


# --- model ------------------------------------------------------------------------------

@pytest.mark.parametrize("score", ["additive", "multiplicative"])
def test_attention_sums_to_one_over_real_positions_and_is_zero_on_padding(score):
    model = lecture.Seq2Seq(20, 30, embedding_size=8, units=16, attention=score)
    source = tf.constant([[5, 6, 7, 0, 0], [4, 0, 0, 0, 0]])
    encoded = model.encode(source)
    logits, state, weights = model.decode(tf.constant([[1, 5, 6], [1, 7, 8]]), encoded,
                                          encoded[2])
    assert logits.shape == (2, 3, 30) and state.shape == (2, 16)
    weights = weights.numpy()  # (batch, target, source)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(weights[0, :, 3:] == 0) and np.all(weights[1, :, 1:] == 0)


def test_attend_golden_values_mask_padding():
    scores = tf.constant([[[0.0, math.log(3.0), 5.0]]])  # (1, 1, 3); the 3rd is padding
    values = tf.constant([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])  # (1, 3, 2)
    context, weights = attention.attend(scores, values, tf.constant([[True, True, False]]))
    np.testing.assert_allclose(weights.numpy(), [[[0.25, 0.75, 0.0]]], rtol=1e-6)
    np.testing.assert_allclose(context.numpy(), [[[0.25, 0.75]]], rtol=1e-6)


def test_attention_scores_golden_values():
    queries = tf.constant([[[0.5, -0.5]]])  # (batch 1, target 1, units 2)
    keys = tf.constant([[[0.0, 0.0], [1.0, 1.0]]])  # (1, source 2, 2), already projected
    mask = tf.constant([[True, True]])
    multiplicative = attention.Attention(2, "multiplicative")
    np.testing.assert_allclose(multiplicative.score(queries, keys).numpy(), [[[0.0, 0.0]]])
    additive = attention.Attention(2, "additive")
    additive(queries, keys, keys, mask)  # build, then W = identity and v = (1, 1)
    additive.query_projection.set_weights([np.eye(2, dtype=np.float32)])
    additive.energy.set_weights([np.ones((2, 1), np.float32)])
    expected = [0.0, math.tanh(1.5) + math.tanh(0.5)]  # v . tanh(W q + k) per key
    np.testing.assert_allclose(additive.score(queries, keys).numpy(), [[expected]], rtol=1e-6)
    _, weights = additive(queries, keys, keys, mask)
    np.testing.assert_allclose(weights.numpy(), tf.nn.softmax([[expected]]).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="additive or multiplicative"):
        attention.Attention(2, "dot")


def test_attention_of_shows_what_the_model_decodes_with_and_a_layer_plugs_in():
    layer = attention.Attention(16, "multiplicative", name="attention")
    model = lecture.Seq2Seq(20, 30, embedding_size=8, units=16, attention=layer)
    assert model.attention is layer
    source, target_input = tf.constant([[5, 6, 7, 0]]), tf.constant([[1, 5, 6]])
    _, weights, context = lecture.attention_of(model, source, target_input)
    encoded = model.encode(source)
    _, _, decoded_weights = model.decode(target_input, encoded, encoded[2])
    np.testing.assert_allclose(weights.numpy(), decoded_weights.numpy(), rtol=1e-6)
    assert context.shape == (1, 3, 32)  # bidirectional encoder: 2 x units


def test_masked_cross_entropy_ignores_padding():
    logits = tf.math.log(tf.constant([[[0.5, 0.5, 0.0 + 1e-9]] * 3]))  # (1, 3, 3)
    labels = tf.constant([[1, 0, 0]])  # one real token, then padding
    np.testing.assert_allclose(lecture.masked_cross_entropy(labels, logits).numpy(),
                               [math.log(2)], rtol=1e-5)


def test_train_step_gives_adam_the_summed_gradient_of_a_word_seen_twice():
    # An embedding's gradient has a row per token; Keras' Adam squares rows one by one,
    # so with the rows unsummed word 4 (twice in the source) would move sqrt(2)x too far.
    source, target = tf.constant([[4, 4, 5]]), tf.constant([[1, 6, 6, 2]])
    models = [lecture.Seq2Seq(8, 8, embedding_size=4, units=4) for _ in range(2)]
    for model in models:
        model((source, target[:, :-1]))
    models[1].set_weights(models[0].get_weights())
    optimizers = [keras.optimizers.Adam(0.1) for _ in models]
    lecture.make_train_step(models[0], optimizers[0], global_batch_size=1)((source, target))
    with tf.GradientTape() as tape:
        loss = lecture.masked_cross_entropy(target[:, 1:], models[1]((source, target[:, :-1])))
    gradients = tape.gradient(loss, models[1].trainable_variables)
    optimizers[1].apply([tf.convert_to_tensor(gradient) for gradient in gradients],
                        models[1].trainable_variables)
    for trained, expected in zip(*(model.trainable_variables for model in models), strict=True):
        np.testing.assert_allclose(trained.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=trained.path)


# --- decoding on oracle logits ----------------------------------------------------------
# A Markov "model": the log-probabilities of the next token depend on the previous token
# only (the state), from a fixed table. Tokens: 0 PAD, 1 BOS, 2 EOS, 3 "a", 4 "b".

def oracle_step(table):
    table = tf.math.log(tf.constant(table, tf.float32))

    def step(tokens, state):
        return tf.gather(table, tokens), tokens, tf.ones([tf.shape(tokens)[0], 1])

    return step


def sequence_log_prob(table, tokens):
    previous, total = data.BOS_ID, 0.0
    for token in tokens:
        total += math.log(table[previous][token])
        previous = token
    return total


# After BOS "a" looks best (0.6) but every continuation of "a" is uncertain; "b" then EOS
# is the better sentence (0.4 * 0.9 = 0.36 > 0.6 * 0.5 = 0.30).
TABLE = [[0, 0, 1.0, 0, 0],
         [0, 0, 0.0, 0.6, 0.4],
         [0, 0, 1.0, 0, 0],
         [0, 0, 0.5, 0.25, 0.25],
         [0, 0, 0.9, 0.05, 0.05]]


def run_beam(table, beam_width, max_length, alpha=0.0):
    state = tf.fill([beam_width], data.BOS_ID)
    return tf.function(lambda: decoding.beam_search(oracle_step(table), state, beam_width,
                                                    max_length, 1, alpha))()


def run_greedy(table, max_length):
    state = tf.constant([data.BOS_ID])
    return tf.function(lambda: decoding.greedy(oracle_step(table), state, max_length, 1))()


def cut(tokens):
    tokens = list(tokens)
    return tokens[:tokens.index(data.EOS_ID) + 1] if data.EOS_ID in tokens \
        else tokens


def test_beam_search_finds_what_greedy_misses_and_width_one_equals_greedy():
    greedy_tokens, _ = run_greedy(TABLE, 4)
    assert cut(greedy_tokens[0].numpy()) == [3, 2]
    tokens, _, score = run_beam(TABLE, 2, 4)
    assert cut(tokens[0].numpy()) == [4, 2]
    np.testing.assert_allclose(score.numpy()[0], math.log(0.36), rtol=1e-5)
    width_one, _, _ = run_beam(TABLE, 1, 4)
    np.testing.assert_array_equal(width_one.numpy(), greedy_tokens.numpy())


def test_exhaustive_beam_returns_the_highest_scoring_sequence():
    rng = np.random.default_rng(0)
    table = rng.dirichlet(np.ones(3), size=5)  # next over EOS, a, b
    table = np.concatenate([np.zeros((5, 2)), table], axis=1).tolist()
    max_length = 3
    # Every sequence of a/b ending with EOS, or running out at max_length.
    candidates = [[*words, data.EOS_ID] for n in range(max_length)
                  for words in itertools.product([3, 4], repeat=n)]
    candidates += [list(words) for words in itertools.product([3, 4], repeat=max_length)]
    best = max(candidates, key=lambda tokens: sequence_log_prob(table, tokens))
    tokens, _, score = run_beam(table, 8, max_length)  # 8 >= 2 ** 3: nothing is pruned
    assert cut(tokens[0].numpy()) == best
    np.testing.assert_allclose(score.numpy()[0], sequence_log_prob(table, best), rtol=1e-5)


def test_length_penalty_favours_longer_translations():
    # EOS right away (0.5) vs "a a EOS" (0.5 * 0.8 * 0.9 = 0.36): per word the longer one
    # is likelier, so a large alpha prefers it while alpha 0 keeps the short one.
    table = [[0, 0, 1.0, 0, 0], [0, 0, 0.5, 0.5, 0.0], [0, 0, 1.0, 0, 0],
             [0, 0, 0.1, 0.8, 0.1], [0, 0, 1.0, 0, 0]]
    short, _, _ = run_beam(table, 3, 4, alpha=0.0)
    long, _, _ = run_beam(table, 3, 4, alpha=2.0)
    assert cut(short[0].numpy()) == [2]
    assert len(cut(long[0].numpy())) > 1
    assert float(decoding.length_penalty(1, 0.0)) == 1.0
    np.testing.assert_allclose(float(decoding.length_penalty(7, 1.0)), 2.0)


# --- BLEU -------------------------------------------------------------------------------

def test_bleu_golden_values():
    sentence = ["the", "cat", "is", "on", "the", "mat"]
    assert bleu.corpus_bleu([[sentence]], [sentence]) == pytest.approx(1.0)
    assert bleu.corpus_bleu([[sentence]], [["a", "dog", "ran", "away", "fast"]]) == 0.0
    # p1..p4 = 6/6, 4/5, 3/4, 2/3; brevity penalty exp(1 - 7/6).
    hand = (1 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25 * math.exp(1 - 7 / 6)
    assert bleu.corpus_bleu([[["the", "cat", "is", "on", "the", "red", "mat"]]], [sentence]) == \
        pytest.approx(hand) == pytest.approx(0.673182, abs=1e-6)
    # Smoothed sentence BLEU: p1 = 5/6, then (m + 1) / (n + 1): 4/6, 2/5, 1/4.
    hypothesis = ["the", "cat", "sat", "on", "the", "mat"]
    assert bleu.corpus_bleu([[sentence]], [hypothesis]) == 0.0  # no 4-gram matches
    assert bleu.sentence_bleu([sentence], hypothesis) == pytest.approx((1 / 18) ** 0.25)
    # Several references: counts clip against the best one, length from the closest.
    assert bleu.corpus_bleu([[["x"] * 9, sentence]], [sentence]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bleu.corpus_bleu([[sentence]], [sentence, sentence])


# --- the lecture ------------------------------------------------------------------------

TINY_SETTINGS = {"batch_size": 16, "units": 16, "embedding_size": 8, "max_length": 5,
                 "validation_sentences": 20, "summary_every": 2, "eval_every": 4,
                 "checkpoint_every": 2, "beam_width": 2}
TINY = [text for name, value in TINY_SETTINGS.items()
        for text in (f"--{config.flag_name(name)}", str(value))]


def test_notebook_on_a_corpus_file_reversed_then_script_resumes_and_translate_only_reads(
        tmp_path, tatoeba_file, capsys):
    results, output = execute_notebook("l12_translation", tmp_path, num_steps=4,
                                       corpus=str(tatoeba_file), reverse=True, **TINY_SETTINGS)
    run_dir = tmp_path / "notebook_run"
    flags = [*TINY, "--run-dir", str(run_dir), "--corpus", str(tatoeba_file), "--reverse"]
    assert results["steps"] == 4 and math.isfinite(results["train/loss"])
    assert 0.0 <= results["test/bleu_greedy"] <= 1.0 and "test/bleu_beam2" in results
    assert event_files(run_dir) and (run_dir / "checkpoints" / "checkpoint").is_file()
    assert (run_dir / "attention.png").stat().st_size > 0
    assert "go" in data.Vocabulary.load(run_dir / "target_vocabulary.txt").tokens

    # French -> English, written as English is: "Va !" <- "Go!", in print and TensorBoard.
    # The worked example: a training pair, the decoder input shifted by one, ids included.
    example = output[output.index("Worked example"):].splitlines()[:6]
    shown_pair = {}
    for line in example[1:4]:
        name, words, ids = re.fullmatch(r"  (source|decoder input|labels) +(.+)  (\[.*\])",
                                        line).groups()
        shown_pair[name] = (words.split(), json.loads(ids))
    (input_words, input_ids), (label_words, label_ids) = (shown_pair["decoder input"],
                                                          shown_pair["labels"])
    assert input_words[0] == data.BOS and label_words[-1] == data.EOS
    assert input_words[1:] == label_words[:-1] and input_ids[1:] == label_ids[:-1]
    assert input_ids[0] == data.BOS_ID and label_ids[-1] == data.EOS_ID
    assert len(shown_pair["source"][0]) == len(shown_pair["source"][1]) >= 4
    assert "(sum 1)" in example[4]
    lines = output.splitlines()
    shown = [(lines[number - 1].strip(), line.split("reference: ")[1])
             for number, line in enumerate(lines) if "reference: " in line]
    assert len(shown) == 6
    sources, references = (list(texts) for texts in zip(*shown, strict=True))
    for text in sources + references:
        assert text[0].isupper() and " - " not in text and not text.endswith(" ."), text
    assert not any(text.endswith((" !", " ?")) for text in references)
    events = b"".join(path.read_bytes() for path in event_files(run_dir))
    assert all(f"| {text} |".encode() in events for text in sources + references)
    assert f"Try: python -m lectures.l12_translation --run-dir {run_dir} --translate" in output

    main(["--num-steps", "6", "--quiet", *flags])
    output = capsys.readouterr().out
    assert "Resumed from" in output and "at step 4" in output and "Worked example" not in output

    # The SavedModel stands alone: a string in, a string out, unknown words allowed.
    # --translate only reads the run, whatever the other flags say (another model size,
    # more steps, even --fresh): the run directory stays exactly as it was, and the
    # command exits 0.
    before = directory_state(run_dir)
    with pytest.raises(SystemExit) as exit_info:
        cli.guard(main, ["--run-dir", str(run_dir), "--translate", "Je suis zzzqx.",
                         "--units", "32", "--num-steps", "50", "--fresh"])
    assert exit_info.value.code == 0
    output = capsys.readouterr().out
    assert "Unknown words (read as <unk>): zzzqx" in output and "Worked example" not in output
    assert re.search(r"^Je suis zzzqx\.\n  greedy: .+\n  beam:   .+$", output, re.MULTILINE)
    translated = decoding.translate_with_saved(str(run_dir), "J'ai froid.")
    assert isinstance(translated["beam"], str) and isinstance(translated["greedy"], str)
    reloaded = tf.saved_model.load(str(run_dir / "translator"))
    assert reloaded.translate(tf.constant("J'ai froid.")).numpy().decode() == translated["beam"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty sentence"):
        reloaded.translate(tf.constant("  "))
    # Longer than --max-length 5: translated, with a warning.
    with pytest.raises(runtime.RunFinished):
        main(["--run-dir", str(run_dir), "--translate", "Je ne sais pas ce que tu veux."])
    assert "has 9 tokens but the model was trained on sentences of at most 5" in \
        capsys.readouterr().err
    for flags, message in ((["--translate", ""], "--translate got an empty sentence"),
                           (["--translate", " ", "--units", "32"], "--units 32 (the run has")):
        with pytest.raises(SystemExit) as exit_info:
            cli.guard(main, ["--run-dir", str(run_dir), *flags])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error
    assert directory_state(run_dir) == before
    with pytest.raises(FileNotFoundError, match="no translator"):
        main(["--run-dir", str(tmp_path / "nothing"), "--translate", "Salut."])


def test_mixed_precision_trains_and_decodes(tmp_path, tatoeba_file):
    """bfloat16 (what --mixed-precision picks on a CPU) through training, the BLEU
    decoding and results.json; the float16 step is compared with float32's in
    test_float16.py."""
    try:
        main(["--num-steps", "2", "--mixed-precision", "--quiet", *TINY,
              "--run-dir", str(tmp_path / "run"), "--corpus", str(tatoeba_file)])
    finally:
        keras.mixed_precision.set_global_policy("float32")  # process-wide: leave it clean
    results = read_results(tmp_path / "run")
    assert results["steps"] == 2 and math.isfinite(results["train/loss"])
    assert 0.0 <= results["test/bleu_greedy"] <= 1.0


def test_bad_corpus_file_is_a_one_line_error_naming_the_line(tmp_path, capsys):
    corpus = tmp_path / "pairs.txt"
    corpus.write_text("Hi.\tSalut.\nHello. Bonjour.\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        cli.guard(main, ["--corpus", str(corpus), "--run-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"error: corpus {corpus}, line 2: expected a sentence, a tab and its translation "
        f"(and optionally a tab and an attribution), got 'Hello. Bonjour.'\n")
    assert not (tmp_path / "run").exists()


# Run in a fresh process: training as usual, then SIGINT (what Ctrl-C sends) at the
# start of the test set's decoding, i.e. outside the training loop and its handler.
INTERRUPTED_DECODING = """
import runpy, signal, sys
from cs20 import training
from lectures.l12_translation import decoding

train, decode_all = training.train, decoding.decode_all

def interrupted_decode_all(*args, **kwargs):
    print("test: SIGINT at the test set's decoding", flush=True)
    signal.raise_signal(signal.SIGINT)
    return decode_all(*args, **kwargs)

def train_then_interrupt(*args, **kwargs):
    results = train(*args, **kwargs)
    decoding.decode_all = interrupted_decode_all  # the test set's decoding comes next
    return results

training.train = train_then_interrupt
# As in a terminal, whatever this process inherited: Ctrl-C raises KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
runpy.run_module("lectures.l12_translation", run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_during_the_final_decoding_stops_with_one_line(tmp_path, tatoeba_file):
    run_dir = tmp_path / "run"
    completed = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_DECODING, "--num-steps", "2", *TINY, "--run-dir",
         str(run_dir), "--corpus", str(tatoeba_file)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "SIGINT at the test set's decoding" in completed.stdout, completed.stdout[-2000:]
    assert completed.returncode == 130, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr
    assert not (run_dir / "results.json").exists()


def test_refused_flags_say_why(capsys):
    for flags, message in ((["--jit-compile"], "--jit-compile is not supported by l12"),
                           (["--dropout", "nan"], "--dropout must be a finite number"),
                           (["--length-penalty", "nan"], "--length-penalty must be a finite")):
        with pytest.raises(SystemExit) as exit_info:
            config.parse(Config, flags)
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in error and "Traceback" not in error


def test_mirrored_on_two_logical_cpus_matches_default_strategy(tmp_path, tatoeba_file):
    # Same global batches (each replica gets half), no dropout: two replicas must train
    # to the weights one device reaches, up to the rounding of two half-batch gradient
    # sums plus an all-reduce (the embeddings' gradients included). Calls of 4 steps
    # whose batches come from different length buckets: the embeddings' sparse gradients
    # once crashed the all-reduce there ("Shape mismatch in the collective instance").
    assert_mirrored_matches_default(
        "l12_translation", tmp_path, "--num-steps", "8", *TINY, "--dropout", "0",
        "--steps-per-call", "4", "--summary-every", "4", "--checkpoint-every", "4",
        "--eval-every", "8", "--deterministic", "--corpus", str(tatoeba_file),
        rtol=1e-3, atol_of_max=1e-3)
