"""Lecture 10's settings (each one a flag: python -m lectures.l10_vae --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config
from cs20.datasets import idx


@dataclasses.dataclass(frozen=True)
class Config(config.EpochTrainConfig, idx.DatasetFlags):
    num_epochs: int = config.option(20, "Passes over the 55,000 training digits.")
    latent_dim: int = config.option(2, "Size of the latent z (2 draws the manifold; "
                                       "16, 32 or 50 fit better).")
    iwae_samples: int = config.option(100, "Samples k per digit for the importance-weighted "
                                           "test log-likelihood.")
    iwae_digits: int = config.option(10000, "Test digits for the importance-weighted "
                                            "estimate (at most 10,000).")
    fid_samples: int = config.option(10000, "Generated digits scored by FID, the scale "
                                            "lecture 9's GAN is measured on (0: no FID).",
                                     changeable=True)

    def __post_init__(self):
        super().__post_init__()
        for name in ("latent_dim", "iwae_samples", "iwae_digits"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{config.flag_name(name)} must be at least 1")
        if self.iwae_digits > 10000:
            raise ValueError("--iwae-digits must be at most 10000 (the MNIST test set)")
