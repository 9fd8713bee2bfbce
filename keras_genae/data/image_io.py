"""The one image-file reader: `data.from_directory` (a `tf.data` pipeline)
and `load_images` (NumPy, used by `genae reconstruct --images` and
`genae finetune`) both list, check and decode files here, so the same file
gives the same pixels in both.

- Decoding: `load_image` decodes with Pillow, applies the EXIF
  orientation (photos come in upright), converts to grey (Pillow's "L",
  ITU-R 601 luma) or RGB (an alpha channel is dropped, grey is repeated,
  16-bit grey is scaled), optionally crops at the center to the target
  aspect ratio, and resizes with Pillow's bilinear filter (antialiased
  when shrinking). Pillow, not TensorFlow, so that the CLI reads images
  without importing TensorFlow on the JAX and PyTorch backends, and one
  JPEG decoder (libjpeg) serves both readers.
- Only regular files are read (a symlink is followed to its target, which
  must be a regular file): a FIFO, a device such as `/dev/zero` or a socket
  named `.png` is skipped, never opened.
- With `follow_links=True`, each real folder is visited once (by device
  and inode), so a symlink loop neither repeats images nor recurses
  forever; each real file is listed once too.
- A file larger than `KERAS_GENAE_MAX_IMAGE_BYTES` bytes (default 256 MiB)
  or an image of more than `KERAS_GENAE_MAX_IMAGE_PIXELS` pixels (default
  `PIL.Image.MAX_IMAGE_PIXELS`, about 89 million) is skipped: the
  dimensions are read from the header before anything is decoded.
- A file that cannot be read is skipped with a logged warning that names
  it (`on_error="warn"`), or raises a `ValueError` that names it
  (`on_error="raise"`); when no file is readable, it raises.
- File names are kept as the OS gives them: a name that is not valid
  UTF-8 is read like any other.
"""

import logging
import os
import stat
import warnings

import numpy as np

logger = logging.getLogger("keras_genae.data")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_BYTES_ENV = "KERAS_GENAE_MAX_IMAGE_BYTES"
MAX_PIXELS_ENV = "KERAS_GENAE_MAX_IMAGE_PIXELS"
DEFAULT_MAX_BYTES = 256 << 20
DEFAULT_MAX_PIXELS = 89_478_485  # PIL.Image.MAX_IMAGE_PIXELS


def limits():
    """`(max_bytes, max_pixels)`, read from the environment now."""
    values = []
    for var, default in ((MAX_BYTES_ENV, DEFAULT_MAX_BYTES), (MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)):
        text = os.environ.get(var)
        try:
            value = int(text) if text else default
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"`{var}` must be a positive integer. Received: {var}={text!r}")
        values.append(value)
    return tuple(values)


def _is_image_name(name):
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def list_image_files(path, follow_links=False):
    """Image files (by extension) under a folder, recursively and sorted.

    Names that start with "." are skipped; see the module docstring for
    special files and links.

    Args:
        path: str. The folder.
        follow_links: bool. Enter symbolic links to folders. Defaults to
            `False`.

    Returns:
        `(files, others)`: the sorted image files and the number of other
        files seen.

    Example:
    >>> files, _ = list_image_files("my_digits/")
    """
    files, others, seen_dirs, seen_files = [], 0, set(), set()
    pending = [os.fspath(path)]
    while pending:
        root = pending.pop()
        try:
            info = os.stat(root)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen_dirs:
            continue
        seen_dirs.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except OSError as e:
            logger.warning("Skipping unreadable folder %r: %s", root, e)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=follow_links):
                pending.append(entry.path)
            elif _is_image_name(entry.name):
                key = _file_key(entry.path)
                if key not in seen_files:
                    seen_files.add(key)
                    files.append(entry.path)
            else:
                others += 1
    return sorted(files), others


def _file_key(path):
    try:
        info = os.stat(path)
        return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else path
    except OSError:
        return path


def probe(path):
    """Check an image file without decoding its pixels.

    Returns:
        `(info, reason)`: `info` is a dict with `format`, `size` (width,
        height) and `orientation` (the EXIF tag, 1 when upright); `reason`
        is None, or why the file must not be read.
    """
    from PIL import Image

    max_bytes, max_pixels = limits()
    try:
        info = os.stat(path)
    except OSError as e:
        return None, f"cannot stat it ({e.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return None, "not a regular file (a FIFO, device or socket)"
    if info.st_size > max_bytes:
        return None, f"{info.st_size} bytes, more than {max_bytes} ({MAX_BYTES_ENV})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # Reads the header only.
                width, height = image.size
                fmt = image.format
                orientation = image.getexif().get(0x0112, 1) if fmt in ("JPEG", "WEBP", "PNG") else 1
    except Image.DecompressionBombError as e:
        return None, f"too many pixels ({e})"
    except Exception as e:  # Pillow raises many types on bad headers.
        return None, f"not a readable image ({type(e).__name__}: {e})"
    if width * height > max_pixels:
        return None, f"{width}x{height} pixels, more than {max_pixels} ({MAX_PIXELS_ENV})"
    return {"format": fmt, "size": (width, height),
            "orientation": orientation if orientation in range(1, 9) else 1}, None


def select(files, on_error, reasons, where):
    """Apply the unreadable-file policy: `reasons` maps a file to why it
    cannot be read. Return the readable files, in order."""
    bad = [f for f in files if reasons.get(f)]
    if bad:
        listing = "\n  ".join(f"{f!r}: {reasons[f]}" for f in bad[:20])
        if len(bad) > 20:
            listing += f"\n  ... and {len(bad) - 20} more"
        if len(files) == 1:
            raise ValueError(
                f"Cannot read the image file {bad[0]!r} (1 of 1 image file(s) {where}): {reasons[bad[0]]}."
            )
        if on_error == "raise" or len(bad) == len(files):
            raise ValueError(
                f"{len(bad)} of {len(files)} image file(s) {where} could not be read:\n  {listing}"
            )
        for f in bad:
            logger.warning("Skipping unreadable image file %r: %s", f, reasons[f])
    return [f for f in files if not reasons.get(f)]


def check_on_error(on_error):
    if on_error not in ("warn", "raise"):
        raise ValueError(f"`on_error` must be 'warn' or 'raise'. Received: on_error={on_error!r}")


def crop_box(width, height, target_height, target_width):
    """The largest centered box `(left, top, right, bottom)` of a
    `width` x `height` image with the aspect ratio of the target."""
    crop_h = min(max(int(round(width * target_height / target_width)), 1), height)
    crop_w = min(max(int(round(height * target_width / target_height)), 1), width)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return left, top, left + crop_w, top + crop_h


def _to_mode(image, channels):
    """`image` as Pillow's "L" or "RGB": an alpha channel is dropped, and
    16-bit grey is scaled (Pillow's own conversion would clip it)."""
    if image.mode == "I" or image.mode.startswith("I;16"):
        from PIL import Image

        values = np.asarray(image, dtype="float64")
        grey = np.round(np.clip(values / 65535.0, 0.0, 1.0) * 255.0).astype("uint8")
        image = Image.fromarray(grey)
    return image.convert("L" if channels == 1 else "RGB")


def load_image(path, image_size, channels, crop_to_aspect_ratio=False):
    """Read one image file the keras_genae way, as uint8 `(height, width,
    channels)`: the one decoder of `from_directory` and `load_images`.

    The caller has checked the file with `probe`. Pillow decodes it (the
    first frame of an animation), turns it upright (EXIF orientation),
    converts it to grey (ITU-R 601 luma, Pillow's "L") or RGB (an alpha
    channel is dropped; grey is repeated), crops it at the center to the
    target aspect ratio if asked, then resizes it with Pillow's bilinear
    filter (antialiased when shrinking).

    Args:
        path: str or path-like. The file.
        image_size: tuple `(height, width)`.
        channels: `1` or `3`.
        crop_to_aspect_ratio: bool. Defaults to `False` (the image is
            stretched to `image_size`).

    Returns:
        uint8 array `(height, width, channels)`.
    """
    from PIL import Image
    from PIL import ImageOps

    height, width = image_size
    with Image.open(path) as image:
        image.seek(0)
        image = _to_mode(ImageOps.exif_transpose(image), channels)
    if crop_to_aspect_ratio:
        box = crop_box(image.width, image.height, height, width)
        if box != (0, 0, image.width, image.height):
            image = image.crop(box)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype="uint8").reshape(height, width, channels)


def decode_files(files, image_size, channels, crop_to_aspect_ratio=False, keep=True):
    """`load_image` every file (in threads: Pillow releases the GIL).

    Returns:
        `(arrays, reasons)`: dicts from each file to its uint8 image
        (empty when `keep=False`) and to why it does not decode (None when
        it does).
    """
    from concurrent.futures import ThreadPoolExecutor

    def read(f):
        try:
            image = load_image(f, image_size, channels, crop_to_aspect_ratio)
            return (image if keep else None), None
        except Exception as e:  # Pillow raises many types on corrupt data.
            return None, f"it does not decode ({type(e).__name__}: {e})"

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(read, files))
    arrays = {f: a for f, (a, _) in zip(files, results) if a is not None}
    return arrays, {f: reason for f, (_, reason) in zip(files, results)}


def _gather(paths):
    """The image files named by `paths` (files, folders or a list of both)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found, _ = list_image_files(p)
            if not found:
                raise ValueError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found under {p!r}.")
            files += found
        elif os.path.lexists(p):
            files.append(p)
        else:
            raise FileNotFoundError(f"No such image file or folder: {p!r}.")
    if not files:
        raise ValueError("`paths` must name at least one image file or folder. Received: paths=[]")
    return files


def load_images(paths, image_shape, invert=False, on_error="warn", crop_to_aspect_ratio=False):
    """Read image files as a float32 batch at `image_shape`.

    Each file is read by `load_image`, as by `data.from_directory`, so the
    same file gives the same pixels in both: upright (EXIF orientation),
    grey or RGB to match the channels (an alpha channel is dropped),
    optionally cropped at the center to the target aspect ratio, resized
    with Pillow's bilinear filter, and scaled to [0, 1]. Unreadable files
    follow the same policy too: special files, files over the size or
    pixel caps and files that do not decode are skipped with a logged
    warning (`on_error="warn"`) or raise (`on_error="raise"`); when none
    is readable, it raises.

    Args:
        paths: a file, a folder (searched recursively for PNG, JPEG, BMP,
            GIF and WebP files), or a list of files and folders.
        image_shape: tuple `(height, width, channels)` with 1 or 3 channels,
            e.g. `model.image_shape`.
        invert: bool. Use `1 - x`, e.g. for dark digits on white paper with
            a model trained on MNIST's white digits on black. Defaults to
            `False`.
        on_error: `"warn"` or `"raise"`. Defaults to `"warn"`.
        crop_to_aspect_ratio: bool. Crop at the center to the aspect ratio
            of `image_shape` before resizing, so images are not distorted.
            Defaults to `False`.

    Returns:
        `(images, files)`: float32 array `(n, height, width, channels)`
        and the list of files read, in the same order.

    Example:
    >>> x, files = load_images("my_digits/", (28, 28, 1), invert=True)
    """
    if (
        len(image_shape) != 3 or image_shape[-1] not in (1, 3)
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                   for d in image_shape)
    ):
        raise ValueError(
            "`image_shape` must be (height, width, channels) with 1 or 3 "
            f"channels. Received: image_shape={tuple(image_shape)}"
        )
    check_on_error(on_error)
    height, width, channels = (int(d) for d in image_shape)
    files = _gather(paths)
    reasons = {f: probe(f)[1] for f in files}
    arrays, decode_reasons = decode_files(
        [f for f in files if not reasons[f]], (height, width), channels, crop_to_aspect_ratio)
    reasons.update(decode_reasons)
    files = select(files, on_error, reasons, "given")
    batch = np.stack([arrays[f] for f in files]).astype("float32") / 255.0
    if invert:
        batch = 1.0 - batch
    return batch, files
