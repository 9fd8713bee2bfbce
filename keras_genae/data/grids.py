"""Image grids: tiling, side-by-side pictures and saving them as PNGs.

Everything here works on NumPy arrays of float images in [0, 1] with a
channel axis, `(batch, height, width, channels)`, the layout of every
keras_genae model, and uses Pillow to write files:

- `make_grid` tiles a batch into one image and `save_grid` writes it as a
  PNG; `side_by_side` joins each input with its reconstruction.

Image files are read by `keras_genae.data.image_io.load_images`, the
shipped sample images are in `keras_genae.data.samples`, and latent paths
in `keras_genae.utils.interpolation`.
"""

import os

import numpy as np


# ------------------------------------------------------------------ grids
def _as_batch(images):
    x = np.asarray(images, dtype="float32")
    if x.ndim == 3:  # (batch, height, width): grey images without channels
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or len(x) == 0:
        raise ValueError(
            "`images` must be a non-empty batch of shape (batch, height, width, "
            f"channels) with 1 or 3 channels. Received: images.shape={x.shape}"
        )
    return x


def make_grid(images, ncols=None, padding=2, pad_value=1.0, scale=1):
    """Tile a batch of images into one uint8 image.

    Args:
        images: float array `(batch, height, width, channels)` (or
            `(batch, height, width)`) with values in [0, 1]; values outside
            are clipped. 1 or 3 channels.
        ncols: int or None. Images per row; defaults to `ceil(sqrt(batch))`.
        padding: int. Pixels between images and around the grid. Defaults
            to `2`.
        pad_value: float in [0, 1]. Colour of the padding. Defaults to `1.0`
            (white).
        scale: int. Integer upscaling of every image (nearest neighbour),
            so that 28x28 images are visible. Defaults to `1`.

    Returns:
        uint8 array `(rows * (h * scale + padding) + padding, ncols * (w *
        scale + padding) + padding, channels)`.

    Example:
    >>> grid = make_grid(np.zeros((10, 28, 28, 1)), ncols=5)
    >>> grid.shape
    (62, 152, 1)
    """
    x = _as_batch(images)
    n, h, w, c = x.shape
    if ncols is None:
        ncols = int(np.ceil(np.sqrt(n)))
    for value, name in ((ncols, "ncols"), (scale, "scale")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"`padding` must be a non-negative integer. Received: padding={padding!r}")
    ncols = min(int(ncols), n)
    nrows = int(np.ceil(n / ncols))
    x = np.clip(np.nan_to_num(x), 0.0, 1.0)
    if scale > 1:
        x = x.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    grid = np.full(
        (nrows * (h + padding) + padding, ncols * (w + padding) + padding, c),
        float(pad_value), dtype="float32",
    )
    for i in range(n):
        r, col = divmod(i, ncols)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top:top + h, left:left + w] = x[i]
    return np.round(grid * 255.0).astype("uint8")


def side_by_side(inputs, outputs, gap=1, gap_value=1.0):
    """Pair each input with its output: `(n, h, 2 * w + gap, c)` images.

    `make_grid` of the pairs (with a padding wider than `gap`) shows each
    input on the left of its output.

    Example:
    >>> pairs = side_by_side(x, model.reconstruct(x))
    >>> save_grid(pairs, "reconstructions.png", padding=6, scale=2)
    """
    a, b = _as_batch(inputs), _as_batch(outputs)
    if a.shape != b.shape:
        raise ValueError(
            f"`inputs` and `outputs` must have the same shape. Received: "
            f"inputs.shape={a.shape}, outputs.shape={b.shape}"
        )
    separator = np.full(a.shape[:2] + (gap,) + a.shape[3:], gap_value, dtype="float32")
    return np.concatenate([a, separator, b], axis=2)


def to_pil(array):
    """A uint8 `(h, w, 1|3)` array (or a float one in [0, 1]) as a PIL image."""
    from PIL import Image

    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype("uint8")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return Image.fromarray(array, mode="L" if array.ndim == 2 else "RGB")


def save_image(array, path):
    """Write one image (see `to_pil`) as a PNG, creating parent folders.
    Returns the path."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    to_pil(array).save(path, format="PNG")
    return path


def save_grid(images, path, ncols=None, padding=2, pad_value=1.0, scale=1):
    """`make_grid` then write the grid as a PNG at `path`.

    Args:
        images: float images in [0, 1], see `make_grid`.
        path: str or path-like. Parent folders are created.
        ncols, padding, pad_value, scale: see `make_grid`.

    Returns:
        The `(height, width)` of the PNG.

    Example:
    >>> model = keras_genae.load("vae_mnist")
    >>> save_grid(model.sample(64, seed=0), "samples.png", scale=2)
    (466, 466)
    """
    grid = make_grid(images, ncols=ncols, padding=padding, pad_value=pad_value, scale=scale)
    save_image(grid, path)
    return grid.shape[:2]


# ---------------------------------------------------------------- latents
