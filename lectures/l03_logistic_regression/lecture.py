# %% [markdown]
# # Lecture 3b: logistic (softmax) regression on MNIST
#
# The course flattened each 28x28 digit to 784 pixels and trained one dense layer with
# Adam (learning rate 0.01, batch 128, 30 epochs) and reached about 0.91. Here the input
# pipeline is tf.data, the step is a tf.function, and the learning rate decays to 0 along
# a cosine (a constant 0.01 keeps jumping around the minimum: try `decay="constant"`). The model is [model.py](model.py), next to this file; its train
# step is the one lecture 8a and exercise e02 share (cs20/classification.py).
#
# Run it as a script with `python -m lectures.l03_logistic_regression` (`--help` lists
# the settings), and watch it with `tensorboard --logdir runs/l03_logistic_regression`:
# train/loss, train/accuracy and eval/accuracy (a fraction, not a count of correct
# digits).

# %%
from cs20 import classification, config, plots, runtime
from cs20.datasets import mnist
from lectures.l03_logistic_regression import model as logistic
from lectures.l03_logistic_regression.config import Config

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_epochs": 1, "dataset": "fashion_mnist"}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l03_logistic_regression", cfg)

# %% [markdown]
# ## 1. The data
#
# 55k train / 5k validation / 10k test digits for MNIST (`dataset` chooses another set,
# a folder of IDX files or of TFRecord shards), pixels scaled to [0, 1] and flattened to
# batches of (batch, 784).

# %%
splits = mnist.load_splits(cfg.data_dir, dataset=cfg.dataset,
                           skip_bad_shards=cfg.skip_bad_shards)
train_data = mnist.make_dataset(splits.train, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                repeat=True, flatten=True)
validation_data = mnist.make_dataset(splits.validation, 1000, flatten=True)
test_data = mnist.make_dataset(splits.test, 1000, flatten=True)
steps_per_epoch = -(-len(splits.train) // cfg.batch_size)

# %% [markdown]
# ## 2. Training
#
# One dense layer from 784 pixels to one logit per class (`logistic.build`); the softmax
# lives in the loss. The recipe the MNIST classifiers share compiles the train step, runs
# the loop, checkpoints, evaluates on the validation digits every epoch and on the test
# digits at the end.

# %%
model, results = classification.train_and_evaluate(
    run, cfg, lambda: logistic.build(num_classes=splits.num_classes), train_data=train_data,
    validation_data=validation_data, test_data=test_data, steps_per_epoch=steps_per_epoch)

# %% [markdown]
# ## 3. What the model learned
#
# Each class's 784 weights, seen as an image: the template the model matches a digit
# against (blue where ink raises the class's logit, red where it lowers it).

# %%
kernel = model.get_layer("logits").kernel.numpy()  # (784, classes)
plots.image_grid(kernel.T.reshape(-1, 28, 28), list(splits.class_names),
                 run.path("weights.png"), columns=5, title="Weights per class",
                 cmap="RdBu", symmetric=True)
print(f"Weights per class: {run.path('weights.png')}")
plots.show(run.path("weights.png"))

# %% [markdown]
# ## 4. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results)
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
