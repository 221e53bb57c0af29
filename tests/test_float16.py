"""The float16 path of --mixed-precision (what an NVIDIA GPU gets), forced on the CPU.

On a CPU `--mixed-precision` picks bfloat16 (runtime.set_precision), which needs no loss
scaling; on a GPU it is mixed_float16, where `training.with_loss_scaling` wraps the
optimizer in a LossScaleOptimizer: the loss is multiplied by 2^15 inside the tape and
`apply` divides the gradients back. Each lecture's own train step runs here for two
steps under both policies from the same weights, with plain SGD wrapped as the runs wrap
their optimizer: the update (the weights' change) and the metrics must be float32's
within float16's precision. A step that reads the gradients before `apply` (lecture 11
clips them and reports their norm) and forgets the scale is off by 2^15, and a loss
scaled outside the tape has no gradient at all. Lectures 3b and 8a share
`classification.make_train_step`, checked the same way in test_training.py; lecture 5a
refuses --mixed-precision.
"""

from __future__ import annotations

import contextlib

from cs20 import training

import keras
import numpy as np
import pytest
import tensorflow as tf

# float16's rounding moves lecture 7's gradient by up to 0.05 of its norm (the same with
# or without the loss scale; bfloat16 by 0.13), the update of two steps by up to 0.1,
# and the metrics by parts in a thousand. A gradient off by the loss scale moves the
# update by 1 (divided by 2^15) or 2^15 (multiplied), a norm likewise.
UPDATE_RTOL = 0.2
METRIC_RTOL = 0.02


@contextlib.contextmanager
def global_policy(name: str):
    """The Keras dtype policy `name` for the models built inside; float32 again after
    (the policy is process-wide)."""
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def train(policy: str, build, batches, initial=None):
    """Builds (models, optimizers, replica step) under `policy`, sets the models' weights
    to `initial` (when given) and runs the step once per batch, again from the same
    weights until no loss scale falls on the way.

    Dynamic loss scaling starts at 2^15 and halves the scale, skipping the step, while
    the gradients overflow float16: lecture 10's first 2 steps are skipped so, lecture
    8's first 5 (1 at 256 pixels). A skipped step moves nothing, so a run's updates are
    the steps that follow, at the settled scale: those are compared.

    -> (the weights before, the weights after, the metrics of each step)."""
    with global_policy(policy):
        keras.utils.set_random_seed(0)
        models, optimizers, replica_step = build()
        assert [isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
                for optimizer in optimizers] == [policy == "mixed_float16"] * len(optimizers)
        before = initial or [model.get_weights() for model in models]
        step = tf.function(replica_step)
        for _ in range(32):  # each overflow halves a scale of 2^15
            for model, weights in zip(models, before, strict=True):
                model.set_weights(weights)
            scales = loss_scales(optimizers)
            logs = [{name: float(value) for name, value in step(batch).items()}
                    for batch in batches]
            if loss_scales(optimizers) == scales:
                return before, [model.get_weights() for model in models], logs
    raise AssertionError(f"the loss scales kept falling: {loss_scales(optimizers)}")


def loss_scales(optimizers) -> list[float]:
    return [float(training.loss_scale(optimizer)) for optimizer in optimizers]


def flat(weights) -> np.ndarray:
    """All the models' weights in one vector."""
    return np.concatenate([array.ravel() for model in weights for array in model])


def assert_float16_matches_float32(build, batches) -> None:
    start, float32_after, float32_logs = train("float32", build, batches)
    _, float16_after, float16_logs = train("mixed_float16", build, batches, initial=start)
    float32_update = flat(float32_after) - flat(start)
    float16_update = flat(float16_after) - flat(start)
    assert np.linalg.norm(float32_update) > 0
    error = np.linalg.norm(float16_update - float32_update) / np.linalg.norm(float32_update)
    assert error < UPDATE_RTOL, f"float16's update is off by {error:.3g} of float32's"
    for float16_log, float32_log in zip(float16_logs, float32_logs, strict=True):
        assert float16_log.keys() == float32_log.keys()
        for name, value in float32_log.items():
            np.testing.assert_allclose(float16_log[name], value, rtol=METRIC_RTOL,
                                       atol=1e-3, err_msg=name)


def integers(rng, high: int, shape) -> np.ndarray:
    return rng.integers(1, high, shape).astype(np.int32)


def sgd(learning_rate: float = 0.1) -> keras.optimizers.Optimizer:
    """Plain gradient descent, wrapped as the runs wrap their optimizer. Not the lectures'
    Adam: Adam's update m / sqrt(v) barely depends on the gradient's scale, so it would
    hide a gradient off by 2^15; SGD's update is the gradient times the rate."""
    return training.with_loss_scaling(keras.optimizers.SGD(learning_rate))


def classifier_batches(rng, shape, num_classes: int = 3, batch_size: int = 8):
    return [(rng.uniform(size=(batch_size, *shape)).astype(np.float32),
             rng.integers(0, num_classes, batch_size)) for _ in range(2)]


def test_lecture_7_convnet_step():
    from lectures.l07_convnet import model as convnet

    def build():
        model = convnet.build_convnet(num_classes=3, dropout_rate=0.0)
        optimizer = sgd()
        return [model], [optimizer], convnet.make_train_step(model, optimizer, 8)

    assert_float16_matches_float32(build, classifier_batches(np.random.default_rng(0),
                                                             (28, 28, 1)))


def test_lecture_8_style_transfer_step(data_dir):
    from cs20.datasets import images
    from lectures.l08_style_transfer import backbone
    from lectures.l08_style_transfer import model as lecture
    from lectures.l08_style_transfer.config import Config
    content = images.resize_longer_side(
        images.load(images.locate("grace_hopper", data_dir)), 48)
    style = images.fit(images.load(images.locate("starry_night", data_dir)),
                       *content.shape[:2])
    layers = backbone.BACKBONE_LAYERS["squeezenet"]
    weights = lecture.LossWeights(Config.content_weight, Config.style_weight, Config.tv_weight)

    def build():
        extractor = backbone.feature_extractor(
            backbone.build_backbone("squeezenet", "default", "average", data_dir), layers)
        goal = lecture.targets(extractor, content, style)
        image = lecture.generated_image(lecture.initial_image(content, 0.6, seed=0))
        optimizer = sgd()
        optimizer.build([image.pixels])
        return [image], [optimizer], lecture.make_train_step(
            image, optimizer, lambda pixels: lecture.losses(extractor, pixels, goal, layers,
                                                            weights))

    assert_float16_matches_float32(build, [None] * 2)


def test_lecture_9_gan_step():
    # WGAN-GP: its gradient penalty is a gradient taken inside the step, in float16 too.
    from lectures.l09_gan import model as gan
    from lectures.l09_gan.config import Config

    cfg = Config(batch_size=8, d_steps=2, loss="wgan-gp", latent_dim=8, width=4)
    rng = np.random.default_rng(0)
    k, size = cfg.d_steps, cfg.batch_size
    batches = [{"images": rng.uniform(-1, 1, (size, k, 28, 28, 1)).astype(np.float32),
                "labels": rng.integers(0, 10, (size, k)).astype(np.int32),
                "z": rng.normal(size=(size, k + 1, cfg.latent_dim)).astype(np.float32),
                "fake_labels": rng.integers(0, 10, (size, k + 1)).astype(np.int32),
                "mix": rng.uniform(size=(size, k, 1, 1, 1)).astype(np.float32)}
               for _ in range(2)]

    def build():
        generator = gan.build_generator(cfg.latent_dim, 0, cfg.width)
        discriminator = gan.build_discriminator(0, cfg.width)
        g_optimizer, d_optimizer = sgd(0.01), sgd(0.01)
        g_optimizer.build(generator.trainable_variables)
        d_optimizer.build(discriminator.trainable_variables)
        return [generator, discriminator], [g_optimizer, d_optimizer], gan.make_train_step(
            generator, discriminator, g_optimizer, d_optimizer, cfg)
    assert_float16_matches_float32(build, batches)


def test_lecture_10_vae_step():
    from lectures.l10_vae import model as lecture

    rng = np.random.default_rng(0)
    batches = [((rng.uniform(size=(8, 28, 28, 1)) < 0.3).astype(np.float32),
                rng.normal(size=(8, 4)).astype(np.float32)) for _ in range(2)]

    def build():
        model = lecture.build_vae(latent_dim=4)
        optimizer = sgd(0.01)
        optimizer.build(model.trainable_variables)
        return [model], [optimizer], lecture.make_train_step(model, optimizer, 8)

    assert_float16_matches_float32(build, batches)


@pytest.mark.parametrize("bptt", [0, 4])
def test_lecture_11_clipped_step(bptt):
    # A clip norm below the gradient's norm (about 0.2), so that clipping acts: clipping
    # the scaled gradient at the unscaled norm, or reporting the scaled norm, is off by
    # 2^15.
    from lectures.l11_char_rnn import model as lecture

    rng = np.random.default_rng(0)
    batches = [(integers(rng, 20, (4, 12)), integers(rng, 20, (4, 12))) for _ in range(2)]

    def build():
        model, stepper = lecture.build_model(20, [8, 16])
        optimizer = sgd()
        optimizer.build(model.trainable_variables)
        step = (lecture.make_truncated_train_step(stepper, optimizer, 0.1, bptt) if bptt
                else lecture.make_train_step(model, optimizer, 0.1))
        return [model], [optimizer], step

    assert_float16_matches_float32(build, batches)


def test_lecture_12_translation_step():
    from lectures.l12_translation import model as lecture
    rng = np.random.default_rng(0)
    batches = [(integers(rng, 30, (8, 6)), integers(rng, 30, (8, 7))) for _ in range(2)]

    def build():
        model = lecture.Seq2Seq(30, 30, embedding_size=8, units=16)
        model((tf.ones([1, 2], tf.int32), tf.ones([1, 2], tf.int32)))  # create the variables
        optimizer = sgd()
        optimizer.build(model.trainable_variables)
        return [model], [optimizer], lecture.make_train_step(model, optimizer, 8)

    assert_float16_matches_float32(build, batches)
