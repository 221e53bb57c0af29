"""Lecture 7: what a convolution does, with five hand-made 3x3 kernels.

    python -m lectures.l07_kernels
    python -m lectures.l07_kernels --image PATH --stride 3   # any picture; the course's stride
    tensorboard --logdir runs/l07_kernels

The lesson is lecture.py (or lecture.ipynb); the kernels and how they are applied are
kernels.py. A picture whose longer side is over --max-size is scaled down first.
"""
