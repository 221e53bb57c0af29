"""Matplotlib figures written straight to PNG (the Agg backend needs no window), and
shown under the cell that made them when a lecture runs as a notebook."""

from __future__ import annotations

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def show(*paths: pathlib.Path) -> None:
    """Shows saved pictures in the notebook that is running (a script has the files)."""
    if "ipykernel" in sys.modules:
        from IPython.display import Image, display

        for path in paths:
            display(Image(filename=str(path)))


def save(figure, path: pathlib.Path) -> pathlib.Path:
    if figure.get_layout_engine() is None:  # a grid lays itself out (see image_grid)
        figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def data_and_lines(x: np.ndarray, y: np.ndarray, lines: dict, path: pathlib.Path, *,
                   x_label: str, y_label: str, title: str) -> pathlib.Path:
    """A scatter of the data with one fitted line y = w x + b per entry of `lines`."""
    figure, axes = plt.subplots(figsize=(7, 5))
    axes.scatter(x, y, s=12, color="tab:gray", label="data")
    x_range = np.linspace(x.min(), x.max(), 50)
    for name, (w, b) in lines.items():
        axes.plot(x_range, w * x_range + b, label=f"{name}: y = {w:.2f} x + {b:.2f}")
    axes.set(xlabel=x_label, ylabel=y_label, title=title)
    axes.legend()
    return save(figure, path)


def image_grid(images: np.ndarray, titles: list[str], path: pathlib.Path, *, columns: int,
               title: str, cmap: str = "gray", symmetric: bool = False) -> pathlib.Path:
    """(n, height, width) images in a grid, one title each.

    `symmetric` centres the colour map on 0, for weights that can be negative.
    """
    rows = -(-len(images) // columns)
    # Constrained layout leaves the title its own row; tight_layout let it cover the
    # first row's titles.
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows),
                                squeeze=False, layout="constrained")
    limit = float(np.abs(images).max()) if symmetric else None
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index], cmap=cmap, vmin=-limit if symmetric else None,
                        vmax=limit)
            axis.set_title(titles[index], fontsize=9)
    figure.suptitle(title)
    return save(figure, path)


def curves(series: dict, path: pathlib.Path, *, x_label: str, y_label: str, title: str,
           log_y: bool = False) -> pathlib.Path:
    """One line per named series of y values (x = 1, 2, ...)."""
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, values in series.items():
        axes.plot(np.arange(1, len(values) + 1), values, label=name)
    axes.set(xlabel=x_label, ylabel=y_label, title=title)
    if log_y:
        axes.set_yscale("log")
    axes.legend()
    return save(figure, path)


def latent_scatter(points: np.ndarray, labels: np.ndarray, path: pathlib.Path, *,
                   title: str, class_names=None) -> pathlib.Path:
    """(n, 2) latent codes as dots, coloured by their class label, with a legend that
    names the classes (`class_names[label]`, or the label number)."""
    figure, axes = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab10")
    for label in np.unique(labels):
        chosen = labels == label
        axes.scatter(points[chosen, 0], points[chosen, 1], s=3, alpha=0.6,
                     color=colours(int(label) % 10),
                     label=class_names[label] if class_names else str(label))
    axes.set(xlabel="z1", ylabel="z2", title=title)
    axes.legend(markerscale=4, title="class", loc="best", fontsize=8)
    return save(figure, path)


def mosaic(image: np.ndarray, path: pathlib.Path, *, title: str,
           extent: tuple | None = None, x_label: str = "", y_label: str = "") -> pathlib.Path:
    """One greyscale image (height, width), e.g. a grid of digits from `summaries.grid`.

    `extent` (left, right, bottom, top) labels the axes with data coordinates, e.g. the
    latent values a manifold grid was decoded from; without it the axes are hidden.
    """
    figure, axes = plt.subplots(figsize=(7, 7 * image.shape[0] / image.shape[1] + 0.5))
    axes.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, extent=extent)
    if extent is None:
        axes.axis("off")
    else:
        axes.set(xlabel=x_label, ylabel=y_label)
    axes.set_title(title)
    return save(figure, path)


def confusion_matrix(matrix: np.ndarray, path: pathlib.Path, *, title: str,
                     class_names: list[str] | None = None) -> pathlib.Path:
    """A (true, predicted) count matrix as a heat map with each count written in its cell.

    The colours use a log scale so that the few off-diagonal mistakes stay visible next
    to diagonal counts a thousand times larger.
    """
    count = len(matrix)
    names = class_names or [str(index) for index in range(count)]
    figure, axes = plt.subplots(figsize=(0.6 * count + 2, 0.6 * count + 1.5))
    axes.imshow(np.log1p(matrix), cmap="Blues")
    threshold = np.log1p(matrix).max() / 2
    for true_index in range(count):
        for predicted_index in range(count):
            value = int(matrix[true_index, predicted_index])
            if value:
                axes.text(predicted_index, true_index, str(value), ha="center", va="center",
                          fontsize=7, color="white" if np.log1p(value) > threshold else "black")
    axes.set(xticks=range(count), yticks=range(count), xticklabels=names, yticklabels=names,
             xlabel="predicted", ylabel="true", title=title)
    return save(figure, path)


def attention_heatmaps(weights: list[np.ndarray], sources: list[list[str]],
                       targets: list[list[str]], path: pathlib.Path, *,
                       title: str) -> pathlib.Path:
    """One heatmap per sentence: rows are output words, columns source words.

    `weights[i]` is (len(targets[i]), len(sources[i])); each row sums to 1.
    """
    columns = min(len(weights), 2)
    rows = -(-len(weights) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 4.5 * rows),
                                squeeze=False)
    for axis in axes.flat[len(weights):]:
        axis.axis("off")
    for axis, matrix, source, target in zip(axes.flat, weights, sources, targets, strict=False):
        axis.imshow(matrix, cmap="viridis", vmin=0.0, vmax=1.0)
        axis.set_xticks(range(len(source)), source, rotation=60, ha="right", fontsize=9)
        axis.set_yticks(range(len(target)), target, fontsize=9)
    figure.suptitle(title)
    return save(figure, path)
