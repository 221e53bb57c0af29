"""Lecture 8b's measures of a result, plain NumPy on (height, width, 3) pixels in [0, 255]
(results.json's final/*; benchmarks/style_transfer.py reports them for 12 pairs):

1. grain: `high_frequency_ratio`, the result's high-frequency energy over the photo's;
2. lines along the edges: `border_steps`, each edge row's step over the interior's;
3. a transfer, not a copy and not a painting: `edge_correlation` (the photo's outlines
   kept) and `colour_movement` (the colours moved from the photo's to the style's).
"""

from __future__ import annotations

import numpy as np


def high_frequency_energy(image) -> float:
    """Mean squared 4-neighbour Laplacian of (height, width, 3) pixels in [0, 255].

    Grain (pixel-to-pixel noise) is where the Laplacian is large; divide by the content
    picture's to compare an output with the photo it came from.
    """
    pixels = np.asarray(image, np.float64)
    laplacian = (4.0 * pixels[1:-1, 1:-1] - pixels[:-2, 1:-1] - pixels[2:, 1:-1]
                 - pixels[1:-1, :-2] - pixels[1:-1, 2:])  # (height - 2, width - 2, 3)
    return float(np.mean(laplacian ** 2))


def high_frequency_ratio(result, content) -> float:
    """The result's grain over the content photo's; a flat photo (no grain at all) counts
    as one squared grey level, so that the ratio stays finite and is the result's own."""
    return high_frequency_energy(result) / max(high_frequency_energy(content), 1.0)


def border_steps(image) -> dict:
    """{"top", "bottom", "left", "right"}: how far each edge row (column) is from its
    neighbour, as a multiple of the mean step between neighbouring interior rows (columns).

    About 1 where the edge looks like the rest of the picture; a line along an edge (a
    row of different brightness) shows as a ratio well above 1.
    """
    pixels = np.asarray(image, np.float64)

    def first_and_last(rows):  # rows: (count, length, 3), stepping along the first axis
        steps = np.abs(np.diff(rows, axis=0)).mean(axis=(1, 2))  # (count - 1,)
        interior = steps[1:-1].mean()
        return float(steps[0] / interior), float(steps[-1] / interior)

    top, bottom = first_and_last(pixels)
    left, right = first_and_last(pixels.transpose(1, 0, 2))
    return {"top": top, "bottom": bottom, "left": left, "right": right}


def grey(image) -> np.ndarray:
    """(height, width, 3) RGB -> (height, width) luma (ITU-R 601 weights, summing to 1)."""
    return np.asarray(image, np.float64) @ np.array([0.299, 0.587, 0.114])


def edge_map(image, block: int = 4) -> np.ndarray:
    """Sobel gradient magnitude of the grey picture, averaged over block x block squares:
    (height, width, 3) -> ((height - 2) // block, (width - 2) // block)."""
    pixels = grey(image)

    def smoothed_difference(rows):  # rows (h, w): [1 2 1] across, difference along
        across = rows[:, :-2] + 2.0 * rows[:, 1:-1] + rows[:, 2:]  # (h, w - 2)
        return across[2:] - across[:-2]  # (h - 2, w - 2)

    magnitude = np.hypot(smoothed_difference(pixels), smoothed_difference(pixels.T).T)
    rows, columns = (size // block * block for size in magnitude.shape)
    return magnitude[:rows, :columns].reshape(
        rows // block, block, columns // block, block).mean(axis=(1, 3))


def edge_correlation(result, content) -> float:
    """Pearson correlation of the result's and the content's edge maps: about 1 when the
    content's outlines are where they were, about 0 when they are gone. Both pictures
    (height, width, 3) of the same size."""
    return float(np.corrcoef(edge_map(result).ravel(), edge_map(content).ravel())[0, 1])


def colour_histogram(image, bins: int = 8) -> np.ndarray:
    """(height, width, 3) in [0, 255] -> (bins^3,) share of the pixels in each RGB cube."""
    cells = np.clip(np.asarray(image, np.float64) * bins / 256.0, 0, bins - 1).astype(int)
    index = (cells[..., 0] * bins + cells[..., 1]) * bins + cells[..., 2]
    return np.bincount(index.ravel(), minlength=bins ** 3) / index.size


def colour_movement(result, content, style) -> float:
    """How far the colours moved from the content's towards the style's: 1 - d(result,
    style) / d(content, style), d the L1 distance between 8x8x8-bin RGB histograms.
    0 where the result has the content's colours, 1 where it has the style's."""
    def distance(first, second):
        return np.abs(colour_histogram(first) - colour_histogram(second)).sum()

    return float(1.0 - distance(result, style) / distance(content, style))
