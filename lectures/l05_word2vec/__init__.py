"""Lecture 5a: word2vec skip-gram with NCE loss, and the tools to manage the experiment.

The course's 04_word2vec.py trains a 50,000 x 128 embedding on text8: each word predicts
its neighbours, NCE scores each pair against 64 Zipf-drawn negatives, SGD changes only the
rows a step touched. Around it: name scopes, checkpoints and resuming (the same
--run-dir), histograms, probe words' neighbours, the projector, analogies and WordSim-353
at the end (results.json).

    python -m lectures.l05_word2vec                  # the course's settings, text8_prefix.txt
    python -m lectures.l05_word2vec --preset fast    # word2vec.c's recipe, batched: beats gensim
    python -m lectures.l05_word2vec --corpus path/to/text8.zip   # the full text8
    python -m lectures.l05_word2vec --similarity-file pairs.csv  # also scored on your own set
    python -m lectures.l05_word2vec --run-dir DIR --evaluate --vectors input  # re-score, no training
    tensorboard --logdir runs/l05_word2vec

The lesson is lecture.py (or lecture.ipynb). Next to it: data.py (the corpus, vocabulary,
pairs and rows in tf.data), model.py (the variables, NCE and negative sampling, the train
step, the vectors kept), evaluation.py (analogies, word similarity). `--help` lists what
each preset sets (typed flags win). Measured figures: docs/results.md, "Lecture 5a".
"""
