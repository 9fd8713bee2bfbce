"""`keras_genae.callbacks.ImageGrid`: grids on the right epochs, from fixed
inputs and fixed latents, logged to TensorBoard."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_genae.data import grids as images_lib
from keras_genae.callbacks import ImageGrid
from keras_genae.models import DCGAN
from keras_genae.models import VAE
from keras_genae.models import VQVAE
from tests.helpers import load_test_images
from tests.helpers import tiny_model


def grid_size(n, ncols, h, w, scale=2, padding=2):
    """(width, height) of a `make_grid` PNG."""
    rows = -(-n // ncols)
    return ncols * (w * scale + padding) + padding, rows * (h * scale + padding) + padding


def png(path):
    with Image.open(path) as image:
        return image.size, np.asarray(image).copy()


def summary_tags(log_dir):
    """{tag: [steps]} of the image summaries in a TensorBoard log folder."""
    from tensorflow.core.util import event_pb2

    tags = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                # TensorBoard's image format: width, height, then PNG bytes.
                assert value.metadata.plugin_data.plugin_name == "images"
                width, height, encoded = value.tensor.string_val
                assert tf.image.decode_png(encoded).shape[:2] == (int(height), int(width))
                tags.setdefault(value.tag, []).append(event.step)
    return tags


@pytest.fixture(scope="module")
def data():
    x, _ = load_test_images("mnist", n=64)
    return x


def test_grids_on_the_right_epochs_with_fixed_latents(tmp_path, data):
    model = tiny_model(VAE)
    model.compile()
    grid = ImageGrid(tmp_path / "grids", images=data[:6], num_samples=9, every=2, seed=3,
                     ncols=3, on_train_begin=True, log_dir=str(tmp_path / "logs"))
    model.fit(data, epochs=5, batch_size=32, verbose=0, callbacks=[grid])  # saves after 2 and 4

    names = sorted(os.listdir(tmp_path / "grids"))  # not after epoch 5
    assert names == [f"{kind}_epoch_{e:03d}.png" for kind in ("reconstructions", "samples") for e in (0, 2, 4)]
    assert [os.path.basename(p) for p in grid.paths[:2]] == [
        "reconstructions_epoch_000.png", "samples_epoch_000.png"]
    # Reconstructions: 6 pairs of 28x28 images (a 1-pixel gap), 3 per row.
    size, _ = png(tmp_path / "grids" / "reconstructions_epoch_002.png")
    assert size == grid_size(6, 3, 28, 2 * 28 + 1, padding=6)
    size, first = png(tmp_path / "grids" / "samples_epoch_000.png")
    assert size == grid_size(9, 3, 28, 28)
    # The latents are the seeded prior draws, fixed for the whole run.
    np.testing.assert_array_equal(grid.latents, np.asarray(model.sample_latents(9, seed=3)))
    _, last = png(tmp_path / "grids" / "samples_epoch_004.png")
    assert not np.array_equal(first, last)  # the model trained in between
    # Same weights, same inputs and latents: the same grid, bit for bit.
    grid.save(98)
    grid.save(99)
    _, a = png(tmp_path / "grids" / "samples_epoch_098.png")
    _, b = png(tmp_path / "grids" / "samples_epoch_099.png")
    np.testing.assert_array_equal(a, b)

    tags = summary_tags(str(tmp_path / "logs"))
    assert tags == {"reconstructions": [0, 2, 4, 98, 99], "samples": [0, 2, 4, 98, 99]}


def test_reconstructions_of_a_model_without_prior(tmp_path, data):
    model = tiny_model(VQVAE)
    model.compile()
    grid = ImageGrid(str(tmp_path), images=data[:4], every=1, scale=1)
    model.fit(data[:32], epochs=2, batch_size=32, verbose=0, callbacks=[grid])
    assert sorted(os.listdir(tmp_path)) == ["reconstructions_epoch_001.png", "reconstructions_epoch_002.png"]
    assert grid.latents is None


def test_samples_need_a_prior_and_reconstructions_an_encoder(tmp_path, data):
    model = tiny_model(VQVAE, prior=None)  # a VQ-VAE samples only with a prior
    model.compile()
    with pytest.raises(ValueError, match="needs a model with a prior"):
        model.fit(data[:32], epochs=1, verbose=0, callbacks=[ImageGrid(tmp_path, num_samples=4)])
    gan = tiny_model(DCGAN)
    gan.compile()
    with pytest.raises(ValueError, match="DCGAN has no encoder"):
        gan.fit(data[:32], epochs=1, verbose=0, callbacks=[ImageGrid(tmp_path, images=data[:2])])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "Pass `images`"),
        (dict(num_samples=4, every=0), "`every` must be a positive integer"),
        (dict(num_samples=-1, images=np.zeros((1, 28, 28, 1))), "`num_samples` must be"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageGrid(tmp_path, **kwargs)
