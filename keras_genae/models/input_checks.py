"""`InputChecks`: the input validation every keras_genae model shares."""

import numpy as np
from keras import ops

from keras_genae.inference import in_compiled_call
from keras_genae.inference import is_concrete
from keras_genae.utils.validation import validate_image_spec
from keras_genae.utils.validation import validate_images


class InputChecks:
    """Checks of the images given to `fit`, `evaluate` and the inference
    methods (one clear `ValueError` each), and of the labels `fit` gives a
    model that trains on them (`uses_labels`, e.g. a class-conditional
    prior). Mixed into `GenerativeModel`."""

    #: Whether training reads the batches' labels.
    uses_labels = False

    def _check_training_labels(self, x, y):
        """Labels given as an array to `fit` of a model that uses them:
        `len(x)` ints in `[0, num_classes)`."""
        if y is None or not self.uses_labels or not hasattr(y, "shape"):
            return
        y = np.asarray(ops.convert_to_numpy(y) if ops.is_tensor(y) else y)
        n, classes = len(x), self.num_classes
        if y.shape not in ((n,), (n, 1)) or not np.issubdtype(y.dtype, np.integer) \
                or (y.size and (y.min() < 0 or y.max() >= classes)):
            raise ValueError(
                f"The labels passed to fit must be {n} ints in [0, {classes}) (one per image). "
                f"Received: shape {y.shape}, dtype {y.dtype}"
                + (f", values in [{y.min()}, {y.max()}]" if y.size and np.issubdtype(y.dtype, np.number) else ""))

    def _check_latent_vectors(self, z, size, note=""):
        """Raise unless `z` (an array, tensor or symbolic tensor) has shape
        `(batch, size)`; an unknown rank (a relaxed TF trace) passes."""
        shape = z.shape
        if getattr(shape, "rank", 0) is None:  # a TF trace relaxed to an unknown rank
            return
        if len(shape) != 2 or shape[-1] not in (None, size):
            raise ValueError(f"`z` must have shape (batch, {size}){note}. Received: z.shape={tuple(shape)}")

    def _check_training_data(self, x, what):
        if isinstance(x, (tuple, list)) and x:
            x = x[0]
        spec = getattr(x, "element_spec", None)
        if spec is not None:  # a tf.data.Dataset
            while isinstance(spec, (tuple, list)):
                spec = spec[0]
            if isinstance(spec, dict):
                raise ValueError(
                    f"The dataset passed to {what} yields dicts; expected images "
                    "or (images, labels) tuples."
                )
            validate_image_spec(spec.shape, spec.dtype, self.image_shape, what)
            return
        if x is None or hasattr(x, "__next__") or callable(getattr(x, "__getitem__", None)) and not hasattr(x, "shape"):
            # Generators and PyDatasets are checked batch by batch in the step.
            return
        validate_images(x, self.image_shape, what)

    def _check_call_input(self, x):
        """Check a batch given to encode/reconstruct: concrete arrays fully
        (once, before a compiled call splits them), symbolic ones by spec."""
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        if is_concrete(x):
            if in_compiled_call():  # checked whole by the compiled call
                validate_image_spec(x.shape, x.dtype, self.image_shape, "input")
            else:
                self._check_images(x)
            return ops.convert_to_tensor(x, dtype=self.compute_dtype)
        validate_image_spec(x.shape, x.dtype, self.image_shape, "input")
        return ops.cast(x, self.compute_dtype)

    def _check_images(self, x):
        validate_images(x, self.image_shape, "input")

