"""Lecture 3b: logistic (softmax) regression on MNIST, with tf.data and the shared loop.

    python -m lectures.l03_logistic_regression
    python -m lectures.l03_logistic_regression --dataset fashion_mnist   # or a folder
    tensorboard --logdir runs/l03_logistic_regression

The lesson is lecture.py (or lecture.ipynb); the model is model.py (lecture 8a trains it too).
"""
