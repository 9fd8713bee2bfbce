"""Finding and checking image files, shared by `data.from_directory` and
`images.load_images` (and so by `genae reconstruct --images`).

One policy for both readers:

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
- EXIF orientation is applied, so photos come in upright.
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
#: Formats TensorFlow's `decode_image` reads; others are decoded by Pillow.
TF_FORMATS = ("PNG", "JPEG", "BMP", "GIF")


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


def read_image(path, channels):
    """Decode an image file with Pillow, upright, as uint8 `(h, w, channels)`.

    The caller has checked it with `probe`. The first frame of an
    animation is used; an alpha channel is dropped.
    """
    from PIL import Image
    from PIL import ImageOps

    with Image.open(path) as image:
        image.seek(0)
        image = ImageOps.exif_transpose(image)
        image = image.convert("L" if channels == 1 else "RGB")
        array = np.asarray(image, dtype="uint8")
    return array.reshape(array.shape[0], array.shape[1], channels)
