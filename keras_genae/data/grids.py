"""Image grids, image files, sample images and latent paths.

Everything here works on NumPy arrays of float images in [0, 1] with a
channel axis, `(batch, height, width, channels)`, the layout of every
keras_genae model, and uses Pillow for files:

- `make_grid` tiles a batch into one image and `save_grid` writes it as a
  PNG; `side_by_side` joins each input with its reconstruction.
- `load_images` reads image files (or a folder of them) at a model's
  input shape.
- `sample_images(dataset)` returns the 16 test images shipped with the
  package for each dataset (one per class, then six more), so that
  demos need no download.
- `interpolate` walks between two latents (lerp or slerp); draw prior
  latents with the model's own `sample_latents(n, seed)`.
"""

import importlib.resources
import os

import numpy as np

from keras_genae.data import image_io

#: Datasets with shipped sample images, and their image shapes.
SAMPLE_DATASETS = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
IMAGE_EXTENSIONS = image_io.IMAGE_EXTENSIONS


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


# ------------------------------------------------------------ image files
def list_image_files(path, follow_links=False):
    """Image files (by extension) under a folder, recursively and sorted;
    names that start with "." are skipped. See `keras_genae.data.image_io`."""
    return image_io.list_image_files(path, follow_links)[0]


def load_images(paths, image_shape, invert=False, on_error="warn"):
    """Read image files as a float32 batch at `image_shape`.

    Each image is turned upright (EXIF orientation), converted to grey
    (`"L"`) or RGB to match the channels (an alpha channel is dropped),
    resized to the height and width with bilinear resampling, and scaled
    to [0, 1]. Unreadable files follow the policy of
    `data.from_directory` (`keras_genae.data.image_io`): special files,
    files over the size or pixel caps and files that do not decode are
    skipped with a logged warning (`on_error="warn"`) or raise
    (`on_error="raise"`); when none is readable, it raises.

    Args:
        paths: a file, a folder (searched recursively for PNG, JPEG, BMP,
            GIF and WebP files), or a list of files and folders.
        image_shape: tuple `(height, width, channels)` with 1 or 3 channels,
            e.g. `model.image_shape`.
        invert: bool. Use `1 - x`, e.g. for dark digits on white paper with
            a model trained on MNIST's white digits on black. Defaults to
            `False`.
        on_error: `"warn"` or `"raise"`. Defaults to `"warn"`.

    Returns:
        `(images, files)`: float32 array `(n, height, width, channels)`
        and the list of files read, in the same order.

    Example:
    >>> x, files = load_images("my_digits/", (28, 28, 1), invert=True)
    """
    from PIL import Image

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if len(image_shape) != 3 or image_shape[-1] not in (1, 3):
        raise ValueError(
            "`image_shape` must be (height, width, channels) with 1 or 3 "
            f"channels. Received: image_shape={tuple(image_shape)}"
        )
    image_io.check_on_error(on_error)
    height, width, channels = (int(d) for d in image_shape)
    files = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = list_image_files(p)
            if not found:
                raise ValueError(
                    f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found under {p!r}."
                )
            files += found
        elif os.path.lexists(p):
            files.append(p)
        else:
            raise FileNotFoundError(f"No such image file or folder: {p!r}.")
    if not files:
        raise ValueError("`paths` must name at least one image file or folder. Received: paths=[]")
    reasons, arrays = {}, {}
    for f in files:
        _, reasons[f] = image_io.probe(f)
        if reasons[f]:
            continue
        try:
            image = Image.fromarray(image_io.read_image(f, channels).squeeze(-1) if channels == 1
                                    else image_io.read_image(f, channels))
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            arrays[f] = (np.asarray(image, dtype="float32") / 255.0).reshape(height, width, channels)
        except Exception as e:  # Pillow raises many types on corrupt data.
            reasons[f] = f"it does not decode ({type(e).__name__}: {e})"
    files = image_io.select(files, on_error, reasons, "given")
    batch = np.stack([arrays[f] for f in files]).astype("float32")
    if invert:
        batch = 1.0 - batch
    return batch, files


# ------------------------------------------------------------ sample images
def sample_images(dataset, n=None):
    """The test images shipped with the package for `dataset`.

    16 images of the dataset's test split per dataset (from
    `tests/data/<dataset>_test_320.npz`): the first image of each of the 10
    classes, then the second of classes 0 to 5.

    Args:
        dataset: `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        n: int or None. Return the first `n` (at most 16). Defaults to all.

    Returns:
        `(images, labels)`: float32 `(n, H, W, C)` in [0, 1], int64 `(n,)`.

    Example:
    >>> x, y = sample_images("cifar10", n=8)
    >>> x.shape, y.tolist()
    ((8, 32, 32, 3), [0, 1, 2, 3, 4, 5, 6, 7])
    """
    if dataset not in SAMPLE_DATASETS:
        raise ValueError(
            f"`dataset` must be one of {sorted(SAMPLE_DATASETS)}. Received: dataset={dataset!r}"
        )
    resource = importlib.resources.files("keras_genae") / "sample_images" / f"{dataset}.npz"
    with resource.open("rb") as f, np.load(f) as data:
        x, y = data["x"], data["y"]
    if n is not None:
        x, y = x[:n], y[:n]
    return x.astype("float32") / 255.0, y.astype("int64")


def dataset_for_shape(image_shape):
    """The sample dataset whose images have `image_shape` (MNIST for 28x28x1)."""
    for name, shape in SAMPLE_DATASETS.items():
        if tuple(image_shape) == shape:
            return name
    return None


# ---------------------------------------------------------------- latents
def interpolate(a, b, steps, method="lerp"):
    """Points from `a` to `b` (both included) along a line or a great arc.

    Args:
        a, b: float arrays of the same shape (one latent each, any shape).
        steps: int >= 2. Number of points.
        method: `"lerp"` (linear) or `"slerp"` (spherical: the angle moves
            linearly, and the norm too, which suits Gaussian latents whose
            norms concentrate). Defaults to `"lerp"`.

    Returns:
        float32 array `(steps,) + a.shape`.
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` must have the same shape. Received: {a.shape} and {b.shape}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"`steps` must be an integer >= 2. Received: steps={steps!r}")
    if method not in ("lerp", "slerp"):
        raise ValueError(f"`method` must be 'lerp' or 'slerp'. Received: method={method!r}")
    t = np.linspace(0.0, 1.0, int(steps)).reshape((-1,) + (1,) * a.ndim)
    if method == "lerp":
        return ((1 - t) * a + t * b).astype("float32")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return ((1 - t) * a + t * b).astype("float32")
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(np.sum(ua * ub), -1.0, 1.0))
    if omega < 1e-6:
        direction = (1 - t) * ua + t * ub
    else:
        direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).astype("float32")
