"""Lectures 1-2: TensorFlow's ops, variables, tf.function, and the lazy-loading pitfall.

    python -m lectures.l02_ops
    python -m lectures.l02_ops --num-calls 3
    tensorboard --logdir runs/l02_ops

The lesson is lecture.py (or lecture.ipynb); the division family and the lazy-loading
demonstration are ops.py.
"""
