"""Lecture 12's settings (each one a flag: python -m lectures.l12_translation --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(4000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(64, "Global batch size (sentence pairs).")
    learning_rate: float = config.option(2e-3, "Adam learning rate.")
    eval_every: int = config.option(1000, "Validation BLEU every N steps.")
    checkpoint_every: int = config.option(1000, "Checkpoint every N steps.")
    corpus: str = config.option("", "File of sentence pairs, 'sentence<TAB>translation' a line, "
                                    "a third column ignored, or a manythings.org zip "
                                    "(default: Tatoeba's English-French fra-eng.zip).")
    reverse: bool = config.option(False, "Translate the second column into the first "
                                         "(French -> English on the default corpus).")
    max_length: int = config.option(10, "Keep pairs with at most this many tokens a side.")
    min_count: int = config.option(2, "Words seen fewer times in training become <unk>.")
    embedding_size: int = config.option(128, "Word embedding size.")
    units: int = config.option(256, "GRU and attention units.")
    bidirectional: bool = config.option(True, "Read the source in both directions.")
    attention: str = config.option("additive", "Attention score: additive (Bahdanau) or "
                                               "multiplicative (Luong).",
                                   choices=("additive", "multiplicative"))
    dropout: float = config.option(0.2, "Dropout on embeddings and attentional vectors.")
    beam_width: int = config.option(4, "Beam width of the beam-search translations.", changeable=True)
    length_penalty: float = config.option(0.6, "Length penalty alpha of beam search (0: rank "
                                               "by log-probability alone).", changeable=True)
    validation_sentences: int = config.option(1000, "Validation sentences scored with greedy "
                                                    "BLEU at each evaluation.", changeable=True)
    translate: str = config.option(None, "Translate this sentence with the translator saved "
                                         "in --run-dir, then exit (nothing is trained or "
                                         "written).", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.beam_width < 1:
            raise ValueError(f"--beam-width must be at least 1, got {self.beam_width}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.jit_compile:
            raise ValueError("--jit-compile is not supported by l12_translation: its batches "
                             "are bucketed by length, and XLA would recompile the step for "
                             "every batch shape")
