"""BLEU (lecture 12): corpus BLEU-4 and smoothed sentence BLEU.

`corpus_bleu` is BLEU-4 as Papineni et al. (2002) define it: n-gram precisions clipped by
the reference counts and pooled over the whole corpus, their geometric mean, times a
brevity penalty for a corpus shorter than its references. A sentence can have several
references (Tatoeba often has several translations of one sentence). `sentence_bleu` adds
one to every n-gram count above unigrams (Lin and Och 2004), so that one sentence without
a matching 4-gram does not score 0: it is for showing examples, not for reporting.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence


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
