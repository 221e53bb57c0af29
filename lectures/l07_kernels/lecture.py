# %% [markdown]
# # Lecture 7: what a convolution does, with five hand-made 3x3 kernels
#
# Before a ConvNet learns its kernels, look at a few classic ones
# ([kernels.py](kernels.py), next to this file): blur, sharpen, edge (a Laplacian), top
# Sobel (horizontal edges, lit from above) and emboss, applied to `friday.jpg` (or any
# picture, `image`) in grayscale with `tf.nn.conv2d` and in colour with
# `tf.nn.depthwise_conv2d`, which filters each channel separately. The course used
# (3, 3, 3, 3) RGB kernels that mixed the three channels into a grey picture; the
# depthwise filter is the fix. It also convolved with stride 3, shrinking the picture
# threefold; `stride` 1 (the default) keeps its size.
#
# Run it as a script with `python -m lectures.l07_kernels` (`--help` lists the settings),
# and look at the pictures under TensorBoard's Images tab
# (`tensorboard --logdir runs/l07_kernels`) or in kernels.png in the run directory.

# %%
from cs20 import config, plots, runtime, summaries
from cs20.datasets import images
from lectures.l07_kernels import kernels
from lectures.l07_kernels.config import Config

import numpy as np
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"image": "my_photo.jpg", "stride": 3}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)

# %% [markdown]
# ## 1. The picture
#
# Read and checked before the run starts, so that a bad picture leaves nothing behind:
# the file's header tells its size before anything is decoded (a huge photo would fill
# the memory). A picture whose longer side is over `max_size` (1,024 pixels) is scaled
# down first, with a message: filtering takes about 320 bytes a pixel (an 8,000 x 8,000
# photo took over 14 GB).

# %%
path, (file_height, file_width) = images.checked(cfg.image or "friday", cfg.data_dir)
image = images.load(path)  # (height, width, 3) in [0, 255]
if cfg.max_size and max(file_height, file_width) > cfg.max_size:
    image = images.resize_longer_side(image, cfg.max_size)
    print(f"{path} is {file_height}x{file_width}: filtering it scaled down to "
          f"{image.shape[0]}x{image.shape[1]} (--max-size {cfg.max_size}); at full size "
          f"it would take about {kernels.memory_gigabytes(file_height, file_width):.1f} GB "
          f"of memory")
image = image / 255.0  # in [0, 1]
run = runtime.start("l07_kernels", cfg)
print(f"Filtering {path} ({image.shape[0]}x{image.shape[1]})")

# %% [markdown]
# ## 2. Five kernels, in grayscale and in colour
#
# Row 1 of the grid is the grayscale picture (`tf.nn.conv2d`, one (3, 3, 1, 1) filter),
# row 2 the colour one (`tf.nn.depthwise_conv2d`, the same 3x3 kernel on each channel);
# the original first, then each kernel, clipped to [0, 1]. Blur and sharpen keep the
# brightness (their weights sum to 1); edge and Sobel respond only to changes (they sum
# to 0).

# %%
gray = kernels.filter_all(tf.image.rgb_to_grayscale(image), cfg.stride)  # name -> (h, w, 1)
colour = kernels.filter_all(image, cfg.stride)  # name -> (h, w, 3)
names = list(gray)
plots.image_grid([gray[name][:, :, 0] for name in names] + [colour[name] for name in names],
                 [f"{name} (gray)" for name in names] + [f"{name} (RGB)" for name in names],
                 run.path("kernels.png"), columns=len(names),
                 title=f"3x3 kernels, stride {cfg.stride}")
# TensorBoard needs one shape per batch; the original is larger when the stride is > 1.
for name in names:
    summaries.images(run.writer, f"kernels/{name}",
                     np.stack([np.repeat(gray[name], 3, axis=-1), colour[name]]), step=0)
print(f"Filtered images: {run.path('kernels.png')}")
plots.show(run.path("kernels.png"))

# %% [markdown]
# ## 3. Results, and TensorBoard
#
# Each filtered grayscale picture's mean brightness, and the picture's size (also in
# results.json in the run directory). In a notebook, TensorBoard opens below.

# %%
results = {f"gray_mean/{name}": float(values.mean()) for name, values in gray.items()}
results.update({"image/height": int(image.shape[0]), "image/width": int(image.shape[1]),
                "image/file_height": file_height, "image/file_width": file_width})
results = run.finish(results)
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
