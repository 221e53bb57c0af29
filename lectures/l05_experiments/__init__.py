"""Lecture 5b: managing experiments: variable sharing, randomness, autodiff, checkpoints.

    python -m lectures.l05_experiments

The lesson is lecture.py (or lecture.ipynb); its four experiments are experiments.py.
"""
