"""Input pipelines: MNIST, Fashion-MNIST and CIFAR-10, and folders of images.

Every pipeline is a `tf.data.Dataset` of float32 images in [0, 1] with a
channel axis, `(batch, height, width, channels)`, built from TensorFlow ops
only (no Python runs per element). Images stay `uint8` until after batching,
so caches hold one byte per pixel.

Where the data comes from (`load_dataset` and `load_arrays`):

- `data_dir=` or the `KERAS_GENAE_DATA` environment variable names a folder
  with `<name>.npz` files (uint8 `x_train`, `y_train`, `x_test`, `y_test`;
  grey images may lack the channel axis), as in ../shared/data. Use this
  offline.
- Otherwise the data is read with `tensorflow_datasets` (`tfds.load`), which
  downloads it on first use. Note: TFDS serves the current Fashion-MNIST
  release, while a local npz may hold another one (see its README).
"""

import logging
import os
import re

import numpy as np
import tensorflow as tf

from keras_genae.data import catalog
from keras_genae.data import image_io
from keras_genae.data.catalog import check_dataset_name

logger = logging.getLogger(__name__)

#: Name -> image shape of every dataset that `load_dataset` knows (the
#: datasets of `keras_genae.data.catalog`).
DATASETS = {name: info.shape for name, info in catalog.DATASETS.items()}
#: Environment variable naming a folder of `<name>.npz` files.
DATA_DIR_ENV = "KERAS_GENAE_DATA"
#: Values of the `binarize` argument of `load_dataset`.
BINARIZE_MODES = ("threshold", "static", "dynamic")
#: Seed of the `"static"` binarization; fixed so that every run, machine
#: and call sees the same binary images.
STATIC_BINARIZATION_SEED = 0
IMAGE_EXTENSIONS = image_io.IMAGE_EXTENSIONS

_SPLIT_RE = re.compile(r"^(train|test)(?:\[(-?\d+%?)?:(-?\d+%?)?\])?$")
_AUTOTUNE = tf.data.AUTOTUNE


def resolve_data_dir(data_dir=None):
    """The local data folder: `data_dir`, else `$KERAS_GENAE_DATA`, else None."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or None
    return None if data_dir is None else os.fspath(data_dir)


def _parse_split(split):
    """`"train"`, `"test[:1000]"`, `"train[90%:]"` -> (base, start, stop)."""
    match = _SPLIT_RE.match(str(split).replace(" ", ""))
    if not match:
        raise ValueError(
            "`split` must be 'train' or 'test', optionally sliced as in TFDS "
            f"('train[:5000]', 'test[50%:]'). Received: split={split!r}"
        )
    return match.groups()


def _slice_bound(bound, n):
    if bound is None:
        return None
    if bound.endswith("%"):
        return int(round(n * int(bound[:-1]) / 100))
    return int(bound)


def _read_npz(name, split, data_dir):
    path = os.path.join(data_dir, f"{name}.npz")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No local copy of {name!r}: {path!r} does not exist. `data_dir` (or "
            f"${DATA_DIR_ENV}) must name a folder with {name}.npz holding uint8 "
            f"x_train, y_train, x_test, y_test. Received: data_dir={data_dir!r}"
        )
    base, start, stop = _parse_split(split)
    with np.load(path) as arrays:
        missing = {f"x_{base}", f"y_{base}"} - set(arrays.files)
        if missing:
            raise ValueError(
                f"{path!r} lacks the arrays {sorted(missing)}. Found: {arrays.files}."
            )
        x, y = arrays[f"x_{base}"], arrays[f"y_{base}"]
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.dtype != np.uint8 or tuple(x.shape[1:]) != DATASETS[name]:
        raise ValueError(
            f"`x_{base}` in {path!r} must be uint8 images of shape (N,) + "
            f"{DATASETS[name]}. Received shape {x.shape} and dtype {x.dtype}."
        )
    n = len(x)
    sl = slice(_slice_bound(start, n), _slice_bound(stop, n))
    return x[sl], y[sl].astype(np.int32)


def _tfds_load(name, split, **kwargs):
    import tensorflow_datasets as tfds

    _parse_split(split)
    try:
        return tfds.load(name, split=split, as_supervised=True, **kwargs)
    except Exception as e:  # Network errors have many types; add the offline hint.
        raise RuntimeError(
            f"Could not load {name!r} with tensorflow_datasets ({type(e).__name__}: "
            f"{e}). Without internet access, pass `data_dir=` or set "
            f"${DATA_DIR_ENV} to a folder holding {name}.npz."
        ) from e


def load_arrays(name, split="test", data_dir=None, dtype="float32"):
    """Load a whole split as NumPy arrays, for evaluation scripts.

    Args:
        name: `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        split: `"train"` or `"test"`, optionally sliced as in TFDS
            (`"test[:1000]"`, `"train[90%:]"`). Defaults to `"test"`.
        data_dir: str or None. Folder with `<name>.npz`; defaults to
            `$KERAS_GENAE_DATA`, and when neither is set the data is read
            with `tensorflow_datasets`.
        dtype: `"float32"` (images in [0, 1]) or `"uint8"` (raw levels).
            Defaults to `"float32"`.

    Returns:
        `(images, labels)`: images `(N, H, W, C)`, int32 labels `(N,)`.

    Example:
    >>> x, y = load_arrays("mnist", "test", data_dir="../shared/data")
    >>> x.shape, x.dtype
    ((10000, 28, 28, 1), dtype('float32'))
    """
    check_dataset_name(name)
    if dtype not in ("float32", "uint8"):
        raise ValueError(f"`dtype` must be 'float32' or 'uint8'. Received: dtype={dtype!r}")
    data_dir = resolve_data_dir(data_dir)
    if data_dir is not None:
        x, y = _read_npz(name, split, data_dir)
    else:
        batches = list(_tfds_load(name, split).batch(10_000).as_numpy_iterator())
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches]).astype(np.int32)
    if dtype == "float32":
        x = x.astype(np.float32) / 255.0
    return x, y


def _source(name, split, data_dir):
    """A dataset of `(uint8 image, int32 label)` and its size (or None)."""
    data_dir = resolve_data_dir(data_dir)
    if data_dir is not None:
        x, y = _read_npz(name, split, data_dir)
        return tf.data.Dataset.from_tensor_slices((x, y)), len(x)
    ds = _tfds_load(name, split)
    ds = ds.map(lambda x, y: (x, tf.cast(y, tf.int32)))
    n = int(ds.cardinality())
    return ds, (n if n >= 0 else None)


def _static_binarize(index, element):
    """A fixed Bernoulli sample per image, seeded by its index in the split."""
    image, label = element
    seed = tf.stack([tf.constant(STATIC_BINARIZATION_SEED, tf.int64), index])
    u = tf.random.stateless_uniform(tf.shape(image), seed=seed)
    bits = u < tf.cast(image, tf.float32) / 255.0
    return tf.cast(bits, tf.uint8) * 255, label


def _check_common(batch_size, limit, cache):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"`limit` must be a positive integer or None. Received: limit={limit!r}")
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise ValueError(
            f"`cache` must be a bool or a file path. Received: cache={cache!r}"
        )


def _finish(ds, size, batch_size, shuffle, seed, cache, prefetch, drop_remainder,
            with_labels, dynamic_binarize=False, shuffle_buffer=None):
    """cache -> shuffle -> batch -> to float (-> dynamic binarize) -> prefetch."""
    if cache is True:
        ds = ds.cache()
    elif cache:
        ds = ds.cache(os.fspath(cache))
    if shuffle:
        buffer = shuffle_buffer or size or 10_000
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def to_float(images, labels):
        return tf.cast(images, tf.float32) / 255.0, labels

    ds = ds.map(to_float, num_parallel_calls=_AUTOTUNE)
    if dynamic_binarize:
        # One stateless seed per batch, from a stream that is new every
        # epoch and reproducible for a given `seed`.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def sample(batch, seed_pair):
            images, labels = batch
            u = tf.random.stateless_uniform(tf.shape(images), seed=seed_pair)
            return tf.cast(u < images, tf.float32), labels

        ds = tf.data.Dataset.zip((ds, seeds)).map(sample, num_parallel_calls=_AUTOTUNE)
    if not with_labels:
        ds = ds.map(lambda images, labels: images)
    if prefetch:
        ds = ds.prefetch(_AUTOTUNE)
    return ds


def load_dataset(
    name,
    split="train",
    batch_size=128,
    shuffle=None,
    seed=None,
    binarize=None,
    with_labels=False,
    data_dir=None,
    cache=True,
    prefetch=True,
    drop_remainder=False,
    limit=None,
    shuffle_buffer=None,
):
    """Load MNIST, Fashion-MNIST or CIFAR-10 as a batched `tf.data.Dataset`.

    Images are float32 in [0, 1] of shape `(batch, H, W, C)` (MNIST and
    Fashion-MNIST get their channel axis, `C = 1`). The pipeline reads the
    split, caches it, shuffles it, batches it, converts it to floats and
    prefetches.

    Args:
        name: `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        split: `"train"` or `"test"`, optionally sliced as in TFDS
            (`"train[:50000]"`, `"train[90%:]"`). Defaults to `"train"`.
        batch_size: int. Defaults to `128`.
        shuffle: bool or None. `None` shuffles the train split only; the
            order is reshuffled every epoch. Note that the CIFAR-10 test set
            of ../shared/data is sorted by class. Defaults to `None`.
        seed: int or None. Seed of the shuffle and of `"dynamic"`
            binarization; the same seed gives the same batches in the same
            order on every run. Defaults to `None`.
        binarize: None, `"threshold"`, `"static"` or `"dynamic"`. Binarized
            images take values 0 and 1, for models with a Bernoulli
            likelihood:
            - `"threshold"`: pixels >= 0.5 become 1 (deterministic).
            - `"static"`: one Bernoulli sample per pixel with the grey level
              as probability, fixed once and for all (seeded by
              `STATIC_BINARIZATION_SEED` and the image's index in the
              split, whatever `seed`). Use it to evaluate on "the
              binarized test set".
            - `"dynamic"`: a new Bernoulli sample every epoch, the usual
              way to train VAEs on MNIST.
            Defaults to `None` (grey levels).
        with_labels: bool. Yield `(images, labels)` with int32 labels
            instead of images. Defaults to `False`.
        data_dir: str or None. Folder with `<name>.npz`; defaults to
            `$KERAS_GENAE_DATA`, and when neither is set the data is read
            with `tensorflow_datasets`.
        cache: bool or str. Cache the uint8 images in memory (`True`) or in
            the given file. Defaults to `True`.
        prefetch: bool. Defaults to `True`.
        drop_remainder: bool. Drop the last, smaller batch. Defaults to
            `False`.
        limit: int or None. Keep only the first `limit` images of the
            split (before shuffling), for quick runs. Defaults to `None`.
        shuffle_buffer: int or None. Defaults to the size of the split.

    Returns:
        A `tf.data.Dataset`.

    Example:
    >>> ds = keras_genae.data.load_dataset("mnist", batch_size=64,
    ...     binarize="dynamic", seed=0, data_dir="../shared/data")
    >>> next(iter(ds)).shape
    TensorShape([64, 28, 28, 1])
    >>> vae.fit(ds, epochs=10)
    """
    check_dataset_name(name)
    _check_common(batch_size, limit, cache)
    if binarize not in (None,) + BINARIZE_MODES:
        raise ValueError(
            f"`binarize` must be None or one of {list(BINARIZE_MODES)}. "
            f"Received: binarize={binarize!r}"
        )
    if shuffle is None:
        shuffle = _parse_split(split)[0] == "train"
    ds, size = _source(name, split, data_dir)
    if binarize == "static":
        ds = ds.enumerate().map(_static_binarize, num_parallel_calls=_AUTOTUNE)
    elif binarize == "threshold":
        ds = ds.map(
            lambda x, y: (tf.cast(x >= 128, tf.uint8) * 255, y),  # x / 255 >= 0.5
            num_parallel_calls=_AUTOTUNE,
        )
    if limit is not None:
        ds = ds.take(limit)
        size = min(size, limit) if size else limit
    return _finish(
        ds, size, batch_size, shuffle, seed, cache, prefetch, drop_remainder,
        with_labels, dynamic_binarize=binarize == "dynamic",
        shuffle_buffer=shuffle_buffer,
    )


# ---------------------------------------------------------------- folders
from keras_genae.data.folders import from_directory  # noqa: E402,F401 (public name)
