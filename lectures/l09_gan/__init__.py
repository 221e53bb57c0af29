"""Lecture 9: a generative adversarial network (DCGAN) on MNIST, scored by FID.

A generator G turns noise z ~ N(0, I) into digits; a discriminator D tells them from real ones
(Goodfellow et al. 2014). Each has its own Adam: a step teaches D to say "real" to digits and
"fake" to G(z), then G to make D say "real". Both are a small DCGAN (Radford et al. 2016).

- `--loss non-saturating` (default): D minimises the real/fake cross-entropy, G minimises
  -log D(G(z)) (not log(1 - D(G(z))), whose gradient vanishes while D wins).
- `--loss wgan-gp` (Gulrajani et al. 2017): D is a critic whose score gap estimates the
  Wasserstein distance, kept 1-Lipschitz by a penalty on its gradient norm between real
  and fake digits (a nested GradientTape); usually with `--d-steps 5 --beta1 0`.

    python -m lectures.l09_gan                  # 5,000 steps of 64 digits
    python -m lectures.l09_gan --conditional    # G and D also take the digit: a row per digit
    tensorboard --logdir runs/l09_gan

A GAN has no likelihood; like lecture 10's VAE it is scored by FID, the Fréchet distance between
lecture 7's ConvNet features of samples and of test digits (fid.py). Look at train/d_loss and
train/g_loss (neither goes to 0 while the game is balanced), the real and fake accuracies (well
below 1), the `samples` image (same z at each evaluation), eval/fid falling, eval/modes_covered
at 10, samples.png, interpolation.png. Our figures: docs/results.md.

The lesson is lecture.py (or lecture.ipynb); the networks, the gradient penalty and the train
step are model.py, what one step reads data.py, FID on lecture 7's ConvNet fid.py.
"""
