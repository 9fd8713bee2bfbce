"""`iter_batches`: the one reader of image batches, with their labels,
from arrays, `(images, labels)` pairs and `tf.data` pipelines (used by
`keras_genae.evaluate` and by an AAE's `fit_code_density`)."""

import numpy as np


def iter_batches(data, batch_size=256):
    """Yield `(images, labels)` batches, float32 images and int labels (or
    None), from an array, an `(images, labels)` pair of arrays or a
    `tf.data.Dataset` of images or of `(images, labels)`, batched or not.
    """
    spec = getattr(data, "element_spec", None)
    if spec is None:
        labels = None
        if isinstance(data, (list, tuple)) and len(data) == 2 and hasattr(data[0], "shape") \
                and np.ndim(data[1]) == 1:
            data, labels = data[0], np.asarray(data[1])  # (images, labels)
        data = np.asarray(data)
        for start in range(0, len(data), batch_size):
            stop = start + batch_size
            yield data[start:stop], None if labels is None else labels[start:stop]
        return
    labeled = isinstance(spec, (tuple, list))
    if labeled:
        data = data.map(lambda *elem: (elem[0], elem[1]))
        spec = spec[0]
    if spec.shape.rank == 3:
        data = data.batch(batch_size)
    for batch in data:
        images, labels = batch if labeled else (batch, None)
        yield _numpy(images), None if labels is None else _numpy(labels)


def _numpy(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)
