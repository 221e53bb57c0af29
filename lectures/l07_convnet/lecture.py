# %% [markdown]
# # Lecture 7: a ConvNet on MNIST
#
# Two convolution + max-pool blocks learn local stroke detectors; a dense layer of 1,024
# units with dropout combines them into digits. The network and its train step are in
# [model.py](model.py), next to this file; here we load the digits, look at one of them
# going through the layers, train with the shared loop (evaluated every epoch) and look
# at the digits the model still gets wrong.
#
# The `training` flag is where dropout lives: it drops units only while training. The
# course's low-level version also dropped units when it measured test accuracy (a noisy,
# pessimistic figure), and its tf.layers version never dropped any (it did not pass
# `training` to the layer). Adam's learning rate decays to 0 along a cosine, which gets
# further in far fewer epochs than the course's 25-30.
#
# Run it as a script with `python -m lectures.l07_convnet` (`--help` lists the settings),
# and watch it with `tensorboard --logdir runs/l07_convnet`: train/loss, eval/accuracy
# and test/accuracy (fractions, not the course's counts of correct digits), a histogram
# of every weight, the misclassified test digits and the confusion matrix.

# %%
from cs20 import classification, config, plots, runtime, summaries
from cs20.datasets import mnist
from lectures.l07_convnet.config import Config
from lectures.l07_convnet.model import (
    build_convnet,
    make_train_step,
    misclassified,
    print_worked_example,
)

import numpy as np

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_epochs": 1, "dataset": "fashion_mnist"}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l07_convnet", cfg)

# %% [markdown]
# ## 1. The data
#
# 55k train / 5k validation / 10k test digits for MNIST (`dataset` chooses another set,
# a folder of IDX files or of TFRecord shards), in batches of (batch, 28, 28, 1) in [0, 1].

# %%
splits = mnist.load_splits(cfg.data_dir, dataset=cfg.dataset,
                           skip_bad_shards=cfg.skip_bad_shards)
train_data = mnist.make_dataset(splits.train, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                repeat=True)
validation_data = mnist.make_dataset(splits.validation, 1000)
test_data = mnist.make_dataset(splits.test, 1000)
steps_per_epoch = -(-len(splits.train) // cfg.batch_size)
print(f"{len(splits.train):,} training digits, {steps_per_epoch} batches per epoch")

# %% [markdown]
# ## 2. One digit through the ConvNet
#
# Each layer's output shape and parameter count, and what dropout does with
# training=True (the train step) and training=False (evaluation).

# %%
if not cfg.quiet:
    digit, label = mnist.preprocess(splits.test.images[:1], splits.test.labels[:1])
    print_worked_example(build_convnet(num_classes=splits.num_classes,
                                       dropout_rate=cfg.dropout),
                         digit, splits.class_names[int(label[0])], cfg.seed)

# %% [markdown]
# ## 3. Training
#
# `make_train_step` (model.py) is the lecture's step; the recipe the MNIST classifiers
# share compiles it, runs the loop, checkpoints, evaluates on the validation digits every
# epoch and on the test digits at the end. Every weight's histogram goes to TensorBoard.

# %%
def log_weights(model, step):
    summaries.histograms(run.writer, model.trainable_variables, step, prefix="weights/")


model, results = classification.train_and_evaluate(
    run, cfg, lambda: build_convnet(num_classes=splits.num_classes, dropout_rate=cfg.dropout), make_train_step=make_train_step, train_data=train_data,
    validation_data=validation_data, test_data=test_data, steps_per_epoch=steps_per_epoch,
    on_summary=log_weights)

# %% [markdown]
# ## 4. Where the model still goes wrong
#
# The misclassified digits themselves, and which classes it mixes up.

# %%
labels, predictions = classification.predict(classification.make_eval_step(model), test_data)
step = results["steps"]
images, titles = misclassified(splits.test.images, labels, predictions,
                               cfg.max_misclassified, splits.class_names)
if len(images):
    plots.image_grid(images, titles, run.path("misclassified.png"), columns=8,
                     title=f"{int(np.sum(predictions != labels))} misclassified test images "
                           "(first shown): predicted (true)")
    summaries.png_file(run.writer, "test/misclassified", run.path("misclassified.png"), step)
    plots.show(run.path("misclassified.png"))
matrix = np.zeros((splits.num_classes, splits.num_classes), np.int64)  # (true, predicted)
np.add.at(matrix, (labels, predictions), 1)
plots.confusion_matrix(matrix, run.path("confusion_matrix.png"),
                       title=f"Test confusion matrix (accuracy {results['test/accuracy']:.4f})",
                       class_names=list(splits.class_names))
summaries.png_file(run.writer, "test/confusion_matrix", run.path("confusion_matrix.png"), step)
plots.show(run.path("confusion_matrix.png"))
print(f"Misclassified images and confusion matrix: {run.path('misclassified.png')}, "
      f"{run.path('confusion_matrix.png')}")

# %% [markdown]
# ## 5. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results)
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
