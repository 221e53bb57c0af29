"""Lecture 10: a variational autoencoder on binarized MNIST, trained on the ELBO.

The course lists a VAE lecture but ships no code for it; this follows Kingma & Welling
(2014) and TensorFlow's convolutional VAE tutorial: an encoder gives each digit a Gaussian
q(z|x) over a small latent z, a decoder gives 784 Bernoulli logits p(x|z), and training
maximises the ELBO = log p(x|z) - KL(q(z|x) || N(0, I)) <= log p(x) through the
reparameterised z = mean + standard deviation * noise.

Before training, the lecture prints one digit's mean, standard deviation and sampled z
(--quiet leaves that out). The learning rate decays along a cosine, and the test set is
also scored with the importance-weighted bound with k samples (Burda et al. 2016), a
tighter estimate of log p(x). With --latent-dim 2 the run also draws the learnt manifold
(decoded grid of z values) and where the test digits land in latent space. TensorBoard
shows train/ and eval/ ELBO, reconstruction and KL (nats per digit), and per epoch:
inputs next to their reconstructions, samples from the prior and the manifold.

    python -m lectures.l10_vae                                   # 2-d latent, 20 epochs
    python -m lectures.l10_vae --latent-dim 50 --num-epochs 60   # 50-d, as the tutorial
    python -m lectures.l10_vae --dataset fashion_mnist          # or a folder of IDX files
    tensorboard --logdir runs/l10_vae

Look at test/elbo and test/iwae_log_likelihood in the final table (higher is better;
the IWAE bound is the tighter one) and at manifold.png. Our figures: docs/results.md
(benchmarks/vae.py).

The lesson is lecture.py (or lecture.ipynb); the encoder, decoder, ELBO and train step are
model.py, the binarized digits and their noise data.py, the test bounds and pictures
evaluation.py.
"""
