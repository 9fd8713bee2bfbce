"""The sample images shipped with the package: 16 test images per dataset
(one per class, then six more), so that demos need no download."""

import importlib.resources

import numpy as np

from keras_genae.data.catalog import DATASETS
from keras_genae.data.catalog import dataset_for_shape  # noqa: F401 (public name)

#: Datasets with shipped sample images (every dataset of the catalog), and
#: their image shapes.
SAMPLE_DATASETS = {name: info.shape for name, info in DATASETS.items()}


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
