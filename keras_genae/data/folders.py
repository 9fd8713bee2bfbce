"""`from_directory`: a dataset from a folder of image files (re-exported
as `keras_genae.data.from_directory`).

The files are found and checked by `keras_genae.data.image_io` (regular
files only, each real folder once, size and pixel caps, one
unreadable-file policy shared with `images.load_images`), then decoded
with TensorFlow ops (Pillow for WebP), upright per their EXIF orientation.
"""

import os

import tensorflow as tf

from keras_genae.data import image_io
from keras_genae.data.image_io import IMAGE_EXTENSIONS

_AUTOTUNE = tf.data.AUTOTUNE


def _make_loader(image_size, channels, crop_to_aspect_ratio):
    """`load(path, orientation, use_pil)`: a uint8 image at `image_size`.

    PNG, JPEG, BMP and GIF are decoded by TensorFlow; other formats (WebP)
    by Pillow. The EXIF `orientation` (1-8) is applied."""
    height, width = image_size

    def pil_decode(path):
        return image_io.read_image(os.fsdecode(path), channels)

    def tf_decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=0, dtype=tf.float32, expand_animations=False)
        c = tf.shape(image)[-1]
        # Drop an alpha channel (as PIL's convert does), then match channels.
        image = tf.cond((c == 2) | (c == 4), lambda: image[..., :-1], lambda: image)
        c = tf.shape(image)[-1]
        if channels == 1:
            image = tf.cond(c == 3, lambda: tf.image.rgb_to_grayscale(image), lambda: image)
        else:
            image = tf.cond(c == 1, lambda: tf.tile(image, [1, 1, 3]), lambda: image)
        return tf.ensure_shape(image, [None, None, channels])

    def decode(path, use_pil):
        def with_pil():
            image = tf.numpy_function(pil_decode, [path], tf.uint8, stateful=False)
            return tf.cast(tf.ensure_shape(image, [None, None, channels]), tf.float32) / 255.0

        return tf.cond(use_pil, with_pil, lambda: tf_decode(path))

    def upright(image, orientation):
        # EXIF orientation -> the transform that undoes it (as PIL's exif_transpose).
        branches = [
            lambda: image,
            lambda: tf.image.flip_left_right(image),
            lambda: tf.image.rot90(image, 2),
            lambda: tf.image.flip_up_down(image),
            lambda: tf.image.transpose(image),
            lambda: tf.image.rot90(image, 3),
            lambda: tf.image.rot90(tf.image.transpose(image), 2),
            lambda: tf.image.rot90(image, 1),
        ]
        return tf.switch_case(tf.clip_by_value(orientation - 1, 0, 7), branches)

    def load(path, orientation, use_pil):
        image = upright(decode(path, use_pil), orientation)
        image = tf.ensure_shape(image, [None, None, channels])
        h, w = tf.shape(image)[0], tf.shape(image)[1]
        if crop_to_aspect_ratio:  # the largest centered box of the target aspect
            hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
            ch = tf.clip_by_value(tf.cast(tf.round(wf * height / width), tf.int32), 1, h)
            cw = tf.clip_by_value(tf.cast(tf.round(hf * width / height), tf.int32), 1, w)
            image = tf.image.crop_to_bounding_box(image, (h - ch) // 2, (w - cw) // 2, ch, cw)
            h, w = ch, cw
        image = tf.cond(
            (h == height) & (w == width),
            lambda: image,
            lambda: tf.image.resize(image, (height, width), "bilinear", antialias=True),
        )
        image = tf.ensure_shape(image, [height, width, channels])
        return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)

    return load


def _undecodable(files, infos, load):
    """The files of `files` that `load` does not decode (one pass)."""
    paths = [os.fsencode(f) for f in files]
    ds = tf.data.Dataset.from_tensor_slices(
        (paths, [infos[f]["orientation"] for f in files], [infos[f]["use_pil"] for f in files]))
    # The reduction makes the decode a data dependency that cannot be pruned.
    ds = ds.map(lambda p, o, u: (p, tf.reduce_max(load(p, o, u))), num_parallel_calls=_AUTOTUNE)
    good = {p for p, _ in ds.ignore_errors().as_numpy_iterator()}
    return {f: "it does not decode (corrupt or truncated)" for f, p in zip(files, paths) if p not in good}


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

    - Size: images of another size are resized to `image_size` (bilinear,
      antialiased). With `crop_to_aspect_ratio=True` they are first cropped
      at the center to the target aspect ratio, so they are not distorted.
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
      guard against decompression bombs. `images.load_images` (and
      `genae reconstruct --images`) apply the same policy
      (`keras_genae.data.image_io`).

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
    infos, reasons = {}, {}
    for f in files:
        infos[f], reasons[f] = image_io.probe(f)
        if infos[f] is not None:
            infos[f]["use_pil"] = infos[f]["format"] not in image_io.TF_FORMATS
    files = image_io.select(files, on_error, reasons, where)
    load = _make_loader(tuple(image_size), channels, crop_to_aspect_ratio)
    files = image_io.select(files, on_error, _undecodable(files, infos, load), where)

    ds = tf.data.Dataset.from_tensor_slices((
        [os.fsencode(f) for f in files], [infos[f]["orientation"] for f in files],
        [infos[f]["use_pil"] for f in files]))
    if shuffle and not cache:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda p, o, u: (load(p, o, u), 0), num_parallel_calls=_AUTOTUNE)
    return _finish(
        ds, len(files), batch_size, shuffle and bool(cache), seed, cache, prefetch,
        drop_remainder, with_labels=False,
    )
