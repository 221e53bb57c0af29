"""Lecture 12: neural machine translation with attention, beam search and BLEU.

English -> French on Tatoeba's pairs (up to 10 tokens a side; --reverse: French -> English;
--corpus: any other parallel file). A bidirectional GRU encoder, a GRU decoder and
attention (additive, Bahdanau et al. 2015, or multiplicative, Luong et al. 2015), trained
with teacher forcing; the test set is translated greedily and with beam search and scored
with BLEU-4 against every reference of a sentence. The run exports a SavedModel that
translates a string; `--translate` uses it and neither trains nor writes anything.

    python -m lectures.l12_translation
    python -m lectures.l12_translation --corpus deu.txt --reverse     # German -> English
    python -m lectures.l12_translation --run-dir runs/l12_translation/DIR --translate "I am cold."
    tensorboard --logdir runs/l12_translation

The lesson is lecture.py (or lecture.ipynb). Next to it: data.py (the sentence pairs,
tokens, vocabularies, batches), attention.py, model.py (the encoder-decoder, its loss and
train step), decoding.py (greedy, beam search, the SavedModel translator), bleu.py.
Look at eval/bleu, then test/bleu_greedy against test/bleu_beam4 (higher is better), the
example translations and attention.png. Our figures: docs/results.md, "Lecture 12".
"""
