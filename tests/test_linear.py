"""Lecture 3/4 math: Huber golden values, closed form, feeding styles agree."""

from lectures.l03_linear_regression import data as birth_life
from lectures.l03_linear_regression import model as linear

import numpy as np
import pytest
import tensorflow as tf


def test_huber_golden_values():
    labels = tf.constant([0.0, 0.0, 0.0])
    predictions = tf.constant([1.0, -20.0, 14.0])
    # |r| = 1 -> 0.5; |r| = 20 -> 14 * 20 - 0.5 * 14^2 = 182; |r| = 14 -> 0.5 * 196 = 98
    assert float(linear.huber_loss(labels, predictions, 14.0)) == pytest.approx((0.5 + 182 + 98) / 3)
    per_sample = [float(linear.huber_loss_cond(0.0, p, 14.0)) for p in [1.0, -20.0, 14.0]]
    assert per_sample == pytest.approx([0.5, 182.0, 98.0])


def test_squared_loss_golden():
    assert float(linear.squared_loss(tf.constant([1.0, 2.0]), tf.constant([3.0, 2.0]))) == 2.0


def test_closed_form_recovers_an_exact_line():
    x = np.linspace(0, 5, 20).astype(np.float32)
    assert linear.closed_form(x, 3 * x - 2) == pytest.approx((3.0, -2.0), abs=1e-5)


def test_feeding_styles_agree_and_approach_closed_form(data_dir):
    data = birth_life.load(data_dir)
    x, y = data.birth_rate, data.life_expectancy
    assert len(x) == 190
    per_call, graph_loop, vectorised = (linear.LinearModel() for _ in range(3))
    linear.train_one_sample_per_call(per_call, x, y, linear.squared_loss, 0.001, 3)
    linear.train_tf_data(graph_loop, birth_life.dataset(data), linear.squared_loss, 0.001, 3)
    # Same samples in the same order: the same parameters, whoever feeds them.
    assert float(per_call.w) == pytest.approx(float(graph_loop.w), rel=1e-4)
    assert float(per_call.b) == pytest.approx(float(graph_loop.b), rel=1e-4)
    losses = linear.train_vectorised(vectorised, x, y, linear.squared_loss, 0.001, 100)
    closed_w, closed_b = linear.closed_form(x, y)
    assert losses[-1] < losses[0]
    assert float(vectorised.w) == pytest.approx(closed_w, abs=0.1)
    assert float(vectorised.b) == pytest.approx(closed_b, abs=0.5)


def test_parse_rejects_bad_lines():
    with pytest.raises(ValueError, match="header"):
        birth_life.parse("nope\n")
    with pytest.raises(ValueError, match="line 2"):
        birth_life.parse("Country\tBirth rate\tLife expectancy\nChad\t6.2\n")
