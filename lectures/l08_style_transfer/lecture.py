# %% [markdown]
# # Lecture 8b: neural style transfer, where the only variable trained is an image
#
# Gatys et al. (2015), as in the course's assignment 2. A frozen ImageNet ConvNet turns
# pictures into feature maps ([backbone.py](backbone.py): VGG-19 if its weights are at
# hand, else SqueezeNet v1.1; the picture is mirrored 16 pixels past its edges so that the
# edge pixels are optimised like the rest). The lesson, in [model.py](model.py):
#
# 1. the Gram matrix of a layer's feature maps: which channels fire together, positions
#    summed away. That is what "style" means here;
# 2. three losses: content (one layer's maps against the photo's), style (five layers'
#    Gram matrices against the painting's), total variation (neighbours kept close);
# 3. the image as the only variable and its step: Adam moves the pixels, clipped to
#    [0, 255]. The image and Adam's moments are checkpointed, so a run resumes.
#
# Defaults for any pair of pictures. The course's losses are sums that grow with the
# pictures (a bright painting's Gram matrices are 100 times a dark photo's), so its fixed
# weights balanced them for its own pair only; elsewhere the style wiped the photo out or
# never showed. Here each loss is a share of its own size (the content loss of the
# photo's features, each style layer's of its Gram matrix, the total variation of the
# photo's own), so content weight 4, style weight 10 and tv weight 0.1 mean the same for
# every pair. The image starts from the photo, not the course's noise (which washed out
# its outlines), recoloured to the style's palette as far as the photo's outlines allow
# (`colours` "style", `model.recoloured`): colours already the style's, so the style
# loss only adds the texture. On SqueezeNet the content layer is a fine one (1/4 of the
# picture's resolution): a coarser one held only the photo's rough shapes, and a fine
# style (stars in a night sky, bricks) covered its outlines. Measured on 12 pairs by
# `benchmarks/style_transfer.py --pairs` ([docs/results.md](../../docs/results.md)), with
# SqueezeNet: VGG-19's weights were not at hand there, so its layers are the course's.
#
# Run it as a script with `python -m lectures.l08_style_transfer` (`--help` lists the
# settings), and watch the `generated` images with
# `tensorboard --logdir runs/l08_style_transfer`.

# %%
from cs20 import checkpoints, config, plots, runtime, summaries, training
from cs20.datasets import images
from lectures.l08_style_transfer import backbone, measures, model
from lectures.l08_style_transfer.config import Config
from lectures.l08_style_transfer.data import read_pictures

import keras
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"image_size": 256, "style": "guernica", "num_steps": 100}. As a script, flags set them.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)

# %% [markdown]
# ## 1. The pictures
#
# Read and checked before the run starts, so that a bad picture leaves nothing behind:
# the content photo scaled to `image_size` on its longer side, the style picture scaled
# and cropped to the photo's shape, (height, width, 3) each in [0, 255].

# %%
content_image, style_image = read_pictures(cfg)
run = runtime.start("l08_style_transfer", cfg)

# %% [markdown]
# ## 2. Style as Gram matrices: the frozen network and the targets
#
# The backbone's feature maps at one content layer and five style layers. The targets:
# the photo's content features, the style's Gram matrices, and each loss's own size
# (`model.targets`). The photo is first recoloured to the style's colours (`colours`
# "style"), so that the style loss need not repaint every pixel.

# %%
backbone_name, reason = backbone.choose_backbone(cfg.backbone, cfg.weights)
print(f"Backbone: {backbone_name} ({reason})")
layers = backbone.BACKBONE_LAYERS[backbone_name]
extractor = backbone.feature_extractor(
    backbone.build_backbone(backbone_name, cfg.weights or "default", cfg.pooling,
                            cfg.data_dir), layers)
photo = model.content_target(cfg.colours, content_image, style_image)
goal = model.targets(extractor, photo, style_image)

# %% [markdown]
# ## 3. Three losses, each a share of its own size
#
# Before training: the content layer's shape, each style layer's Gram matrix (channels x
# channels, whatever the picture's size), and the weighted losses of the first image.

# %%
weights = model.LossWeights(cfg.content_weight, cfg.style_weight, cfg.tv_weight)


def loss_terms(pixels):
    return model.losses(extractor, pixels, goal, layers, weights)


start = model.initial_image(photo, cfg.noise_ratio, cfg.seed)
first = loss_terms(start)
if not cfg.quiet:
    model.print_worked_example(extractor, goal, layers, start, first)

# %% [markdown]
# ## 4. The image is the only variable: training
#
# Its pixels and Adam's moments are all a checkpoint holds; there is no data
# (`iterator=None`). Every `summary_every` steps the image goes to TensorBoard and to
# step_NNNNN.png in the run directory.

# %%
with run.strategy.scope():
    image = model.generated_image(start)
    optimizer = training.with_loss_scaling(keras.optimizers.Adam(cfg.learning_rate))
    optimizer.build([image.pixels])
    step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
checkpoint = checkpoints.make(step, image, optimizer)
step_fn = training.compile_step(run.strategy,
                                model.make_train_step(image, optimizer, loss_terms),
                                jit_compile=cfg.jit_compile)


def save_image(current: int) -> None:
    images.save_png(image.pixels[0], run.path(f"step_{current:05d}.png"))
    summaries.images(run.writer, "generated", image.pixels / 255.0, current)


results = training.train(run, step_fn=step_fn, iterator=None, checkpoint=checkpoint,
                         step=step, on_summary=save_image,
                         schedule=training.make_schedule(cfg, steps_per_epoch=cfg.num_steps))

# %% [markdown]
# ## 5. The result
#
# How far the loss fell from the first image to the last; the grain (the result's
# high-frequency energy over the photo's) and the edge lines (each edge row's step over
# the interior's, about 1 when no edge stands out); and whether it is a transfer: the
# photo's outlines kept (edge correlation, 1: kept, 0: lost) and its colours moved to
# the style's (colour movement, 0: none, 1: all the way). Then photo | style | result at
# full resolution, to judge by eye.

# %%
last = loss_terms(image.pixels)
results.update({f"final/{name}": value for name, value in training.to_floats(last).items()})
results.update({"initial/loss": float(first["loss"]), "backbone": backbone_name,
                "final/loss_reduction": float(first["loss"] / last["loss"])})
final = image.pixels[0].numpy()  # (height, width, 3)
results["final/high_frequency_ratio"] = measures.high_frequency_ratio(final, content_image)
results["final/border_step_ratio"] = max(measures.border_steps(final).values())
results["final/edge_correlation"] = measures.edge_correlation(final, content_image)
results["final/colour_movement"] = measures.colour_movement(final, content_image, style_image)

images.save_png(image.pixels[0], run.path("final.png"))
images.save_png(tf.concat([content_image, style_image, image.pixels[0]], axis=1),
                run.path("content_style_result.png"))
print(f"Result: {run.path('final.png')} and {run.path('content_style_result.png')}")
plots.show(run.path("content_style_result.png"))

# %% [markdown]
# ## 6. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results, steps=int(step.numpy()))
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
