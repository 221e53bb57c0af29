"""Lecture 9's settings (each one a flag: python -m lectures.l09_gan --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(5000, "Training steps (each: --d-steps discriminator "
                                         "updates, one generator update).", changeable=True)
    batch_size: int = config.option(64, "Real digits per discriminator update (global).")
    learning_rate: float = config.option(2e-4, "Adam learning rate of both networks.")
    beta1: float = config.option(0.5, "Adam's first-moment decay (DCGAN: 0.5; WGAN-GP: 0).")
    loss: str = config.option("non-saturating", "The adversarial loss.",
                              choices=("non-saturating", "wgan-gp"))
    d_steps: int = config.option(1, "Discriminator updates per generator update.")
    gp_weight: float = config.option(10.0, "Weight of the WGAN-GP gradient penalty.")
    latent_dim: int = config.option(64, "Size of the noise z.")
    width: int = config.option(32, "Channels of D's first and G's last hidden layer "
                                   "(twice as many in the other one).")
    conditional: bool = config.option(False, "Give both networks the digit label.")
    eval_every: int = config.option(500, "Sample grid and FID every N steps.", changeable=True)
    checkpoint_every: int = config.option(500, "Checkpoint every N steps.", changeable=True)
    fid_samples: int = config.option(10000, "Generated digits scored by FID "
                                     "(0: no FID).", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        for name in ("d_steps", "latent_dim", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{config.flag_name(name)} must be at least 1")
        if self.beta1 >= 1.0:  # negative values are refused for every number
            raise ValueError(f"--beta1 must be in [0, 1), got {self.beta1}")
