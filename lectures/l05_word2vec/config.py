"""Lecture 5a's settings (each one a flag: python -m lectures.l05_word2vec --help)."""

from __future__ import annotations

import dataclasses
import typing

from cs20 import config
from lectures.l05_word2vec import evaluation

EMBEDDING_INITS = ("course", "word2vec")
KEPT_VECTORS = ("input", "input+output")


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    # fast: word2vec.c's recipe in batches. A frequent word's rows are divided by their
    # count^0.75 (summed, 0.025 a pair diverged); 48 negatives a row of 64 centers; input +
    # output rows kept (analogies 6.2% -> 8.2% on the same weights: docs/results.md).
    PRESETS: typing.ClassVar[dict] = {"course": {}, "fast": {
        "loss": "negative_sampling", "skip_window": 5, "subsample": 1e-3, "row_power": 0.75,
        "embedding_init": "word2vec", "learning_rate_decay": "linear", "batch_size": 1024,
        "learning_rate": 250.0, "num_sampled": 48, "num_steps": 0, "num_epochs": 5,
        "vectors": "input+output"}}
    preset: str = config.option("course", "Named settings.", choices=tuple(PRESETS))
    num_steps: int = config.option(100_000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(128, "Global batch: pairs, or centers in rows of 64.")
    learning_rate: float = config.option(1.0, "SGD learning rate (the course's 1.0).")
    learning_rate_decay: str = config.option("constant", "Or linear to 0.",
                                             choices=("constant", "linear"))
    corpus: str = config.option("text8_prefix", "A data file's name, or a path (text8.zip).")
    vocab_size: int = config.option(50_000, "Vocabulary size, UNK included.")
    embedding_size: int = config.option(128, "Embedding dimension.")
    embedding_init: str = config.option("course", "course: uniform [0, 1) (all in one corner); "
                                        "word2vec: +-0.5/dim.", choices=EMBEDDING_INITS)
    skip_window: int = config.option(1, "Context up to a random 1..N words on each side.")
    subsample: float = config.option(0.0, "Subsampling threshold t of frequent words (0: off).")
    num_sampled: int = config.option(64, "NCE's negatives a batch; negative_sampling's a row.")
    loss: str = config.option("nce", "Sampled loss.", choices=("nce", "negative_sampling"))
    negatives_per_pair: float = config.option(5.0, "negative_sampling's k per pair.")
    row_power: float = config.option(0.0, "Divide the rows that update one word by (their "
                                          "number in the batch)^P: 0 sums them, 1 averages.")
    vectors: str = config.option("input", "The vectors kept (neighbours, evaluation, projector): "
                                 "input rows, or input + output rows.",
                                 choices=KEPT_VECTORS, changeable=True)
    similarity_file: str = config.option("", "Also score your own word-similarity file: word, "
                                         "word, human score a line (commas or tabs).",
                                         changeable=True)
    evaluate: bool = config.option(False, "Score the vectors of --run-dir's newest checkpoint "
                                          "(--vectors, --similarity-file); no training.",
                                   changeable=True)
    summary_every: int = config.option(5000, "Loss, histograms and neighbours every N steps.")
    checkpoint_every: int = config.option(5000, "Checkpoint every N steps.")
    num_visualize: int = config.option(3000, "Words in the projector.", changeable=True)
    probe_words: str = config.option("one,king,three,france,computer,war,music,government",
                                     "Words whose neighbours are printed.", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.mixed_precision:
            raise ValueError("--mixed-precision does not apply to word2vec: logits need float32")
        if not 0.0 <= self.row_power <= 1.0:
            raise ValueError(f"--row-power must be in [0, 1] (0: sum, 1: mean), got {self.row_power}")
        if self.similarity_file:  # read now: a bad file would otherwise fail after training
            evaluation.read_word_similarity(self.similarity_file)
        if self.vocab_size < self.num_sampled:
            raise ValueError(f"--vocab-size {self.vocab_size} is smaller than --num-sampled "
                             f"{self.num_sampled}; raise --vocab-size or lower --num-sampled")
