"""cs20.plots: the pictures the lectures and benchmarks draw."""

from cs20 import plots

import numpy as np


def test_image_grid_title_clears_the_first_rows_captions(tmp_path, monkeypatch):
    # The style-transfer pairs grid (12 rows) had its title over the first row's captions.
    closed = []  # the figure, kept after plots.save has laid it out, saved and closed it
    monkeypatch.setattr(plots.plt, "close", closed.append)
    plots.image_grid(np.zeros((36, 40, 30, 3)), ["edge 0.80, colour 0.78"] * 36,
                     tmp_path / "grid.png", columns=3, title="photo | style | result")
    figure, = closed
    renderer = figure.canvas.get_renderer()
    title = [text for text in figure.texts if text.get_text() == "photo | style | result"]
    captions = [axis.title.get_window_extent(renderer) for axis in figure.axes[:3]]
    assert len(title) == 1
    assert title[0].get_window_extent(renderer).y0 >= max(box.y1 for box in captions)
    monkeypatch.undo()
    plots.plt.close(figure)
