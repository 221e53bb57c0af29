"""Lecture 3a: linear regression, three ways to feed data, and the Huber loss.

    python -m lectures.l03_linear_regression
    python -m lectures.l03_linear_regression --num-epochs 300

The lesson is lecture.py (or lecture.ipynb); the model, its losses, its training step and
the three feeding styles are model.py, the birth-rate data data.py (lecture 4 uses both).
"""
