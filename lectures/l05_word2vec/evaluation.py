"""Lecture 5a's word-vector quality, on the embedding's unit rows (NumPy only: config.py
reads a --similarity-file with it before TensorFlow loads).

1. `normalized`: rows of unit length, so that a dot product is a cosine similarity;
   `nearest_neighbours` of a word by cosine;
2. `analogy_accuracy`: a : b :: c : ? answered by argmax cos(x, b - a + c) (3CosAdd) on
   Mikolov's questions-words.txt;
3. `similarity_correlation`: the Spearman correlation of cosine similarity with human
   similarity scores (WordSim-353, or a file of the user's).
"""

from __future__ import annotations

import csv
import pathlib

from cs20.datasets import sources

import numpy as np


def normalized(embedding: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so a dot product is a cosine similarity."""
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding / np.maximum(norms, 1e-12)


def nearest_neighbours(unit_embedding: np.ndarray, query_ids, count: int = 8,
                       exclude_unk: bool = True) -> np.ndarray:
    """(queries, count) ids of the most cosine-similar words, the query itself left out."""
    similarity = unit_embedding[np.asarray(query_ids)] @ unit_embedding.T  # (queries, vocab)
    similarity[np.arange(len(query_ids)), query_ids] = -np.inf
    if exclude_unk:
        similarity[:, 0] = -np.inf
    return np.argsort(-similarity, axis=1)[:, :count]


def neighbours_markdown(unit_embedding: np.ndarray, words, probe_ids) -> str:
    """One line per probe word, `**word**: neighbour, neighbour, ...` (TensorBoard text)."""
    nearest = nearest_neighbours(unit_embedding, probe_ids)
    return "\n\n".join(f"**{words[probe]}**: " + ", ".join(words[neighbour] for neighbour in row)
                       for probe, row in zip(probe_ids, nearest, strict=True))


def analogy(unit_embedding: np.ndarray, a_ids, b_ids, c_ids) -> np.ndarray:
    """a : b :: c : ?  -> (questions,) ids of argmax cos(x, b - a + c), with a, b, c and
    UNK (id 0) excluded: Mikolov's 3CosAdd, as word2vec's compute-accuracy and gensim."""
    a_ids, b_ids, c_ids = (np.asarray(ids) for ids in (a_ids, b_ids, c_ids))
    targets = unit_embedding[b_ids] - unit_embedding[a_ids] + unit_embedding[c_ids]
    similarity = targets @ unit_embedding.T  # (questions, vocab)
    rows = np.arange(len(a_ids))
    for ids in (a_ids, b_ids, c_ids, np.zeros_like(a_ids)):
        similarity[rows, ids] = -np.inf
    return np.argmax(similarity, axis=1)


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
        correct += int(np.sum(analogy(unit_embedding, a, b, c) == d))
    return {"accuracy": correct / len(ids) if len(ids) else 0.0, "covered": len(ids),
            "total": len(questions)}


def read_word_similarity(path: pathlib.Path) -> list[tuple[str, str, float]]:
    """A word-similarity file -> (word, word, score), lower-cased: one pair a line, the two
    words and the human score separated by commas (WordSim-353's csv) or tabs (SimLex-999);
    blank lines, `#` comments and a header line (its score is not a number) are skipped."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such word-similarity file")
    pairs = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = next(csv.reader([line], delimiter="\t" if "\t" in line else ","))
        if len(fields) < 3:
            raise ValueError(f"{path}, line {number}: expected word, word and score "
                             f"separated by commas or tabs, got {line!r}")
        try:
            score = float(fields[2])
        except ValueError:
            if pairs:  # only the first line may be a header
                raise ValueError(f"{path}, line {number}: the score {fields[2]!r} is not a "
                                 "number") from None
            continue
        pairs.append((fields[0].strip().lower(), fields[1].strip().lower(), score))
    if not pairs:
        raise ValueError(f"{path} has no (word, word, score) lines")
    return pairs


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


def evaluate(unit_embedding: np.ndarray, word_index: dict[str, int], data_dir=None,
             similarity_file: str = "") -> dict:
    """Both scores of an embedding with unit rows: Mikolov's analogies (questions-words.txt)
    and the Spearman correlation with WordSim-353, with how many questions each covered;
    with `similarity_file`, the correlation with that file's scores too (`similarity_file_*`)."""
    analogies = analogy_accuracy(
        unit_embedding, word_index, read_analogies(sources.resolve("questions_words", data_dir)))
    similarity = similarity_correlation(
        unit_embedding, word_index, read_word_similarity(sources.resolve("wordsim353", data_dir)))
    scores = {"analogy_accuracy": analogies["accuracy"], "analogy_covered": analogies["covered"],
              "wordsim353_spearman": similarity["spearman"],
              "wordsim353_covered": similarity["covered"]}
    if similarity_file:
        extra = similarity_correlation(unit_embedding, word_index,
                                       read_word_similarity(similarity_file))
        scores.update(similarity_file_spearman=extra["spearman"],
                      similarity_file_covered=extra["covered"])
    return scores
