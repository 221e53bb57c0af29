"""Lecture 11's settings (each one a flag: python -m lectures.l11_char_rnn --help)."""

from __future__ import annotations

import dataclasses
import typing

from cs20 import config


def hidden_sizes(text: str) -> tuple[int, ...]:
    """--hidden-sizes "128,256" -> (128, 256); anything else is a one-line error."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--hidden-sizes must be positive integers like 128,256, got {text!r}")
    return sizes


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    # fast (the default): learning rate 0.01, which beat 3e-3 in every run we measured
    # (docs/results.md, benchmarks/char_rnn.py).
    PRESETS: typing.ClassVar[dict] = {
        "fast": {},
        "course": {"learning_rate": 3e-3},
    }
    preset: str = config.option("fast", "Named settings.", choices=tuple(PRESETS))
    num_steps: int = config.option(6000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(64, "Global batch size (windows).")
    learning_rate: float = config.option(0.01, "Adam learning rate at step 0 (the course: "
                                               "3e-4, constant).")
    decay_rate: float = config.option(0.1, "Exponential decay: the learning rate is multiplied "
                                           "by this over the whole run (1: constant).")
    clip_norm: float = config.option(5.0, "Clip the gradient's global norm to this.")
    eval_every: int = config.option(1000, "Validation bits/character and samples every N steps.")
    checkpoint_every: int = config.option(1000, "Checkpoint every N steps.")
    corpus: str = config.option("", "Text file to learn, one sequence per line "
                                    "(default: trump_tweets.txt).")
    vocabulary: str = config.option("course", "Characters: the course's 86 or every character "
                                              "of the corpus.", choices=("course", "corpus"))
    window: int = config.option(50, "Characters per training window.")
    overlap: int = config.option(25, "Characters shared by neighbouring windows.")
    bptt: int = config.option(0, "Truncated back-propagation: read each batch in pieces of at "
                                 "most N characters, the GRU states carried from piece to "
                                 "piece, one update per piece; one device (0: off).")
    hidden_sizes: str = config.option("128,256", "Units of each stacked GRU, comma-separated.")
    dropout: float = config.option(0.0, "Dropout between the GRUs and before the output.")
    end_text: str = config.option("_E_", "Samples stop after this text (trump_tweets.txt's "
                                         "end-of-tweet marker; '': never).")
    temperature: float = config.option(0.8, "Sampling temperature (0: greedy).", changeable=True)
    length: int = config.option(200, "Characters generated per sample.", changeable=True)
    start_text: str = config.option("", "Seed of the samples (default: the course's 11 seeds; with "
                                        "--corpus, its first validation words).", changeable=True)
    generate: bool = config.option(False, "Print samples from the generator saved in "
                                          "--run-dir; no training.", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.window < 2 or not 0 <= self.overlap < self.window:
            raise ValueError(f"need --window >= 2 and 0 <= --overlap < --window, got "
                             f"{self.window} and {self.overlap}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.decay_rate <= 1.0:
            raise ValueError(f"--decay-rate must be in (0, 1], got {self.decay_rate}")
        if self.bptt and self.strategy != "default":  # tf.distribute cannot all-reduce in a loop
            raise ValueError("--bptt trains on one device: use it with --strategy default")
        if not self.clip_norm > 0:
            raise ValueError(f"--clip-norm must be positive, got {self.clip_norm}")
        hidden_sizes(self.hidden_sizes)  # a malformed list: an error now
