"""Lecture 7's image kernels: golden values on tiny images, the lecture's outputs, bad input."""

import struct
import zlib

from cs20.datasets import images
from lectures.l07_kernels import kernels

import numpy as np
import pytest
import tensorflow as tf
from conftest import event_files, execute_notebook, lecture_main

main = lecture_main("l07_kernels")


def test_impulse_gives_the_kernel_rotated_by_180_degrees():
    # conv2d is a cross-correlation: a single bright pixel paints the kernel upside down.
    impulse = np.zeros((1, 3, 3, 1), np.float32)
    impulse[0, 1, 1, 0] = 1.0
    for name, kernel in kernels.KERNELS.items():
        output = kernels.apply(impulse, kernel).numpy()[0, :, :, 0]
        np.testing.assert_allclose(output, np.rot90(kernel, 2), atol=1e-6, err_msg=name)


def test_constant_image_golden_values_with_zero_padding():
    ones = np.ones((1, 4, 4, 1), np.float32)
    blur = kernels.apply(ones, kernels.KERNELS["blur"]).numpy()[0, :, :, 0]
    # Inside, a kernel summing to 1 keeps the value; at a corner only 4 + 2 + 2 + 1 of
    # the 16 sixteenths fall on the image, on an edge 4 + 2 + 2 + 2 + 1 + 1.
    np.testing.assert_allclose(blur[1:3, 1:3], 1.0, atol=1e-6)
    assert blur[0, 0] == pytest.approx(9 / 16)
    assert blur[0, 1] == pytest.approx(12 / 16)
    edge = kernels.apply(ones, kernels.KERNELS["edge"]).numpy()[0, :, :, 0]
    np.testing.assert_allclose(edge[1:3, 1:3], 0.0, atol=1e-6)  # no change, no edge
    assert edge[0, 0] == pytest.approx(8 - 3)
    sobel = kernels.apply(ones, kernels.KERNELS["top_sobel"]).numpy()[0, :, :, 0]
    assert sobel[0, 1] == pytest.approx(-4.0)  # the zero padding above reads as a dark edge
    assert sobel[3, 1] == pytest.approx(4.0)


def test_colour_channels_are_filtered_separately():
    image = np.zeros((1, 5, 5, 3), np.float32)
    image[0, 2, 2, 0] = 1.0  # a red dot
    output = kernels.apply(image, kernels.KERNELS["sharpen"]).numpy()[0]
    assert output.shape == (5, 5, 3)
    np.testing.assert_allclose(output[1:4, 1:4, 0], np.rot90(kernels.KERNELS["sharpen"], 2))
    np.testing.assert_array_equal(output[:, :, 1:], 0.0)  # green and blue stay dark


def test_stride_shrinks_the_output():
    output = kernels.apply(np.ones((1, 9, 12, 1), np.float32), kernels.KERNELS["blur"], stride=3)
    assert output.shape == (1, 3, 4, 1)


def test_notebook_filters_friday_by_default_and_writes_grid_events_and_results(tmp_path,
                                                                              data_dir):
    results, output = execute_notebook("l07_kernels", tmp_path, data_dir=str(data_dir))
    run_dir = tmp_path / "notebook_run"
    assert "friday.jpg (322x403)" in output and "Filtered images: " in output
    assert (results["image/height"], results["image/width"]) == (322, 403)
    assert {f"gray_mean/{name}" for name in kernels.KERNELS} <= set(results)
    assert (run_dir / "kernels.png").stat().st_size > 0
    assert event_files(run_dir)


def test_lecture_bad_image_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main(["--image", str(tmp_path / "missing.png"), "--run-dir", str(tmp_path / "r")])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not an image"):
        main(["--image", str(text), "--run-dir", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()  # refused before any run directory was made
    with pytest.raises(SystemExit):  # a flag error, before TensorFlow loads
        main(["--stride", "0", "--run-dir", str(tmp_path / "r")])
    assert "--stride must be at least 1, got 0" in capsys.readouterr().err


def png_header(path, height: int, width: int):
    """A PNG that declares its size and holds no pixels: huge pictures without the memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"")
                     + chunk(b"IEND", b""))
    return path


def test_size_is_read_from_the_header_alone(tmp_path):
    assert images.dimensions(png_header(tmp_path / "huge.png", 8000, 6000)) == (8000, 6000)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pictures_too_large_to_decode_are_refused_before_anything_is_written(tmp_path):
    run_dir = tmp_path / "run"
    for (height, width), message in {(12_000, 10_000): "120 megapixels",
                                     (40_000, 40_000): "too large to decode"}.items():
        with pytest.raises(ValueError, match=message):
            main(["--image", str(png_header(tmp_path / "huge.png", height, width)),
                          "--run-dir", str(run_dir)])
    assert not run_dir.exists()


def test_a_picture_over_max_size_is_filtered_scaled_down(tmp_path, capsys):
    pixels = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    path = tmp_path / "large.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    results = main(["--image", str(path), "--max-size", "300", "--run-dir",
                    str(tmp_path / "run")])
    assert (results["image/height"], results["image/width"]) == (200, 300)
    assert (results["image/file_height"], results["image/file_width"]) == (400, 600)
    assert "is 400x600: filtering it scaled down to 200x300" in capsys.readouterr().out
