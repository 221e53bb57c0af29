"""Lecture 8 (part 1): TFRecord files, from one image to a sharded MNIST training pipeline.

    python -m lectures.l08_tfrecord
    python -m lectures.l08_tfrecord --dataset shards/   # python -m cs20 data tfrecord ... --out shards
    python -m cs20 data inspect runs/l08_tfrecord/<run>/tfrecords
    tensorboard --logdir runs/l08_tfrecord

--dataset may also name a folder of shards made by `python -m cs20 data tfrecord mnist`
(trained from as it is) or `python -m cs20 data tfrecord --images DIR`.

The lesson is lecture.py (or lecture.ipynb); the Example by hand, the shards and their
timing are records.py; the model it trains is lecture 3b's (lectures/l03_logistic_regression).
"""
