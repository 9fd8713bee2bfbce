"""What the `genae` commands share: argument types, checks, a checkpoint's
dataset, reading images and writing grids.

Importing this module imports no Keras (the parser uses it); the functions
import what they need when called. A command's own module imports the heavy
modules it needs at its top, so that they load inside `main`'s
`quiet.filtered_stderr`.
"""

import argparse
import json
import os

import numpy as np


# ------------------------------------------------------------ argument types
def positive_int(value):
    """`argparse` type of every positive-int option of `genae`."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return number


def fraction(value):
    """`argparse` type of a number strictly between 0 and 1."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 < number < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1 (exclusive), got {value!r}")
    return number


# -------------------------------------------------------------------- checks
def require(condition, message):
    """Raise `ValueError(message)` unless `condition`."""
    if not condition:
        raise ValueError(message)


def require_capability(model, name, capability, hint=""):
    """Raise a `ValueError` if `model` does not declare `capability` (one of
    `model.capabilities`), naming what it can do and `hint`."""
    if capability not in model.capabilities:
        raise ValueError(
            f"{name!r} ({type(model).__name__}) cannot {capability}: its capabilities are "
            f"{sorted(model.capabilities)}.{' ' + hint if hint else ''}"
        )


# -------------------------------------------------------------- checkpoints
def card_metadata(name):
    """`metadata.json` of a checkpoint directory or of a shipped checkpoint."""
    from keras_genae.hub.api import BUNDLED_CHECKPOINTS_DIR

    for directory in (name, BUNDLED_CHECKPOINTS_DIR / str(name)):
        path = os.path.join(directory, "metadata.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    return {}


def dataset_of(name, model):
    """The dataset a model was trained on: its manifest entry's, its model
    card's, else the dataset of its input shape (None if there is none)."""
    from keras_genae.data import catalog
    from keras_genae.hub import manifest

    entry = manifest.get_manifest().get(name)
    dataset = entry["dataset"] if entry else card_metadata(name).get("dataset")
    if dataset in catalog.DATASETS and catalog.DATASETS[dataset].shape == tuple(model.image_shape):
        return dataset
    return catalog.dataset_for_shape(model.image_shape)


def to_numpy(tensor):
    from keras import ops

    return ops.convert_to_numpy(tensor)


# ------------------------------------------------------------------- images
def read_images(paths, model, invert=False):
    """`(images, files)`: image files read at the model's input shape."""
    from keras_genae.data import image_io

    return image_io.load_images(paths, model.image_shape, invert=invert)


def input_images(args, model, name):
    """`--images` read at the model's shape, else the sample images shipped
    for its dataset; the first `args.n` of them if given."""
    if args.images:
        x, _ = read_images(args.images, model, invert=args.invert)
    else:
        from keras_genae.data import samples

        dataset = dataset_of(name, model)
        if dataset is None:
            raise ValueError(
                f"No sample images ship for the input shape {tuple(model.image_shape)} of "
                f"{name!r}; pass your own with --images DIR or FILES."
            )
        x, _ = samples.sample_images(dataset)
    n = getattr(args, "n", None)
    return x[:n] if n else x


def interpolate(a, b, steps, method):
    """Points from `a` to `b` along a line (`"lerp"`) or a great arc."""
    from keras_genae.utils.interpolation import interpolate as path

    return path(a, b, steps, method)


def side_by_side(inputs, outputs):
    from keras_genae.data import grids

    return grids.side_by_side(inputs, outputs)


def write_grid(images, out, ncols, scale, padding=2):
    """Save `images` as a PNG grid; returns `"<out> (<width>x<height>)"`."""
    from keras_genae.data import grids

    height, width = grids.save_grid(images, out, ncols=ncols, scale=scale, padding=padding)
    return f"{out} ({width}x{height})"


def psnr(x, y):
    """Mean PSNR (dB) of two batches of images in [0, 1]."""
    mse = np.mean(np.square(np.asarray(x) - np.asarray(y)), axis=(1, 2, 3))
    return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def print_metrics(metrics, title=None, as_json=False):
    """Print a metrics dict, as JSON or one `name value` line each."""
    if as_json:
        print(json.dumps(metrics, indent=2))
        return
    if title:
        print(title)
    for key, value in metrics.items():
        print(f"  {key:<18} {value:.6g}" if isinstance(value, float) else f"  {key:<18} {value}")
