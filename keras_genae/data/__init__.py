"""Data: the datasets of the zoo, folders of the user's images, image files
and image grids.

Modules:
    datasets: MNIST, Fashion-MNIST and CIFAR-10 as `tf.data` pipelines or
        arrays (local `.npz` files or TensorFlow Datasets); binarization
        and the split grammar; the `DATASETS` registry.
    folders: `from_directory`, a folder of the user's images as a pipeline.
    image_io: the one image-file reader (lister, checker, decoder and
        resizer) of `from_directory` and `load_images`.
    grids: image grids and side-by-side pictures, saved as PNGs.
    samples: the 16 sample images shipped per dataset.

The names below import on first use (PEP 562): `datasets` and `folders`
import TensorFlow (`tf.data`).
"""

from keras_genae.utils.lazy import lazy_attributes

_LAZY = {
    "DATASETS": "keras_genae.data.datasets",
    "DATA_DIR_ENV": "keras_genae.data.datasets",
    "BINARIZE_MODES": "keras_genae.data.datasets",
    "STATIC_BINARIZATION_SEED": "keras_genae.data.datasets",
    "check_dataset_name": "keras_genae.data.catalog",
    "resolve_data_dir": "keras_genae.data.datasets",
    "load_arrays": "keras_genae.data.datasets",
    "load_dataset": "keras_genae.data.datasets",
    "from_directory": "keras_genae.data.folders",
    "IMAGE_EXTENSIONS": "keras_genae.data.image_io",
    "load_images": "keras_genae.data.image_io",
    "SAMPLE_DATASETS": "keras_genae.data.samples",
    "sample_images": "keras_genae.data.samples",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
