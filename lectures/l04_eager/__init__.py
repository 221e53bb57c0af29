"""Lecture 4: eager execution and automatic differentiation with tf.GradientTape.

    python -m lectures.l04_eager
    python -m lectures.l04_eager --num-epochs 10

The lesson is lecture.py (or lecture.ipynb); the linear model it trains is lecture 3a's
(lectures/l03_linear_regression/model.py).
"""
