"""Lecture 11's character RNN: data, masked loss, sampler, generation, the lecture."""

import ast
import math

from cs20 import cli, config, runtime
from lectures.l11_char_rnn import data, generate
from lectures.l11_char_rnn import model as network
from lectures.l11_char_rnn.config import Config

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import (
    assert_mirrored_matches_default,
    event_files,
    execute_notebook,
    lecture_main,
    read_results,
)
from run_state import directory_state

main = lecture_main("l11_char_rnn")

# --- Data ---


def test_encode_decode_round_trip_and_unknown_characters():
    course = data.Vocabulary.course()
    assert len(course) == 87  # 86 characters and padding
    text = "Make America Great Again! #MAGA @realDonaldTrump 📈"
    # '!' is not in the course's set: it is dropped, everything else survives.
    assert course.decode(course.encode(text)) == text.replace("!", "")
    built = data.Vocabulary.build(["héllo wörld ✅", "abc"])
    assert built.decode(built.encode("wörld ✅ abc")) == "wörld ✅ abc"
    assert min(built.encode("héllo")) == 1  # id 0 stays padding
    assert built.characters[0] == "l"  # most frequent first


def test_vocabulary_file_round_trip_keeps_every_character(tmp_path):
    vocabulary = data.Vocabulary.build(['say "hi" \\ 🇺🇸 ✅'])
    vocabulary.save(tmp_path / "vocabulary.json")
    assert data.Vocabulary.load(tmp_path / "vocabulary.json") == vocabulary


def test_windows_cover_whole_lines_including_short_ones():
    # A 10-character line gives one padded window (the course gave none).
    assert data.windows_of(list(range(1, 11)), window=50, overlap=25) == [
        list(range(1, 11)) + [0] * 40]
    # 60 characters: windows start at 0 and 25; the second is padded.
    ids = list(range(1, 61))
    windows = data.windows_of(ids, window=50, overlap=25)
    assert windows == [ids[:50], ids[25:] + [0] * 15]
    # Exactly one window's worth: no empty trailing window.
    assert data.windows_of(ids[:50], 50, 25) == [ids[:50]]
    assert data.windows_of([7], 50, 25) == []  # nothing to predict


@pytest.mark.parametrize("length,window,overlap", [(2, 2, 0), (97, 50, 25), (130, 10, 3),
                                                   (33, 5, 4)])
def test_every_neighbouring_pair_is_a_training_target(length, window, overlap):
    ids = list(range(1, length + 1))
    pairs = set()
    for chunk in data.windows_of(ids, window, overlap):
        pairs |= {(a, b) for a, b in zip(chunk[:-1], chunk[1:], strict=True) if b != data.PAD_ID}
    assert pairs == set(zip(ids[:-1], ids[1:], strict=True))


def test_inputs_labels_and_masks():
    windows = tf.constant([[5, 6, 7, 0, 0]])
    inputs, labels = data.inputs_and_labels(windows)
    np.testing.assert_array_equal(inputs, [[5, 6, 7, 0]])
    np.testing.assert_array_equal(labels, [[6, 7, 0, 0]])
    np.testing.assert_array_equal(data.masks(labels), [[True, True, False, False]])


def test_split_is_deterministic_disjoint_and_about_five_percent():
    lines = [f"tweet number {i}" for i in range(4000)] + ["repeated"] * 10
    split = data.split_lines(lines)
    assert set(split.train).isdisjoint(split.validation)
    assert sorted(split.train + split.validation) == sorted(lines)
    assert 0.04 < len(split.validation) / len(lines) < 0.06
    assert set(data.split_lines(list(reversed(lines))).validation) == set(split.validation)


def test_characters_outside_the_vocabulary_are_counted_and_reported():
    vocabulary = data.Vocabulary("abc ")
    counts, total = data.outside_vocabulary(["abc déjà", "été !"], vocabulary)
    assert total == 13 and counts == {"é": 3, "d": 1, "j": 1, "à": 1, "t": 1, "!": 1}
    report = data.describe_outside(counts, total, "course")
    assert report.startswith("61.5% of characters (8 of 13) are outside --vocabulary course")
    assert "most often 'é' (3)" in report and report.endswith("; use --vocabulary corpus")
    assert "use --vocabulary" not in data.describe_outside(counts, total, "corpus")
    assert data.describe_outside(*data.outside_vocabulary(["abc"], vocabulary), "course") == ""


def test_seeds_are_first_words_the_vocabulary_can_read():
    vocabulary = data.Vocabulary("abcdefghijklmnopqrstuvwxyz ")
    lines = ["usage: x", "the cat", "the dog", "a very-long-first-word", "thequickbrownfox"]
    assert data.seeds_from(lines, vocabulary, count=3) == ("the", "a", "thequickbrow")
    assert data.seeds_from(lines, vocabulary, count=1) == ("the",)
    assert data.seeds_from(["Éé"], vocabulary) == ("a",)


def test_bad_text_files_are_clear_errors(tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        data.read_lines(latin1)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\n")
    with pytest.raises(ValueError, match="no text"):
        data.read_lines(blank)
    with pytest.raises(FileNotFoundError):
        data.read_lines(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="nothing to learn"):
        data.make_windows([[1], []], 50, 25)
    with pytest.raises(ValueError, match="overlap"):
        data.windows_of([1, 2, 3], 10, 10)


# --- Loss, clipping, sampling ---


def test_masked_loss_golden_values():
    # Uniform logits over 4 ids: ln 4 per real character. The second row's padded
    # positions have confident wrong logits; masked, they must not count.
    logits = np.zeros((2, 3, 4), np.float32)
    logits[1, 1:] = [100.0, -100.0, -100.0, -100.0]
    labels = tf.constant([[1, 2, 3], [1, 0, 0]])
    total, count = network.masked_loss_terms(labels, tf.constant(logits))
    assert float(count) == 4.0
    assert float(total) == pytest.approx(4 * math.log(4.0), rel=1e-6)
    # A hand-computed non-uniform case: softmax([0, 0, 0, 2])[3] = e^2 / (e^2 + 3).
    total, count = network.masked_loss_terms(tf.constant([[3]]),
                                              tf.constant([[[0.0, 0.0, 0.0, 2.0]]]))
    assert float(total) == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 3)), rel=1e-6)
    assert float(count) == 1.0
    # An all-padding batch counts nothing.
    total, count = network.masked_loss_terms(tf.constant([[0]]),
                                              tf.constant([[[0.0, 0.0, 0.0, 2.0]]]))
    assert float(total) == 0.0 and float(count) == 0.0


def test_clipping_scales_to_the_global_norm():
    gradients = [tf.constant([3.0]), tf.constant([[4.0]])]  # global norm 5
    clipped, norm = network.clip_global_gradient(gradients, 1.0)
    assert float(norm) == pytest.approx(5.0)
    np.testing.assert_allclose(clipped[0], [0.6], rtol=1e-6)
    np.testing.assert_allclose(clipped[1], [[0.8]], rtol=1e-6)
    unchanged, _ = network.clip_global_gradient(gradients, 10.0)
    np.testing.assert_allclose(unchanged[0], [3.0])


def test_sampler_on_oracle_logits():
    tf.random.set_seed(0)
    logits = tf.constant([[0.1, 2.0, -1.0, 0.5]] * 20000)
    np.testing.assert_array_equal(generate.sample(logits, tf.constant(0.0)), [1] * 20000)
    # Very high temperature: close to uniform.
    hot = np.bincount(generate.sample(logits, tf.constant(1000.0)).numpy(), minlength=4) / 20000
    np.testing.assert_allclose(hot, 0.25, atol=0.015)
    # Temperature 1: the softmax of the logits (the course sampled from exp(logits)).
    drawn = np.bincount(generate.sample(logits, tf.constant(1.0)).numpy(), minlength=4) / 20000
    np.testing.assert_allclose(drawn, tf.nn.softmax(logits[0]).numpy(), atol=0.015)


# --- Model and generation ---


def tiny_model(vocabulary_size=12, seed=1):
    """-> (model, stepper) of the lecture's recurrent stack, GRUs of 8 and 16 units."""
    keras.utils.set_random_seed(seed)
    return network.build_model(vocabulary_size, hidden_sizes=(8, 16))


def test_shapes_and_parameter_count_of_the_course_network():
    model, stepper = network.build_model(87, hidden_sizes=(128, 256))
    assert model(tf.ones([3, 49], tf.int32)).shape == (3, 49, 87)
    # GRU(128) on 87 one-hot inputs, GRU(256) on 128, Dense 256 -> 87 (Keras' reset_after GRU).
    gru = lambda inputs, units: 3 * (inputs * units + units * units + 2 * units)  # noqa: E731
    assert model.count_params() == gru(87, 128) + gru(128, 256) + 256 * 87 + 87
    assert stepper.trainable_variables == model.trainable_variables  # one set of weights


def test_one_character_at_a_time_matches_the_whole_sequence():
    model, stepper = tiny_model()
    ids = tf.constant([[3, 1, 4, 1, 5, 9, 2, 6]])
    whole = model(ids).numpy()
    states = network.zero_states(stepper, 1)
    steps = []
    for position in range(ids.shape[1]):
        logits, states = network.step(stepper, ids[:, position:position + 1], states)
        steps.append(logits[:, 0].numpy())
    np.testing.assert_allclose(np.stack(steps, axis=1), whole, atol=1e-5)


def test_greedy_generation_follows_the_argmax_chain():
    model, stepper = tiny_model()
    generated = generate.generate_ids(stepper, tf.constant([[2, 3]]), 5, tf.constant(0.0))
    sequence = [2, 3]
    for _ in range(5):
        logits = model(tf.constant([sequence])).numpy()[0, -1]
        logits[data.PAD_ID] = -np.inf
        sequence.append(int(np.argmax(logits)))
    assert generated.numpy().tolist() == [sequence[2:]]


def scripted_sample(text: str, vocabulary: data.Vocabulary):
    """A sampler that ignores the logits and writes `text`, one character per call."""
    script = tf.constant(vocabulary.encode(text))
    position = tf.Variable(0)

    def sample(logits, temperature):
        next_id = script[position % tf.size(script)]
        position.assign_add(1)
        return tf.fill([tf.shape(logits)[0]], next_id)  # (batch,)

    return sample


def test_sampling_stops_at_the_end_of_tweet_marker(monkeypatch):
    vocabulary = data.Vocabulary("ab_E ")
    _, stepper = tiny_model(len(vocabulary))
    script = "ab _E_ ba _E_ "

    def generated(end_text: str, length: int) -> str:
        # generate.py draws with its own `sample`: replaced here by the script.
        monkeypatch.setattr(generate, "sample", scripted_sample(script, vocabulary))
        generator = generate.Generator(stepper, vocabulary, ("a",), end_text)
        return generator.generate(tf.constant("ba"), tf.constant(length),
                                  tf.constant(1.0)).numpy().decode()

    assert generated("_E_", 40) == "baab _E_"  # stops after the first marker
    assert generated("_E_", 5) == "baab _E"  # or at the length
    assert generated("", 16) == "ba" + (script * 2)[:16]  # no marker: never stops
    assert generated("_X_", 16) == "ba" + (script * 2)[:16]  # a marker it cannot write
    # Rows of a batch stop one by one, padded after their marker; a marker begun in the
    # seed counts ("_E" + "_").
    encode = vocabulary.encode
    monkeypatch.setattr(generate, "sample", scripted_sample("_ab_E_", vocabulary))
    ids = generate.generate_ids(stepper, tf.constant([encode("_E"), encode("aa")]), 9,
                                tf.constant(1.0), tuple(encode("_E_")))
    assert ids.numpy().tolist() == [encode("_") + [data.PAD_ID] * 5, encode("_ab_E_")]


def test_generator_saved_model_round_trip(tmp_path):
    vocabulary = data.Vocabulary("abcdefghij ")
    generator = generate.Generator(tiny_model(len(vocabulary))[1], vocabulary, ("a", "bc"))
    args = (tf.constant(5, tf.int32), tf.constant(0.0))
    expected = generator.generate(tf.constant("a bc"), *args).numpy().decode()
    tf.saved_model.save(generator, str(tmp_path / "generator"))
    reloaded = tf.saved_model.load(str(tmp_path / "generator"))
    assert reloaded.generate(tf.constant("a bc"), *args).numpy().decode() == expected
    assert list(reloaded.seeds.numpy()) == [b"a", b"bc"]
    assert expected.startswith("a bc") and len(expected) == 9
    # Characters outside the vocabulary are dropped from the seed.
    assert reloaded.generate(tf.constant("a!? bc"), *args).numpy().decode() == expected
    with pytest.raises(tf.errors.InvalidArgumentError, match="seed has no character"):
        reloaded.generate(tf.constant("!!"), *args)


def test_train_step_lowers_the_loss():
    model, _ = tiny_model()
    optimizer = keras.optimizers.Adam(0.05)
    optimizer.build(model.trainable_variables)
    step = tf.function(network.make_train_step(model, optimizer, clip_norm=5.0))
    batch = data.inputs_and_labels(tf.constant([[1, 2, 3, 1, 2, 3, 0, 0]] * 4))
    first = float(step(batch)["loss"])
    for _ in range(30):
        last = float(step(batch)["loss"])
    assert last < 0.3 * first


def test_pieces_of_a_batch_golden_values():
    assert [data.piece_length(time, 64) for time in (16, 64, 65, 144, 130)] == [16, 64, 33, 48, 44]
    batch = tf.constant([[1, 2, 3, 4, 5, 6, 7], [8, 9, 0, 0, 0, 0, 0]])  # (batch 2, time 7)
    pieces = data.pieces(batch, 7, 3)  # 3 pieces of 3: 7 padded to 9
    np.testing.assert_array_equal(pieces.numpy(), [[[1, 2, 3], [8, 9, 0]],
                                                   [[4, 5, 6], [0, 0, 0]],
                                                   [[7, 0, 0], [0, 0, 0]]])
    # A replica's batch may be shorter than the longest of all replicas: padded to it.
    assert data.pieces(batch, 12, 5).shape == (3, 2, 4)


def test_carried_states_read_pieces_like_the_whole_line():
    model, stepper = tiny_model()
    ids = tf.constant([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3]])
    states = network.zero_states(stepper, 1)
    pieces = []
    for piece in data.pieces(ids, 10, 4):  # 3 pieces of 4 (2 padding ids at the end)
        logits, states = network.step(stepper, piece, states)
        pieces.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1)[:, :10], model(ids).numpy(),
                               atol=1e-5)


def make_optimizer_and_steps(longest_piece):
    """Two copies of one tiny model, each with its own Adam: the whole-window step and
    the truncated step."""
    steps = []
    for make in (lambda model, stepper, optimizer: network.make_train_step(model, optimizer, 5.0),
                 lambda model, stepper, optimizer: network.make_truncated_train_step(
                     stepper, optimizer, 5.0, longest_piece)):
        model, stepper = tiny_model()
        optimizer = keras.optimizers.Adam(0.05)
        optimizer.build(model.trainable_variables)
        steps.append((model, optimizer, tf.function(make(model, stepper, optimizer))))
    return steps


def test_truncated_step_with_one_piece_is_the_whole_window_step():
    batch = data.inputs_and_labels(tf.constant([[1, 2, 3, 1, 2, 3, 0, 0], [3, 2, 1, 3, 0, 0, 0, 0]]))
    (whole_model, _, whole_step), (piece_model, piece_optimizer, piece_step) = \
        make_optimizer_and_steps(longest_piece=7)
    for _ in range(3):
        whole, truncated = whole_step(batch), piece_step(batch)
        np.testing.assert_allclose(float(truncated["loss"]), float(whole["loss"]), rtol=1e-5)
    for expected, actual in zip(whole_model.get_weights(), piece_model.get_weights(), strict=True):
        np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert int(piece_optimizer.iterations) == 3


def test_truncated_step_updates_once_per_piece_and_lowers_the_loss():
    batch = data.inputs_and_labels(tf.constant([[1, 2, 3, 1, 2, 3, 1, 2, 3]] * 4))  # time 8
    _, (model, optimizer, step) = make_optimizer_and_steps(longest_piece=3)
    first = float(step(batch)["loss"])
    assert int(optimizer.iterations) == 3  # 8 characters in pieces of 3, 3, 2 (padded to 3)
    for _ in range(15):
        last = float(step(batch)["loss"])
    assert last < 0.3 * first


# --- Lecture ---

CORPUS = "\n".join(f"the cat {i} sat on the mat and the dog ran {i % 7} times" for i in range(300))
TINY_SETTINGS = {"hidden_sizes": "8,16", "batch_size": 8, "eval_every": 2, "length": 12,
                 "summary_every": 2, "checkpoint_every": 2}
TINY = [word for key, value in TINY_SETTINGS.items()
        for word in (f"--{config.flag_name(key)}", str(value))]


def test_presets_resolve_to_the_flags_they_name_and_typed_flags_win():
    parse = lambda *flags: config.parse(Config, flags)  # noqa: E731
    fast = parse("--preset", "fast")
    assert (fast.hidden_sizes, fast.window, fast.overlap, fast.batch_size,
            fast.learning_rate, fast.num_steps) == ("128,256", 50, 25, 64, 0.01, 6000)
    assert parse() == fast
    course = parse("--preset", "course")
    assert (course.hidden_sizes, course.window, course.learning_rate) == ("128,256", 50, 3e-3)
    mixed = parse("--preset", "fast", "--window", "80", "--learning-rate", "0.5")
    assert (mixed.window, mixed.overlap, mixed.learning_rate) == (80, 25, 0.5)


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS + "\n\n")
    return path


def generated(argv, capsys) -> list[str]:
    """--generate: the samples it printed; it ends the lecture (RunFinished: exit 0)."""
    with pytest.raises(runtime.RunFinished):
        main(argv)
    lines = capsys.readouterr().out.splitlines()
    first = next(index for index, line in enumerate(lines) if line.startswith("Samples from"))
    return [ast.literal_eval(line.strip()) for line in lines[first + 1:]]


def test_notebook_then_script_resumes_worked_example_and_generate_without_writing(
        tmp_path, corpus_file, capsys):
    results, output = execute_notebook("l11_char_rnn", tmp_path, num_steps=4,
                                       corpus=str(corpus_file), **TINY_SETTINGS)
    run_dir = tmp_path / "notebook_run"
    assert results["steps"] == 4 and math.isfinite(results["eval/bits_per_character"])
    assert event_files(run_dir) and (run_dir / "generator" / "saved_model.pb").is_file()
    # Seeds from the corpus ("the cat 3 sat ..."), not the tweets' "Hillary".
    assert "Samples at step 2" in output and "'the" in output and "Hillary" not in output
    assert f"Try: python -m lectures.l11_char_rnn --run-dir {run_dir} --generate" in output
    assert data.Vocabulary.load(run_dir / "vocabulary.json") == data.Vocabulary.course()
    # The worked example: a padded window, its targets shifted by one, and the mask.
    example = output[output.index("Worked example"):].splitlines()
    assert example[1] == "  input   the cat 0 sat on the mat and the dog ran 0 times·"
    assert example[2] == "  target  he cat 0 sat on the mat and the dog ran 0 times··"
    assert example[3] == "  mask    " + "1" * 47 + "00  (47 targets in the loss)"

    main(["--num-steps", "6", "--quiet", "--corpus", str(corpus_file), "--run-dir",
          str(run_dir), *TINY])
    output = capsys.readouterr().out
    assert "Resumed from" in output and "at step 4" in output and "Worked example" not in output
    assert read_results(run_dir)["steps"] == 6

    texts = generated(["--run-dir", str(run_dir), "--generate", "--start-text", "the c",
                       "--length", "7", "--temperature", "0"], capsys)
    assert len(texts) == 1 and texts[0].startswith("the c") and len(texts[0]) == 12
    # --generate reads the run and leaves it as it was, whatever the other flags say.
    before = directory_state(run_dir)
    texts = generated(["--run-dir", str(run_dir), "--generate", "--hidden-sizes", "4",
                       "--num-steps", "50", "--fresh", "--length", "3"], capsys)
    assert len(texts) == 1 and texts[0].startswith("the")  # the run's one seed
    with pytest.raises(runtime.RunFinished):
        main(["--run-dir", str(run_dir), "--generate", "--start-text", "¤the", "--length", "3"])
    output = capsys.readouterr().out
    assert "outside the vocabulary, left out: '¤'" in output and "Worked example" not in output
    with pytest.raises(SystemExit) as exit_info:  # the command line exits 0
        cli.guard(main, ["--run-dir", str(run_dir), "--generate", "--length", "3"])
    assert exit_info.value.code == 0 and "Samples from" in capsys.readouterr().out
    for flags, message in ((["--start-text", "¤"], "has no character of the model's"),
                           (["--temperature", "nan"], "--temperature must be a finite")):
        with pytest.raises(SystemExit) as exit_info:
            cli.guard(main, ["--run-dir", str(run_dir), "--generate", *flags])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert directory_state(run_dir) == before


def test_outside_characters_are_reported_and_corpus_vocabulary_has_none(tmp_path, capsys):
    corpus = tmp_path / "help.txt"
    corpus.write_text("\n".join(f"Usage: tool [OPTION]... FILE {i}!" for i in range(200)))
    data.load_corpus(str(corpus), "course")
    # '[', ']' and '!' are not among the course's characters: 3 of 31 to 33 a line.
    assert ("9.2% of characters (600 of 6,490) are outside --vocabulary course and are "
            "dropped, most often '[' (200), ']' (200), '!' (200); use --vocabulary corpus\n"
            ) in capsys.readouterr().out
    data.load_corpus(str(corpus), "corpus")
    assert "outside --vocabulary" not in capsys.readouterr().out


def test_trump_tweets_by_default(tmp_path, data_dir):
    results = main(["--num-steps", "2", "--hidden-sizes", "8", "--eval-every", "2",
                    "--length", "5", "--data-dir", str(data_dir), "--run-dir",
                    str(tmp_path / "run")])
    assert results["steps"] == 2 and results["eval/bits_per_character"] > 1.0


def test_bad_input_is_a_one_line_error(tmp_path, corpus_file, capsys):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café crème\n".encode("latin-1"))
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    # Flags that would make a short run if the value were accepted.
    tiny_run = ["--num-steps", "1", "--corpus", str(corpus_file), "--run-dir", str(tmp_path / "r"),
                *TINY]
    cases = ((["--hidden-sizes", "128,x"], "--hidden-sizes must be positive integers"),
             (["--overlap", "50"], "0 <= --overlap < --window"),
             (["--bptt", "16", "--strategy", "mirrored"], "--bptt trains on one device"),
             ([*tiny_run, "--temperature", "nan"], "--temperature must be a finite number"),
             ([*tiny_run, "--clip-norm", "nan"], "--clip-norm must be a finite number"),
             (["--generate"], "--generate needs --run-dir"),
             (["--generate", "--run-dir", str(untrained)], "no generator in"),
             (["--generate", "--run-dir", str(tmp_path)], "is a folder that is not a cs20 run"),
             (["--corpus", str(latin1), "--run-dir", str(tmp_path / "r")], "not UTF-8"),
             ([*tiny_run, "--start-text", "¤¤"], "--start-text '¤¤' has no character"))
    for flags, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            cli.guard(main, flags)
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error
    assert not (tmp_path / "r").exists()


def test_truncated_back_propagation_trains_whole_tweets(tmp_path, corpus_file):
    results = main(["--run-dir", str(tmp_path / "bptt"), "--corpus", str(corpus_file),
                    "--num-steps", "2", "--window", "300", "--bptt", "16", "--quiet", *TINY])
    assert results["steps"] == 2 and math.isfinite(results["eval/bits_per_character"])


def test_xla_and_mixed_precision_train(tmp_path, corpus_file):
    try:
        # --vocabulary corpus: the corpus's 24 characters; of the course's seeds only
        # "Hillary" has some of them, so it alone is sampled.
        results = main(["--num-steps", "3", "--jit-compile", "--mixed-precision",
                        "--corpus", str(corpus_file), "--run-dir", str(tmp_path / "r"),
                        "--vocabulary", "corpus", *TINY])
    finally:
        keras.mixed_precision.set_global_policy("float32")  # process-wide: leave it clean
    assert results["steps"] == 3 and math.isfinite(results["eval/bits_per_character"])


def test_mirrored_on_two_logical_cpus_matches_default_strategy(tmp_path, corpus_file):
    # A clip norm below the gradient's norm, so that clipping acts. Normalising the loss
    # by each replica's own characters, or clipping each replica's gradient, moves the
    # weights by a whole Adam step (checked by breaking each on purpose).
    assert_mirrored_matches_default(
        "l11_char_rnn", tmp_path, "--num-steps", "4", "--deterministic", "--clip-norm", "0.05",
        "--corpus", str(corpus_file), *TINY, rtol=1e-4, atol=1e-7, atol_of_max=1e-4)



def test_training_windows_checkpoint_a_position_not_a_buffer(tmp_path):
    """The iterator's saved state stays small (a 73,201-window shuffle buffer made a tiny
    char-RNN's checkpoint 25 MB) and a restored iterator continues with the same batches."""
    windows = np.random.default_rng(0).integers(1, 80, size=(20000, 51)).astype(np.int32)
    dataset = data.training_dataset(windows, batch_size=64, seed=1)
    iterator = iter(dataset)
    for _ in range(3):
        next(iterator)
    path = tf.train.Checkpoint(iterator=iterator).write(str(tmp_path / "iterator"))
    expected = [next(iterator)[0].numpy() for _ in range(2)]
    assert sum(file.stat().st_size for file in tmp_path.glob("iterator*")) < 1_000_000
    restored = iter(dataset)
    tf.train.Checkpoint(iterator=restored).read(path).assert_consumed()
    for inputs in expected:
        np.testing.assert_array_equal(next(restored)[0].numpy(), inputs)


def test_training_batches_group_similar_lengths_and_trim_their_padding():
    # 8 lines of 2..40 characters, one window of 40 each; batches of 2, sorted by length
    # in runs of 2 batches (4 windows of the shuffled stream).
    lengths = [2, 40, 5, 17, 33, 3, 16, 20]
    windows = data.make_windows([list(range(1, n + 1)) for n in lengths], 40, 10)
    dataset = data.training_dataset(windows, batch_size=2, seed=3, sorted_batches=2)
    batches = [(inputs.numpy(), labels.numpy()) for inputs, labels in dataset.take(8)]
    window_lengths = [sorted(int(n) + 1 for n in data.masks(labels).numpy().sum(1))
                      for _, labels in batches]  # real characters of each window
    assert window_lengths == [[20, 40], [5, 17], [16, 33], [2, 3],  # golden, seed 3
                              [16, 33], [2, 5], [3, 17], [20, 40]]
    np.testing.assert_array_equal(sorted(batches[3][0].tolist()),  # ids 1..n, padded
                                  [[1, 2] + [0] * 13, [1, 2, 3] + [0] * 12])
    for epoch in (window_lengths[:4], window_lengths[4:]):  # every window once an epoch
        assert sorted(n for batch in epoch for n in batch) == sorted(lengths)
    for run in (window_lengths[0:2], window_lengths[2:4], window_lengths[4:6]):
        shorter, longer = sorted(run)  # the run's two shortest windows share a batch
        assert max(shorter) <= min(longer)
    # Each batch as short as its longest window allows: rounded up to 16 characters (at
    # most the window's 40), less one for the shift between inputs and labels.
    for (inputs, labels), batch in zip(batches, window_lengths, strict=True):
        assert inputs.shape[1] == labels.shape[1] == min(-(-max(batch) // 16) * 16, 40) - 1
        np.testing.assert_array_equal(inputs[:, 1:], labels[:, :-1])


def test_in_graph_bits_per_character_equal_the_per_batch_sums():
    model, _ = tiny_model()
    lines = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10, 11], [2, 2, 2, 2], [3]]  # [3]: no target
    batches = list(data.padded_lines(lines, batch_size=2))
    assert [inputs.shape[1] for inputs, _ in batches] == [2, 5]  # sorted, padded per batch
    total = count = 0.0
    for inputs, labels in batches:
        batch_total, batch_count = network.masked_loss_terms(labels, model(inputs))
        total, count = total + float(batch_total), count + float(batch_count)
    expected = total / count / math.log(2.0)
    assert count == 1 + 2 + 3 + 5
    in_graph = network.make_bits_per_character(model)(
        data.padded_lines(lines, 2))
    assert in_graph == pytest.approx(expected, rel=1e-6)
