"""Lecture 11: a character-level RNN that writes tweets.

    python -m lectures.l11_char_rnn                       # trump_tweets.txt
    python -m lectures.l11_char_rnn --preset course       # learning rate 3e-3
    python -m lectures.l11_char_rnn --corpus my_text.txt --vocabulary corpus
    python -m lectures.l11_char_rnn --run-dir runs/l11_char_rnn/DIR --generate --start-text "We will"
    tensorboard --logdir runs/l11_char_rnn

Look at eval/bits_per_character (lower is better; the unigram distribution scores 4.7)
and at the samples turning from noise into tweets. The learning rate starts at 0.01
(`--preset fast`, the default): it beat 3e-3 (`--preset course`) in every run we
measured (docs/results.md, benchmarks/char_rnn.py).

The lesson is lecture.py (or lecture.ipynb); the network, its loss and train steps are
model.py, the character windows data.py, sampling and the saved generator generate.py.
"""
