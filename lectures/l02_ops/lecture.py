# %% [markdown]
# # Lectures 1-2: TensorFlow's ops, variables, tf.function, and the lazy-loading pitfall
#
# The course's first lectures build graphs and run them in a Session. In TensorFlow 2 ops
# run eagerly, and tf.function is what builds a graph. This lesson walks through:
#
# 1. constants and fills, linspace / range, random ops (seeded);
# 2. the division family on integers: `//`, divide, truediv, floordiv, truncatediv
#    (they differ on negative numbers), and realdiv, which refuses integers;
# 3. add_n, multiply (element-wise) versus tensordot (a dot product);
# 4. dtypes and NumPy interop;
# 5. Variables: assign, assign_add, assign_sub;
# 6. tf.function with an input_signature: TF2's placeholder + feed_dict;
# 7. lazy loading: a function that builds its add op once, versus one that builds a new
#    one on every call (10 calls: 1 add op versus 10, and TensorFlow's retracing warning);
#    the graph of the well-behaved function goes to TensorBoard's Graphs tab.
#
# The division family and the lazy-loading demonstration are in [ops.py](ops.py), next
# to this file. Run it as a script with `python -m lectures.l02_ops` (`--help` lists the
# settings), and open the graph with `tensorboard --logdir runs/l02_ops`.
#
# Our runs' figures are in [docs/results.md](../../docs/results.md).

# %%
from cs20 import config, runtime, summaries
from lectures.l02_ops.config import Config
from lectures.l02_ops.ops import division_family, lazy_loading, show

import numpy as np
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g. {"num_calls": 3}.
# As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l02_ops", cfg)

# %% [markdown]
# ## 1. Constants, fills, sequences and random numbers
#
# A random generator seeded once gives the same numbers on every run.

# %%
print("Constants, fills and sequences:")
show("tf.constant([[0, 1], [2, 3]])", tf.constant([[0, 1], [2, 3]]))
show("tf.zeros([2, 3], tf.int32)", tf.zeros([2, 3], tf.int32))
show("tf.ones_like([[0, 1], [2, 3]])", tf.ones_like([[0, 1], [2, 3]]))
show("tf.fill([2, 3], 8)", tf.fill([2, 3], 8))
show("tf.linspace(10.0, 13.0, 4)", tf.linspace(10.0, 13.0, 4))
show("tf.range(3, 18, 3)", tf.range(3, 18, 3))
print("Random ops (a generator seeded once gives the same numbers every run):")
generator = tf.random.Generator.from_seed(cfg.seed)
show("generator.normal([3])", generator.normal([3]))
show("generator.truncated_normal([3])", generator.truncated_normal([3]))
show("generator.uniform([3], 0, 10, tf.int32)", generator.uniform([3], 0, 10, tf.int32))
show("tf.random.stateless_categorical", tf.random.stateless_categorical(
    tf.math.log([[0.5, 0.5]]), 5, seed=[cfg.seed, 0]))

# %% [markdown]
# ## 2. Dividing integers
#
# A (3, 2) matrix divided by a (2,) vector, broadcast over the rows. The division ops
# agree on positive numbers and part ways on negative ones.

# %%
numerator = tf.constant([[0, 1], [2, 3], [-3, -4]])  # (3, 2) int32
denominator = tf.constant([2, 2])  # (2,) broadcast over rows
print("Division of [[0, 1], [2, 3], [-3, -4]] by [2, 2]:")
for name, value in division_family(numerator, denominator).items():
    show(name, value)
print("  floordiv rounds towards -inf (-3 // 2 = -2), truncatediv towards 0 (-1).")

# %% [markdown]
# ## 3. Sums and products
#
# `tf.multiply` multiplies element by element; `tf.tensordot` over one axis is the dot
# product.

# %%
a, b = tf.constant([10, 20]), tf.constant([2, 3])
print("Sums and products:")
show("tf.add_n([a, b, b])", tf.add_n([a, b, b]))
show("tf.multiply(a, b)  (element-wise)", tf.multiply(a, b))
show("tf.tensordot(a, b, 1)  (dot product)", tf.tensordot(a, b, 1))

# %% [markdown]
# ## 4. dtypes and NumPy
#
# TensorFlow's dtypes map to NumPy's, NumPy arrays become tensors and back, and a cast to
# an integer truncates towards 0.

# %%
print("dtypes and NumPy:")
show("tf.int32.as_numpy_dtype == np.int32", tf.int32.as_numpy_dtype == np.int32)
show("tf.ones([2, 2], np.float32).dtype", tf.ones([2, 2], np.float32).dtype.name)
show("tf.constant(np.arange(3)).numpy()", tf.constant(np.arange(3)).numpy())
show("tf.cast([1.7, -1.7], tf.int32)", tf.cast([1.7, -1.7], tf.int32))

# %% [markdown]
# ## 5. Variables
#
# A tensor is a value; a tf.Variable keeps state between calls, changed in place by its
# assign methods.

# %%
print("Variables keep state between calls:")
weight = tf.Variable(10)
weight.assign(100)
show("weight.assign(100)", weight)
weight.assign_add(10)
show("weight.assign_add(10)", weight)
weight.assign_sub(2)
show("weight.assign_sub(2)", weight)
doubled = tf.Variable(2)
for _ in range(3):
    doubled.assign(2 * doubled)
show("assign(2 * v) three times, from 2", doubled)
results = {"variables/weight": int(weight.numpy()), "variables/doubled": int(doubled.numpy())}

# %% [markdown]
# ## 6. Placeholders become a tf.function's input signature
#
# TF1 fed a placeholder through `feed_dict`; in TF2 a tf.function with an input signature
# is one graph, fed any tensor of that shape and dtype, and it refuses any other.

# %%
print("tf.function with an input_signature (TF2's placeholder + feed_dict):")


# A 'placeholder' of shape [3]: one graph, fed any float32 vector of length 3.
@tf.function(input_signature=[tf.TensorSpec(shape=[3], dtype=tf.float32)])
def add_five(values):
    return values + tf.constant([5.0, 5.0, 5.0])


show("add_five([1, 2, 3])", add_five(tf.constant([1.0, 2.0, 3.0])))
show("add_five([10, 20, 30])", add_five(tf.constant([10.0, 20.0, 30.0])))
try:
    add_five(tf.constant([1.0, 2.0]))
except (TypeError, ValueError) as error:
    show("add_five([1, 2])", f"refused: {type(error).__name__}")

# %% [markdown]
# ## 7. Lazy loading
#
# Python code inside a tf.function runs only while TensorFlow traces it into a graph.
# `normal` takes tensors and is traced once; `lazy` takes a Python float, and each new
# value means a new trace with a new add op, as the course's `tf.add` inside the training
# loop added a node to the graph every step. The graph of `normal` goes to TensorBoard.

# %%
figures, normal = lazy_loading(cfg.num_calls)
results.update(figures)
node_count = summaries.trace_graph(run.writer, normal, tf.constant(1.0), tf.constant(2.0),
                                   name="normal_add")
print(f"Graph of `normal` ({node_count} ops) written for TensorBoard's Graphs tab.")
results["graph/normal_ops"] = node_count

# %% [markdown]
# ## 8. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below (the Graphs tab holds `normal`'s graph).

# %%
results = run.finish(results)
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
