"""The export formats: which backend writes which, and the writers.

Keras 3.15 exports `tf_saved_model` on TensorFlow and JAX (jax2tf; its
PyTorch path needs `torch_xla`), `onnx` on all three (tf2onnx, jax2onnx,
`torch.onnx`), `litert` on TensorFlow and PyTorch (the TFLite converter;
`litert-torch`), `openvino` on all three (the `openvino` package) and
`torch` on PyTorch (`torch.export`). A SavedModel holds every endpoint;
the other formats hold one graph, so each endpoint is its own file.
"""

import contextlib
import dataclasses
import importlib.util

import keras

from keras_genae.export.noise import NotExportableError


@dataclasses.dataclass(frozen=True)
class Format:
    """An export format.

    Args:
        name: str. Keras' name of the format (`model.export(format=...)`).
        extension: str or None. File extension of one endpoint's graph;
            None: the format is a directory holding every endpoint.
        packages: dict of backend -> tuple of the importable modules it
            needs on that backend (the backends that can write it).
        pip: dict of module -> pip package, for the error message.
    """

    name: str
    extension: str
    packages: dict
    pip: dict = dataclasses.field(default_factory=dict)

    @property
    def backends(self):
        return tuple(self.packages)


FORMATS = {f.name: f for f in (
    Format("tf_saved_model", None, {"tensorflow": ("tensorflow",), "jax": ("tensorflow",)}),
    Format("onnx", ".onnx", {"tensorflow": ("tf2onnx", "onnx"), "jax": ("jax2onnx", "onnx"),
                             "torch": ("onnx",)},
           pip={"jax2onnx": "jax2onnx"}),
    Format("litert", ".tflite", {"tensorflow": ("tensorflow",), "torch": ("litert_torch",)},
           pip={"litert_torch": "litert-torch"}),
    Format("openvino", ".xml", {b: ("openvino",) for b in ("tensorflow", "jax", "torch")}),
    Format("torch", ".pt2", {"torch": ("torch",)}),
)}


def check_format(format, backend=None):
    """Return the `Format` named `format`, checked for the backend.

    Args:
        format: str. One of `FORMATS`.
        backend: str or None. Defaults to the active Keras backend.

    Raises:
        ValueError: an unknown format, or one the backend cannot write
            (the message names the backends that can).
        ImportError: a package the format needs on this backend is missing.

    Example:
    >>> check_format("onnx").extension
    '.onnx'
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {list(FORMATS)}. Received: format={format!r}")
    spec = FORMATS[format]
    backend = backend or keras.backend.backend()
    if backend not in spec.packages:
        can = " or ".join(spec.backends)
        raise ValueError(
            f"Keras exports format={format!r} only on the {can} backend, not on {backend!r}. "
            f"Set KERAS_BACKEND={spec.backends[0]} before importing keras (the checkpoints "
            f"load on every backend). Received: format={format!r} on backend={backend!r}")
    missing = [m for m in spec.packages[backend] if importlib.util.find_spec(m) is None]
    if missing:
        names = " ".join(spec.pip.get(m, m) for m in missing)
        raise ImportError(
            f"Exporting format={format!r} on the {backend} backend needs {', '.join(missing)}: "
            f"`pip install {names}` (the keras-genae `test` extra installs those of the "
            "TensorFlow backend).")
    return spec


class _Graph(keras.Model):
    """One endpoint as a Keras model, for the exporters that take a model."""

    def __init__(self, model, fn, **kwargs):
        super().__init__(**kwargs)
        self.source = model
        self.fn = fn
        self.built = True

    def call(self, *args):
        return self.fn(*args)


@contextlib.contextmanager
def portable_ops(backend=None):
    """Trace Keras ops as graphs that every runtime runs.

    On TensorFlow, Keras' `argmin` and `argmax` of floats test the sign bit
    of zeros with `tf.bitcast` and `tf.bitwise.bitwise_and`, which tf2onnx
    cannot convert and LiteRT runs only with its Flex delegate. Inside this
    context `signbit` is the same test written as `x < 0 or 1 / x = -inf`.
    """
    if (backend or keras.backend.backend()) != "tensorflow":
        yield
        return
    import tensorflow as tf
    from keras.src.backend.tensorflow import numpy as tf_numpy

    original = tf_numpy.signbit

    def signbit(x):
        x = tf.cast(x, "float32")
        return tf.logical_or(x < 0.0, tf.logical_and(tf.equal(x, 0.0), tf.math.reciprocal(x) < 0.0))

    tf_numpy.signbit = signbit
    try:
        yield
    finally:
        tf_numpy.signbit = original


def write_saved_model(model, endpoints, path, verbose=False, **kwargs):
    """Write a SavedModel at `path` with every endpoint of `endpoints`
    (a dict of name -> `Endpoint`), through `keras.export.ExportArchive`."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    if keras.backend.backend() == "jax":
        kwargs.setdefault("is_static", True)
    for name, endpoint in endpoints.items():
        archive.add_endpoint(name, endpoint.fn, input_signature=endpoint.specs(), **kwargs)
    archive.write_out(str(path), verbose=verbose)


def write_graph(model, endpoint, path, format, verbose=False, **kwargs):
    """Write one endpoint as a file of `format` (not `tf_saved_model`) at
    `path`, with Keras' exporter of that format, and check an ONNX file."""
    graph = _Graph(model, endpoint.fn, name=f"{endpoint.name}_graph")
    with portable_ops():
        graph.export(str(path), format=format, verbose=verbose, input_signature=endpoint.specs(), **kwargs)
    if format == "onnx":
        _check_onnx(path, endpoint)


def _check_onnx(path, endpoint):
    """tf2onnx logs the ops it cannot convert and writes the file anyway: refuse it."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as error:  # noqa: BLE001 - onnx raises several kinds
        raise NotExportableError(
            f"The `{endpoint.name}` endpoint did not convert to a valid ONNX graph on the "
            f"{keras.backend.backend()} backend ({' '.join(str(error).split())[:300]}). Export the "
            "other endpoints (`endpoints=[...]`), or another format.") from None
