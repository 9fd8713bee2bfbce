"""Hostile inputs (issue 12): image folders (items 7-9)."""

import logging
import os
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from keras_genae import data
from keras_genae.data import image_io


def collect(ds):
    return np.concatenate([np.asarray(b) for b in ds]) if ds is not None else None


def pattern(h=8, w=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    Image.fromarray(pattern()).save(root / "good.png")
    return root


def read_folder(path, size=(8, 16), **kwargs):
    return collect(data.from_directory(path, size, batch_size=64, shuffle=False, **kwargs))


# ------------------------------------------------------- 7. special files
def test_symlink_loop_is_visited_once(folder):
    (folder / "sub").mkdir()
    (folder / "sub" / "loop").symlink_to(folder)
    (folder / "again").symlink_to(folder / "sub")
    x = read_folder(folder, follow_links=True)
    assert len(x) == 1
    files, _ = image_io.list_image_files(folder, follow_links=True)
    assert [os.path.basename(f) for f in files] == ["good.png"]


def test_device_symlink_and_fifo_named_png_are_skipped(folder, caplog):
    (folder / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.png")
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        x = read_folder(folder)
    assert len(x) == 1 and time.monotonic() - start < 30
    assert "zero.png" in caplog.text and "pipe.png" in caplog.text and "not a regular file" in caplog.text
    # load_images (genae reconstruct --images) applies the same policy.
    with caplog.at_level(logging.WARNING):
        batch, files = image_io.load_images([folder / "pipe.png", folder / "zero.png", folder], (8, 16, 3))
    assert [os.path.basename(f) for f in files] == ["good.png"] and batch.shape == (1, 8, 16, 3)


def test_file_over_the_size_cap_is_skipped(folder, monkeypatch, caplog):
    Image.fromarray(pattern(64, 64)).save(folder / "large.png")
    monkeypatch.setenv(image_io.MAX_BYTES_ENV, str((folder / "good.png").stat().st_size))
    with caplog.at_level(logging.WARNING):
        assert len(read_folder(folder)) == 1
    assert "large.png" in caplog.text and image_io.MAX_BYTES_ENV in caplog.text


# -------------------------------------------------- 8. decompression bombs
def png_header_only(width, height):
    """A PNG that declares `width` x `height` grey pixels but holds a tiny
    (truncated) image stream: decoding it would allocate all of them."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_bomb_is_skipped_from_its_header(folder, caplog):
    (folder / "bomb.png").write_bytes(png_header_only(30000, 30000))
    with caplog.at_level(logging.WARNING):
        x = read_folder(folder)
    assert len(x) == 1 and "bomb.png" in caplog.text and "pixels" in caplog.text
    with pytest.raises(ValueError, match=r"bomb.png.*pixels"):
        image_io.load_images(folder / "bomb.png", (8, 16, 3))


def test_pixel_cap_is_configurable(folder, monkeypatch, caplog):
    Image.fromarray(pattern(64, 64)).save(folder / "big.png")
    monkeypatch.setenv(image_io.MAX_PIXELS_ENV, "1000")
    with caplog.at_level(logging.WARNING):
        assert len(read_folder(folder)) == 1
    assert "big.png" in caplog.text and "64x64 pixels, more than 1000" in caplog.text
    monkeypatch.setenv(image_io.MAX_PIXELS_ENV, "many")
    with pytest.raises(ValueError, match=r"`KERAS_GENAE_MAX_IMAGE_PIXELS` must be a positive integer"):
        read_folder(folder)


# ------------------------------------------------------ 9. formats, names
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(tmp_path, orientation):
    # Four flat quadrants, aligned with JPEG's 8x8 blocks: decoders agree.
    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:8, :16], stored[:8, 16:], stored[8:, :16], stored[8:, 16:] = (250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "photo.jpg", exif=exif, quality=100, subsampling=0)
    with Image.open(tmp_path / "photo.jpg") as image:
        from PIL import ImageOps

        upright = np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype="float32") / 255
    assert not np.allclose(np.rot90(upright, 2), upright, atol=0.1)  # a test that can fail
    x = read_folder(tmp_path, size=upright.shape[:2])
    np.testing.assert_allclose(x[0], upright, atol=8 / 255)
    y, _ = image_io.load_images(tmp_path, upright.shape)
    np.testing.assert_allclose(y[0], upright, atol=8 / 255)


def test_webp_is_read(tmp_path):
    stored = pattern(8, 16)
    Image.fromarray(stored).save(tmp_path / "lossless.webp", lossless=True)
    np.testing.assert_array_equal(read_folder(tmp_path, cache=False)[0], stored / np.float32(255))
    y, _ = image_io.load_images(tmp_path, stored.shape)
    np.testing.assert_array_equal(y[0], stored / np.float32(255))


def test_non_utf8_file_name_is_read_like_any_other(folder):
    name = os.path.join(os.fsencode(folder), b"caf\xe9.png")
    Image.fromarray(pattern(seed=1)).save(open(name, "wb"), format="PNG")
    x = read_folder(folder)
    assert len(x) == 2
    files, _ = image_io.list_image_files(folder)
    assert os.fsencode(files[0]) == name  # "caf\xe9.png" sorts before "good.png"
    np.testing.assert_array_equal(x[0], pattern(seed=1) / np.float32(255))


def test_unreadable_error_names_every_file_and_the_reason(folder):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match=r"(?s)1 of 2 image file\(s\) under .*'.*broken.png': not a readable image"):
        read_folder(folder, on_error="raise")
    with pytest.raises(ValueError, match=r"broken.png"):
        image_io.load_images(folder, (8, 16, 3), on_error="raise")
    batch, files = image_io.load_images(folder, (8, 16, 3))
    assert [os.path.basename(f) for f in files] == ["good.png"]
