"""Argument and input checks with Keras-style error messages.

The checks read shapes and dtypes of numpy arrays, of tensors of any Keras
backend and of `tf.data` specs alike (`keras.backend.standardize_dtype`).
"""

import keras
import numpy as np


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


def check_non_negative_float(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value < 0:
        raise ValueError(
            f"`{name}` must be a non-negative number. Received: {name}={value!r}"
        )


def check_positive_float(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")


def check_fraction(value, name):
    """Raise unless `value` is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")


def check_non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer. Received: {name}={value!r}")


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")


def check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {sorted(choices)}. Received: {name}={value!r}"
        )


def check_image_shape(image_shape):
    """Return `image_shape` as a tuple `(H, W, C)` of positive ints."""
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        shape = None
    if shape is None or len(shape) != 3 or min(shape) <= 0:
        raise ValueError(
            "`image_shape` must be a tuple (height, width, channels) of positive "
            f"integers, for example (28, 28, 1). Received: image_shape={image_shape!r}"
        )
    return shape


def check_spatial_divisible(image_shape, levels):
    """Raise unless height and width are divisible by `2**levels`."""
    factor = 2**levels
    h, w = image_shape[0], image_shape[1]
    if h is None or w is None:
        return
    if h % factor or w % factor:
        raise ValueError(
            f"The image height and width must be divisible by 2**levels={factor} "
            f"(levels is the number of encoder filters). Received: "
            f"image_shape={tuple(image_shape)}. Use fewer levels, or resize or pad "
            "the images."
        )


def _describe(x):
    return f"an array of shape {tuple(x.shape)} and dtype {x.dtype}"


def _dtype_name(dtype):
    """The standard name (`"float32"`, `"uint8"`...) of a numpy, TF, JAX or
    torch dtype, or its `str` when Keras does not know it."""
    try:
        return keras.backend.standardize_dtype(dtype)
    except (ValueError, TypeError, AttributeError):
        return str(dtype)


def validate_image_spec(shape, dtype, image_shape, what="input"):
    """Check the static shape and dtype of an image batch."""
    dtype = _dtype_name(dtype)
    if "float" not in dtype:
        hint = (
            " Convert uint8 images with `x.astype('float32') / 255`."
            if dtype.startswith(("int", "uint"))
            else ""
        )
        raise ValueError(
            f"Expected float images in [0, 1] for the {what}. Received dtype "
            f"{dtype} with shape {tuple(shape)}.{hint}"
        )
    shape = tuple(shape)
    if len(shape) != 4:
        hint = ""
        if len(shape) == 3 and image_shape[-1] == 1:
            hint = " Add the channel axis with `x[..., None]`."
        elif len(shape) == 3:
            hint = " Add the batch axis with `x[None]`."
        raise ValueError(
            f"Expected a batch of images of rank 4 (batch, {image_shape[0]}, "
            f"{image_shape[1]}, {image_shape[2]}) for the {what}. Received rank "
            f"{len(shape)} with shape {shape}.{hint}"
        )
    if shape[-1] is not None and shape[-1] != image_shape[-1]:
        raise ValueError(
            f"Expected {image_shape[-1]} channel(s) for the {what}, as the model "
            f"was built for image_shape={tuple(image_shape)}. Received shape "
            f"{shape} with {shape[-1]} channel(s)."
        )
    if any(
        s is not None and s != e for s, e in zip(shape[1:3], image_shape[:2])
    ):
        raise ValueError(
            f"Expected images of height and width {tuple(image_shape[:2])} for the "
            f"{what}. Received shape {shape}. Resize the images first, or build "
            f"the model with image_shape={tuple(shape[1:])}."
        )


def to_numpy(x):
    """A concrete array or tensor of any backend as a numpy array."""
    if isinstance(x, np.ndarray):
        return x
    if keras.ops.is_tensor(x):
        return keras.ops.convert_to_numpy(x)
    return np.asarray(x)


def validate_image_values(x, what="input"):
    """Check that a concrete array holds finite values in [0, 1]."""
    x = to_numpy(x)
    if x.size == 0:
        raise ValueError(f"The {what} is empty. Received {_describe(x)}.")
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"The {what} contains NaN or infinite values.")
    if lo < 0.0 or hi > 1.0:
        hint = " Divide by 255." if hi > 1.0 and hi <= 255.0 and lo >= 0 else ""
        if lo < 0.0 and lo >= -1.0 and hi <= 1.0:
            hint = " Map [-1, 1] images to [0, 1] with `(x + 1) / 2`."
        raise ValueError(
            f"Expected float images in [0, 1] for the {what}. Received values in "
            f"[{lo:.4g}, {hi:.4g}].{hint}"
        )


def validate_images(x, image_shape, what="input"):
    """Full check of a concrete batch: dtype, rank, size, channels, range."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    validate_image_spec(x.shape, x.dtype, image_shape, what)
    validate_image_values(x, what)


def check_class_labels(labels, n, num_classes):
    """`labels` (one int, or `n` ints in [0, num_classes); a list, an
    array or a tensor) as an int32 numpy array `(n,)`, or raise.

    Raises:
        ValueError: a shape, dtype or value out of range, saying which.
    """
    ops = keras.ops
    array = np.asarray(ops.convert_to_numpy(labels) if ops.is_tensor(labels) else labels)
    if array.ndim == 0:
        array = np.full((n,), array)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer) \
            or array.min() < 0 or array.max() >= num_classes:
        raise ValueError(
            f"`labels` must be one int or {n} ints in [0, {num_classes}). "
            f"Received: labels of shape {array.shape} and dtype {array.dtype}"
            + (f", values in [{array.min()}, {array.max()}]"
               if array.size and np.issubdtype(array.dtype, np.integer) else ""))
    return array.astype("int32")

