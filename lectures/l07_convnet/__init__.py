"""Lecture 7: a ConvNet on MNIST, trained with the shared loop, evaluated every epoch.

    python -m lectures.l07_convnet
    python -m lectures.l07_convnet --dataset fashion_mnist   # or a folder of IDX files or shards
    tensorboard --logdir runs/l07_convnet

The lesson is lecture.py (or lecture.ipynb); the network and its train step are model.py.
"""
