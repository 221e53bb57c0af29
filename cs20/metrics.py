"""Evaluation metrics shared by the lectures."""

from __future__ import annotations

import collections
import csv
import math
import pathlib
from collections.abc import Sequence

from cs20.models import word2vec

import numpy as np

# --- Word embeddings (lecture 5): analogy accuracy, similarity correlation ---------------


def read_analogies(path: pathlib.Path) -> list[tuple[str, str, str, str]]:
    """Mikolov's questions-words.txt -> (a, b, c, d) lower-cased, section lines skipped."""
    questions = []
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith(":") or not line.strip():
            continue
        a, b, c, d = line.lower().split()
        questions.append((a, b, c, d))
    return questions


def analogy_accuracy(unit_embedding: np.ndarray, word_index: dict[str, int], questions,
                     batch_size: int = 512) -> dict:
    """Fraction of a : b :: c : d answered d by argmax cos(x, b - a + c) (3CosAdd).

    `unit_embedding` has unit rows; a, b and c are never the answer, nor is id 0 (UNK).
    Only questions whose four words are all in the vocabulary count (`covered`); the
    accuracy is over those, as word2vec's compute-accuracy and gensim report it.
    """
    ids = np.array([[word_index[word] for word in question] for question in questions
                    if all(word_index.get(word, 0) > 0 for word in question)],
                   np.int64).reshape(-1, 4)  # (covered, 4)
    correct = 0
    for start in range(0, len(ids), batch_size):
        a, b, c, d = ids[start:start + batch_size].T
        correct += int(np.sum(word2vec.analogy(unit_embedding, a, b, c) == d))
    return {"accuracy": correct / len(ids) if len(ids) else 0.0, "covered": len(ids),
            "total": len(questions)}


def read_word_similarity(path: pathlib.Path) -> list[tuple[str, str, float]]:
    """WordSim-353 csv (header `Word 1,Word 2,Human (mean)`) -> (word, word, score)."""
    with open(path, encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))[1:]
    return [(first.lower(), second.lower(), float(score)) for first, second, score in rows]


def ranks(values) -> np.ndarray:
    """1-based ranks; tied values share the mean of their ranks (as scipy.stats.rankdata)."""
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    result = np.empty(len(values))
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        result[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(first, second) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks."""
    first_ranks, second_ranks = ranks(first), ranks(second)
    return float(np.corrcoef(first_ranks, second_ranks)[0, 1])


def similarity_correlation(unit_embedding: np.ndarray, word_index: dict[str, int],
                           pairs) -> dict:
    """Spearman correlation of cosine similarity with human scores, on covered pairs."""
    covered = [(word_index[first], word_index[second], score) for first, second, score in pairs
               if word_index.get(first, 0) > 0 and word_index.get(second, 0) > 0]
    if len(covered) < 2:
        return {"spearman": 0.0, "covered": len(covered), "total": len(pairs)}
    first_ids, second_ids, scores = (np.array(column) for column in zip(*covered, strict=True))
    cosines = np.sum(unit_embedding[first_ids] * unit_embedding[second_ids], axis=1)
    return {"spearman": spearman(cosines, scores), "covered": len(covered), "total": len(pairs)}


# --- BLEU (lecture 12): corpus BLEU-4 and smoothed sentence BLEU ----------------------------
#
# `corpus_bleu` is BLEU-4 as Papineni et al. (2002) define it: n-gram precisions clipped by
# the reference counts and pooled over the whole corpus, their geometric mean, times a
# brevity penalty for a corpus shorter than its references. A sentence can have several
# references (Tatoeba often has several translations of one sentence). `sentence_bleu` adds
# one to every n-gram count above unigrams (Lin and Och 2004), so that one sentence without
# a matching 4-gram does not score 0: it is for showing examples, not for reporting.


def ngram_counts(tokens: Sequence[str], order: int) -> collections.Counter:
    return collections.Counter(tuple(tokens[i:i + order])
                               for i in range(len(tokens) - order + 1))


def _bleu_statistics(references: Sequence[Sequence[str]], hypothesis: Sequence[str],
                     max_order: int) -> tuple[list[int], list[int], int]:
    """(clipped matches per order, candidate n-grams per order, closest reference length)."""
    matches, totals = [], []
    for order in range(1, max_order + 1):
        candidate = ngram_counts(hypothesis, order)
        # An n-gram counts at most as often as it appears in any single reference.
        most = collections.Counter()
        for reference in references:
            most |= ngram_counts(reference, order)
        matches.append(sum(min(count, most[gram]) for gram, count in candidate.items()))
        totals.append(max(len(hypothesis) - order + 1, 0))
    # The reference length closest to the hypothesis' (the shorter one on a tie).
    closest = min((abs(len(reference) - len(hypothesis)), len(reference))
                  for reference in references)[1]
    return matches, totals, closest


def _combine(matches, totals, hypothesis_length, reference_length, smooth: bool) -> float:
    if hypothesis_length == 0:
        return 0.0
    log_precision = 0.0
    for order, (matched, total) in enumerate(zip(matches, totals, strict=True), start=1):
        if smooth and order > 1:
            matched, total = matched + 1, total + 1
        if matched == 0 or total == 0:
            return 0.0
        log_precision += math.log(matched / total) / len(matches)
    brevity = 1.0 if hypothesis_length > reference_length else \
        math.exp(1.0 - reference_length / hypothesis_length)
    return brevity * math.exp(log_precision)


def corpus_bleu(references: Sequence[Sequence[Sequence[str]]],
                hypotheses: Sequence[Sequence[str]], max_order: int = 4) -> float:
    """BLEU in [0, 1]: `references[i]` is the list of reference token lists of
    `hypotheses[i]` (a token list)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference sets")
    if any(not reference_set for reference_set in references):
        raise ValueError("every hypothesis needs at least one reference")
    matches, totals = [0] * max_order, [0] * max_order
    hypothesis_length = reference_length = 0
    for reference_set, hypothesis in zip(references, hypotheses, strict=True):
        sentence_matches, sentence_totals, closest = _bleu_statistics(
            reference_set, hypothesis, max_order)
        matches = [a + b for a, b in zip(matches, sentence_matches, strict=True)]
        totals = [a + b for a, b in zip(totals, sentence_totals, strict=True)]
        hypothesis_length += len(hypothesis)
        reference_length += closest
    return _combine(matches, totals, hypothesis_length, reference_length, smooth=False)


def sentence_bleu(references: Sequence[Sequence[str]], hypothesis: Sequence[str],
                  max_order: int = 4) -> float:
    """Smoothed BLEU of one hypothesis (for display next to example translations)."""
    if not references:
        raise ValueError("sentence_bleu needs at least one reference")
    matches, totals, closest = _bleu_statistics(references, hypothesis, max_order)
    return _combine(matches, totals, len(hypothesis), closest, smooth=True)
