"""`from_directory`: a dataset from a folder of image files (re-exported
as `keras_genae.data.from_directory`).

The files are found, checked and decoded by `keras_genae.data.image_io`
(regular files only, each real folder once, size and pixel caps, one
unreadable-file policy, one decoder and resizer), the same code as
`image_io.load_images`: a file gives the same pixels in
`fit(from_directory(...))` and in `genae reconstruct --images`.
"""

import os

import tensorflow as tf

from keras_genae.data import image_io
from keras_genae.data.image_io import IMAGE_EXTENSIONS

_AUTOTUNE = tf.data.AUTOTUNE


def _make_loader(image_size, channels, crop_to_aspect_ratio):
    """`load(path)`: `image_io.load_image` as a `tf.data` op (uint8)."""
    height, width = image_size

    def read(path):
        return image_io.load_image(os.fsdecode(path), image_size, channels, crop_to_aspect_ratio)

    def load(path):
        image = tf.numpy_function(read, [path], tf.uint8, stateful=False)
        return tf.ensure_shape(image, [height, width, channels])

    return load


def from_directory(
    path,
    image_size,
    channels=3,
    batch_size=32,
    shuffle=True,
    seed=None,
    cache=True,
    prefetch=True,
    drop_remainder=False,
    crop_to_aspect_ratio=False,
    on_error="warn",
    follow_links=False,
    limit=None,
):
    """Make a dataset of float images in [0, 1] from a folder of image files.

    This is how to fine-tune a model on your own images: the folder is
    searched recursively for PNG, JPEG, BMP, GIF and WebP files (by extension,
    case-insensitive; names starting with "." are skipped, and a GIF gives
    its first frame). Sub-folders are not labels: every image is used.

    - Size: images of another size are resized to `image_size` (Pillow's
      bilinear filter, antialiased when shrinking). With
      `crop_to_aspect_ratio=True` they are first cropped at the center to
      the target aspect ratio, so they are not distorted.
    - Channels: grey images are repeated to RGB when `channels=3`, RGB
      images are converted to grey (ITU-R 601 luma, as PIL's "L") when
      `channels=1`, and an alpha channel is dropped.
    - Orientation: the EXIF orientation of a photo is applied.
    - Unreadable files: every file is checked (its header, before any
      pixel is decoded) and decoded once when the dataset is made. With
      `on_error="warn"` (the default) a file that cannot be read is
      skipped, with a logged warning that names it and says why; with
      `on_error="raise"` it raises a `ValueError` that names it. When no
      file is readable, it raises. Unreadable means: corrupt, truncated or
      not an image; not a regular file (a FIFO or device, also through a
      symlink); over `KERAS_GENAE_MAX_IMAGE_BYTES` bytes (256 MiB) or over
      `KERAS_GENAE_MAX_IMAGE_PIXELS` pixels (PIL's `MAX_IMAGE_PIXELS`), a
      guard against decompression bombs.
    - The same file gives the same pixels here and in
      `keras_genae.data.load_images` (and so `genae reconstruct --images`
      and `genae finetune`): both read it with `image_io.load_image`.

    Args:
        path: str or path-like. The folder.
        image_size: int or tuple `(height, width)`.
        channels: `1` (grey) or `3` (RGB). Defaults to `3`.
        batch_size: int. Defaults to `32`.
        shuffle: bool. Reshuffle every epoch. Defaults to `True`.
        seed: int or None. Seed of the shuffle. Defaults to `None`.
        cache: bool or str. Cache the decoded, resized uint8 images in
            memory (`True`) or in the given file; the files are then read
            only in the first epoch. Defaults to `True`.
        prefetch: bool. Defaults to `True`.
        drop_remainder: bool. Defaults to `False`.
        crop_to_aspect_ratio: bool. Defaults to `False`.
        on_error: `"warn"` or `"raise"`. Defaults to `"warn"`.
        follow_links: bool. Follow symbolic links to folders; each real
            folder is visited once, so a link loop is harmless. Defaults
            to `False`.
        limit: int or None. Use only the first `limit` files in sorted
            order. Defaults to `None`.

    Returns:
        A `tf.data.Dataset` of `(batch, height, width, channels)` float32
        images.

    Example:
    >>> ds = keras_genae.data.from_directory("my_sketches/", (28, 28),
    ...     channels=1, batch_size=64)
    >>> model = keras_genae.load("vae_mnist")
    >>> model.fit(ds, epochs=5)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"`path` does not exist. Received: path={path!r}")
    if not os.path.isdir(path):
        raise NotADirectoryError(
            f"`path` must be a folder of image files. Received: path={path!r}"
        )
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (tuple, list)) or len(image_size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in image_size)
    ):
        raise ValueError(
            "`image_size` must be a positive int or a tuple (height, width) of "
            f"positive ints. Received: image_size={image_size!r}"
        )
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
    from keras_genae.data.datasets import _check_common
    from keras_genae.data.datasets import _finish

    image_io.check_on_error(on_error)
    _check_common(batch_size, limit, cache)

    files, others = image_io.list_image_files(path, follow_links)
    if not files:
        raise ValueError(
            f"No image files found under {path!r} (searched recursively for "
            f"{', '.join(IMAGE_EXTENSIONS)}; {others} other file(s) found)."
        )
    files = files[:limit] if limit else files
    where = f"under {path!r}"
    image_size = tuple(image_size)
    files = image_io.select(files, on_error, {f: image_io.probe(f)[1] for f in files}, where)
    # Every file is decoded once now, so that an unreadable one is named here.
    _, reasons = image_io.decode_files(files, image_size, channels, crop_to_aspect_ratio, keep=False)
    files = image_io.select(files, on_error, reasons, where)
    load = _make_loader(image_size, channels, crop_to_aspect_ratio)

    ds = tf.data.Dataset.from_tensor_slices([os.fsencode(f) for f in files])
    if shuffle and not cache:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda p: (load(p), 0), num_parallel_calls=_AUTOTUNE)
    return _finish(
        ds, len(files), batch_size, shuffle and bool(cache), seed, cache, prefetch,
        drop_remainder, with_labels=False,
    )
