"""The datasets the zoo is trained on: one registry, free of TensorFlow.

`DATASETS` maps a name to its `DatasetInfo` (image shape, classes, license,
citation); `keras_genae.data.datasets` loads them, the model cards state
their license and preprocessing, and `keras_genae/sample_images/` ships a
few test images of each.
"""

import dataclasses
import difflib


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the package knows about a dataset.

    Args:
        name: str. The name `load_dataset` takes.
        shape: tuple of 3 ints. `(height, width, channels)`.
        num_classes: int. Number of label classes.
        license: str. The data license, for the model cards.
    """

    name: str
    shape: tuple
    num_classes: int
    license: str


DATASETS = {
    d.name: d
    for d in (
        DatasetInfo("mnist", (28, 28, 1), 10,
                    "CC BY-SA 3.0 as redistributed by TensorFlow Datasets (the original "
                    "MNIST site states no license)"),
        DatasetInfo("fashion_mnist", (28, 28, 1), 10, "MIT, (c) 2017 Zalando SE"),
        DatasetInfo("cifar10", (32, 32, 3), 10,
                    "No formal license; cite Krizhevsky (2009), Learning Multiple Layers "
                    "of Features from Tiny Images"),
    )
}

#: How a recipe's training images are preprocessed, by its `binarize` mode.
PREPROCESSING = {
    None: "uint8 pixels divided by 255, float32 in [0, 1]",
    "dynamic": "uint8 pixels divided by 255, then binarized by Bernoulli sampling "
               "each epoch (training); evaluated on the statically binarized test set",
}


def check_dataset_name(name):
    """Return `name` if it is a known dataset, else raise with suggestions."""
    if name in DATASETS:
        return name
    close = difflib.get_close_matches(str(name).lower().replace("-", "_"), DATASETS, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown dataset {name!r}. Known datasets: {sorted(DATASETS)}.{hint}")


def dataset_for_shape(image_shape):
    """The first dataset whose images have `image_shape`, else None."""
    return next((d.name for d in DATASETS.values() if d.shape == tuple(image_shape)), None)
