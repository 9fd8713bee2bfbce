"""Tests of keras_genae.data: the TFDS path (mocked), local npz files and
image folders, all built from the real images in tests/data."""

import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_genae import data

DATA = os.path.join(os.path.dirname(__file__), "data")


def _sample(name):
    with np.load(os.path.join(DATA, f"{name}_test_320.npz")) as d:
        return d["x"], d["y"]


@pytest.fixture(scope="module")
def npz_dir(tmp_path_factory):
    """A data folder in the ../shared/data format (MNIST without channel axis)."""
    path = tmp_path_factory.mktemp("npz")
    for name in ("mnist", "cifar10"):
        x, y = _sample(name)
        np.savez_compressed(
            path / f"{name}.npz",
            x_train=x[:256], y_train=y[:256], x_test=x[256:], y_test=y[256:],
        )
    return str(path)


def _collect(ds):
    batches = list(ds.as_numpy_iterator())
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*batches))
    return np.concatenate(batches)


# ------------------------------------------------------------------- npz
@pytest.mark.parametrize("name,shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_npz_shapes_dtypes_and_values(npz_dir, name, shape):
    ds = data.load_dataset(name, "train", batch_size=100, shuffle=False,
                           with_labels=True, data_dir=npz_dir)
    assert ds.element_spec[0].shape.as_list() == [None, *shape]
    assert ds.element_spec[0].dtype == tf.float32
    assert ds.element_spec[1].dtype == tf.int32
    x, y = _collect(ds)
    raw_x, raw_y = _sample(name)
    assert x.shape == (256, *shape)
    np.testing.assert_array_equal(x, raw_x[:256].reshape(x.shape) / np.float32(255))
    np.testing.assert_array_equal(y, raw_y[:256])
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_env_var_and_arrays(npz_dir, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, npz_dir)
    ds = data.load_dataset("mnist", "test", batch_size=16)
    assert [b.shape[0] for b in ds] == [16] * 4
    x, y = data.load_arrays("mnist", "test")
    assert x.shape == (64, 28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int32
    x8, _ = data.load_arrays("cifar10", "train[:10]", dtype="uint8")
    assert x8.shape == (10, 32, 32, 3) and x8.dtype == np.uint8


def test_splits_limit_and_remainder(npz_dir):
    assert _collect(data.load_dataset("mnist", "train[:100]", data_dir=npz_dir)).shape[0] == 100
    assert _collect(data.load_dataset("mnist", "train[75%:]", data_dir=npz_dir)).shape[0] == 64
    ds = data.load_dataset("mnist", batch_size=30, limit=100, drop_remainder=True, data_dir=npz_dir)
    assert [b.shape[0] for b in ds] == [30, 30, 30]


def test_shuffle_is_seeded_and_reshuffled_each_epoch(npz_dir):
    def first_labels(ds):
        return next(iter(ds))[1].numpy()

    a = data.load_dataset("mnist", batch_size=64, seed=1, with_labels=True, data_dir=npz_dir)
    b = data.load_dataset("mnist", batch_size=64, seed=1, with_labels=True, data_dir=npz_dir)
    c = data.load_dataset("mnist", batch_size=64, seed=2, with_labels=True, data_dir=npz_dir)
    epoch1 = first_labels(a)
    np.testing.assert_array_equal(epoch1, first_labels(b))
    assert not np.array_equal(epoch1, first_labels(c))
    assert not np.array_equal(epoch1, first_labels(a))  # second epoch of `a`
    # Train is shuffled by default, test is not.
    _, raw_y = _sample("mnist")
    assert not np.array_equal(first_labels(c), raw_y[:64])
    test = data.load_dataset("mnist", "test", batch_size=64, with_labels=True, data_dir=npz_dir)
    np.testing.assert_array_equal(first_labels(test), raw_y[256:])


def test_binarize_modes(npz_dir):
    grey = _collect(data.load_dataset("mnist", shuffle=False, data_dir=npz_dir))

    def load(mode, seed=None, shuffle=False):
        return data.load_dataset("mnist", shuffle=shuffle, binarize=mode, seed=seed,
                                 data_dir=npz_dir)

    threshold = _collect(load("threshold"))
    np.testing.assert_array_equal(threshold, (grey >= 0.5).astype("float32"))

    static = load("static", seed=1)
    s1, s2 = _collect(static), _collect(static)
    np.testing.assert_array_equal(s1, s2)  # same every epoch
    np.testing.assert_array_equal(s1, _collect(load("static", seed=7)))  # whatever `seed`
    assert set(np.unique(s1)) == {0.0, 1.0}
    assert not np.array_equal(s1, threshold)
    assert abs(s1.mean() - grey.mean()) < 0.01  # a Bernoulli sample of the grey levels
    assert np.all(s1[grey == 0] == 0) and np.all(s1[grey == 1] == 1)

    dynamic = load("dynamic", seed=3)
    d1, d2 = _collect(dynamic), _collect(dynamic)
    assert set(np.unique(d1)) == {0.0, 1.0}
    assert not np.array_equal(d1, d2)  # resampled every epoch
    np.testing.assert_array_equal(d1, _collect(load("dynamic", seed=3)))  # reproducible
    assert abs(d1.mean() - grey.mean()) < 0.01


def test_errors(npz_dir, tmp_path):
    with pytest.raises(ValueError, match="Did you mean 'cifar10'"):
        data.load_dataset("cifar-10", data_dir=npz_dir)
    with pytest.raises(ValueError, match="'fashion_mnist'"):
        data.load_arrays("fashion_mnst", data_dir=npz_dir)
    with pytest.raises(ValueError, match="`split` must be"):
        data.load_dataset("mnist", "validation", data_dir=npz_dir)
    with pytest.raises(ValueError, match="`binarize` must be"):
        data.load_dataset("mnist", binarize=True, data_dir=npz_dir)
    with pytest.raises(ValueError, match="`batch_size` must be"):
        data.load_dataset("mnist", batch_size=0, data_dir=npz_dir)
    with pytest.raises(FileNotFoundError, match="fashion_mnist.npz"):
        data.load_dataset("fashion_mnist", data_dir=npz_dir)
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((4, 32, 32), np.uint8), y_train=np.zeros(4))
    with pytest.raises(ValueError, match="must be uint8 images of shape"):
        data.load_dataset("mnist", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="lacks the arrays"):
        data.load_dataset("mnist", "test", data_dir=str(tmp_path))


# ------------------------------------------------------------------ TFDS
@pytest.mark.parametrize("name,shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_path_with_mock_data(name, shape, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    with tfds.testing.mock_data(num_examples=20, policy=tfds.testing.MockPolicy.USE_CODE):
        ds = data.load_dataset(name, "train", batch_size=8, seed=0, with_labels=True)
        x, y = _collect(ds)
        x2, _ = _collect(data.load_dataset(name, "train", batch_size=8, seed=0, with_labels=True))
        arrays, labels = data.load_arrays(name, "test")
    assert x.shape == (20, *shape) and x.dtype == np.float32 and y.dtype == np.int32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0
    np.testing.assert_array_equal(x, x2)
    assert arrays.shape == (20, *shape) and labels.shape == (20,)


# --------------------------------------------------------------- folders
@pytest.fixture
def image_dir(tmp_path):
    """PNGs and JPEGs of real images, grey and RGB, nested, one of another
    size, one RGBA, one corrupt file and one non-image file."""
    cifar, _ = _sample("cifar10")
    mnist, _ = _sample("mnist")
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(cifar[i]).save(tmp_path / f"rgb_{i}.png")
    Image.fromarray(cifar[4]).save(tmp_path / "nested" / "photo.JPG", quality=95)
    Image.fromarray(mnist[0]).save(tmp_path / "nested" / "grey.png")
    Image.fromarray(cifar[5]).resize((48, 40)).save(tmp_path / "nested" / "deeper" / "big.jpeg")
    Image.fromarray(cifar[6]).convert("RGBA").save(tmp_path / "rgba.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_from_directory_reads_resizes_and_skips(image_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="keras_genae.data"):
        ds = data.from_directory(image_dir, (32, 32), channels=3, batch_size=4, shuffle=False)
    assert "broken.png" in caplog.text and "Skipping unreadable" in caplog.text
    assert ds.element_spec.shape.as_list() == [None, 32, 32, 3]
    x = _collect(ds)
    assert x.shape == (8, 32, 32, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    # Files come in sorted path order: nested/deeper/big.jpeg, nested/grey.png,
    # nested/photo.JPG, rgb_0..3.png, rgba.png.
    cifar, _ = _sample("cifar10")
    mnist, _ = _sample("mnist")
    np.testing.assert_array_equal(x[3], cifar[0] / np.float32(255))  # PNG: lossless
    np.testing.assert_array_equal(x[7], cifar[6] / np.float32(255))  # alpha dropped
    np.testing.assert_array_equal(x[1, ..., 0], x[1, ..., 1])  # grey -> RGB
    np.testing.assert_array_equal(x[1, ..., 0], x[1, ..., 2])
    assert np.abs(x[1, 2:-2, 2:-2, 0].mean() - mnist[0].mean() / 255) < 0.05  # 28 -> 32
    assert np.abs(x[2] - cifar[4] / 255).mean() < 0.03  # JPEG: close
    assert np.abs(x[0] - cifar[5] / 255).mean() < 0.1  # resized twice


def test_from_directory_grey_and_square_size(image_dir):
    x = _collect(data.from_directory(image_dir, 28, channels=1, shuffle=False))
    assert x.shape == (8, 28, 28, 1)
    mnist, _ = _sample("mnist")
    np.testing.assert_array_equal(x[1, ..., 0], mnist[0] / np.float32(255))
    x = _collect(data.from_directory(image_dir, (16, 32), crop_to_aspect_ratio=True,
                                     cache=False, shuffle=False))
    assert x.shape == (8, 16, 32, 3)


def test_from_directory_shuffle_is_seeded(image_dir):
    def order(seed):
        return _collect(data.from_directory(image_dir, 32, batch_size=8, seed=seed)).mean(axis=(1, 2, 3))

    np.testing.assert_array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))


def test_from_directory_errors(image_dir, tmp_path_factory):
    with pytest.raises(ValueError, match="broken.png"):
        data.from_directory(image_dir, 32, on_error="raise")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.from_directory(image_dir / "missing", 32)
    with pytest.raises(NotADirectoryError):
        data.from_directory(image_dir / "rgb_0.png", 32)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ValueError, match="No image files found"):
        data.from_directory(empty, 32)
    (empty / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="1 other file"):
        data.from_directory(empty, 32)
    (empty / "bad.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match="1 of 1 image file"):
        data.from_directory(empty, 32)
    with pytest.raises(ValueError, match="`channels` must be 1 or 3"):
        data.from_directory(image_dir, 32, channels=4)
    with pytest.raises(ValueError, match="`image_size` must be"):
        data.from_directory(image_dir, (32, 0))


# ----------------------------------------------- one reader for both paths
@pytest.fixture
def mixed_dir(tmp_path):
    """Real images of every kind the two readers must agree on: a
    non-square RGB PNG, an RGBA PNG, a grey JPEG and an RGB JPEG."""
    cifar, _ = _sample("cifar10")
    mnist, _ = _sample("mnist")
    Image.fromarray(cifar[5]).resize((48, 40), Image.Resampling.BICUBIC).save(tmp_path / "a_wide.png")
    Image.fromarray(cifar[6]).convert("RGBA").resize((30, 36)).save(tmp_path / "b_rgba.png")
    Image.fromarray(mnist[0]).save(tmp_path / "c_grey.jpg", quality=90)
    Image.fromarray(cifar[7]).save(tmp_path / "d_rgb.jpg", quality=90)
    return tmp_path


def _reference(path, shape, crop):
    """Pillow by hand: convert, center-crop to the aspect, bilinear resize."""
    height, width, channels = shape
    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB")
    if crop:
        scale = min(image.width / width, image.height / height)
        w, h = round(width * scale), round(height * scale)
        left, top = (image.width - w) // 2, (image.height - h) // 2
        image = image.crop((left, top, left + w, top + h))
    image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype="float32").reshape(shape) / 255


@pytest.mark.parametrize("shape,crop", [((32, 32, 3), False), ((16, 32, 3), True), ((28, 28, 1), False)])
def test_from_directory_and_load_images_give_the_same_pixels(mixed_dir, shape, crop):
    from keras_genae.data import image_io

    x = _collect(data.from_directory(mixed_dir, shape[:2], channels=shape[2], shuffle=False,
                                     crop_to_aspect_ratio=crop))
    y, files = data.load_images(mixed_dir, shape, crop_to_aspect_ratio=crop)
    assert [os.path.basename(f) for f in files] == ["a_wide.png", "b_rgba.png", "c_grey.jpg", "d_rgb.jpg"]
    assert x.shape == y.shape == (4, *shape)
    np.testing.assert_array_equal(x, y)  # the same file, the same pixels
    for i, f in enumerate(files):  # and they are Pillow's bilinear resize
        np.testing.assert_allclose(y[i], _reference(f, shape, crop), atol=1 / 255)
    if shape[2] == 3:  # grey JPEG into an RGB model: the grey repeated
        np.testing.assert_array_equal(y[2, ..., 0], y[2, ..., 2])
    if crop:  # cropped, not stretched: differs from the stretched image
        stretched, _ = image_io.load_images(mixed_dir / "a_wide.png", shape)
        assert np.abs(stretched[0] - y[0]).mean() > 0.02


def test_sixteen_bit_grey_png_is_scaled_not_clipped(tmp_path):
    levels = (np.arange(64, dtype="uint16").reshape(8, 8) * 1040)  # 0 .. 65520
    Image.fromarray(levels).save(tmp_path / "deep.png")
    y, _ = data.load_images(tmp_path, (8, 8, 1))
    np.testing.assert_allclose(y[..., 0][0], levels / 65535, atol=0.5 / 255)
    np.testing.assert_array_equal(_collect(data.from_directory(tmp_path, 8, channels=1)), y)
