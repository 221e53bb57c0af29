"""Lecture 8b: neural style transfer, where the only variable trained is an image.

    python -m lectures.l08_style_transfer
    python -m lectures.l08_style_transfer --content PATH --style images/guernica.jpg
    tensorboard --logdir runs/l08_style_transfer

The lesson is lecture.py (or lecture.ipynb); Gram matrices, the three losses and the
image's step are model.py, the frozen feature network backbone.py, the figures of the
result measures.py. Each loss is a share of its own size, so the weights mean the same
for every pair of pictures; look at content_style_result.png (photo | painting | result).
"""
