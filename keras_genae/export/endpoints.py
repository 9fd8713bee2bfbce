"""The endpoints a model exports: their names, input specs and graphs.

An endpoint is a deterministic function of tensors, built from what the
model declares in `model.capabilities` (never probed with `hasattr`):

| endpoint | capability | inputs | output |
|---|---|---|---|
| `reconstruct` | `"reconstruct"` | images | images |
| `encode` | `"encode"` | images | latents (a VQ-VAE: int32 code indices) |
| `decode` | `"decode"` | latents (a VQ-VAE: int32 code indices) | images |
| `sample` | `"sample"` | the prior's noise (and labels) | images |
| `classify` | `"classify"` | images | logits |
| `features` | `"classify"` | images | penultimate features |

`serve`, Keras' default endpoint, is the model's `call` (what `predict`
returns): `reconstruct` for an autoencoder, `decode` for a GAN, `classify`
for a classifier.
"""

import dataclasses
import difflib

import keras
from keras import ops
from keras.src import backend

from keras_genae.export.noise import NotExportableError
from keras_genae.export.noise import noise_sampler
from keras_genae.export.noise import not_exportable_on
from keras_genae.export.specs import Endpoint
from keras_genae.export.specs import TensorInfo

#: The endpoint `serve` stands for, by the capability that decides it (first match).
SERVE_BY_CAPABILITY = (("reconstruct", "reconstruct"), ("classify", "classify"), ("decode", "decode"))
#: Keras' name of the default endpoint.
SERVE = "serve"
#: Every endpoint name a model may have.
ENDPOINT_NAMES = (SERVE, "reconstruct", "encode", "decode", "sample", "classify", "features")


def _with_batch(shape, batch_size):
    return (batch_size,) + tuple(shape[1:])


def _output_info(name, fn, inputs, batch_size):
    spec = backend.compute_output_spec(
        fn, *[keras.KerasTensor(_with_batch(i.shape, 2), dtype=i.dtype) for i in inputs])
    shape = _with_batch(tuple(spec.shape), batch_size)
    return TensorInfo(name, shape, keras.backend.standardize_dtype(spec.dtype))


def serve_target(model):
    """The endpoint `serve` runs: the model's `call`, by its capabilities."""
    for capability, endpoint in SERVE_BY_CAPABILITY:
        if capability in model.capabilities:
            return endpoint
    raise ValueError(
        f"{type(model).__name__} has none of the capabilities an export needs "
        f"({sorted(c for c, _ in SERVE_BY_CAPABILITY)}). Its capabilities: "
        f"{sorted(model.capabilities)}.")


def model_endpoints(model, batch_size=None):
    """Every endpoint `model` can export, by name, in a fixed order.

    `serve` is not among them: it is `model_endpoints(model)[serve_target(model)]`.

    Args:
        model: a keras_genae model (a `GenerativeModel` or a `FeatureClassifier`).
        batch_size: int or None. The batch axis of every input; None: any size.

    Returns:
        dict of name -> `Endpoint`.

    Example:
    >>> list(model_endpoints(keras_genae.load("vae_mnist")))
    ['reconstruct', 'encode', 'decode', 'sample']
    """
    caps = model.capabilities
    images = TensorInfo("images", (batch_size,) + tuple(model.image_shape), "float32")
    image_out = TensorInfo("images", images.shape, "float32")
    found = {}
    if "reconstruct" in caps:
        found["reconstruct"] = Endpoint(
            "reconstruct", lambda images: model.reconstruct(images), (images,), image_out,
            "images in [0, 1] -> their reconstructions in [0, 1]")
    latents = None
    if "encode" in caps:
        encode = lambda images: model.encode(images)  # noqa: E731
        out = _output_info("latents", encode, (images,), batch_size)
        codes = "int" in out.dtype
        out = dataclasses.replace(out, name="codes" if codes else "latents")
        found["encode"] = Endpoint(
            "encode", encode, (images,), out,
            "images -> int32 code indices, the codebook entries nearest the encoder's output"
            if codes else "images -> latents (a VAE: the posterior mean)")
        latents = out
    elif "sample" in caps:
        latents = _output_info("latents", lambda: model.sample_latents(2), (), batch_size)
    if "decode" in caps and latents is not None:
        found["decode"] = Endpoint(
            "decode", lambda z: model.decode(z), (latents,), image_out,
            f"{'int32 code indices' if 'int' in latents.dtype else 'latents'} -> images in [0, 1]")
    if "sample" in caps:
        inputs, fn, doc = noise_sampler(model, batch_size)
        found["sample"] = Endpoint("sample", fn, tuple(inputs), image_out, doc,
                                   not_on=not_exportable_on(model))
    if "classify" in caps:
        found["classify"] = Endpoint(
            "classify", lambda images: model(images, training=False), (images,),
            TensorInfo("logits", (batch_size, model.num_classes), "float32"),
            "images -> class logits (what `predict` returns)")
        found["features"] = Endpoint(
            "features", lambda images: model.features(images), (images,),
            TensorInfo("features", (batch_size, model.feature_dim), "float32"),
            "images -> the penultimate features (those of the Frechet distances)")
    return {name: dataclasses.replace(e, fn=_graph_function(model, e.fn)) for name, e in found.items()}


def _graph_function(model, fn):
    """`fn` with float outputs as float32 and, on TensorFlow, every weight
    read once at the top of the graph. A `tf.while_loop` (a VQ-VAE
    sampler's) re-reads a variable it captures inside its body, where
    tf2onnx, once the graph is frozen, may not know the kernel's shape; it
    captures the `tf.identity` of the value as a plain tensor."""
    def run(*args):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            values = [(v, tf.identity(v.value)) for v in model.variables]
            with keras.StatelessScope(state_mapping=values):
                y = fn(*args)
        else:
            y = fn(*args)
        return ops.cast(y, "float32") if "float" in str(y.dtype) else y

    return run


def select_endpoints(model, names=None, batch_size=None):
    """The endpoints named in `names` (None: all of them), checked.

    `"serve"` may be named, alone or beside others; it is the endpoint of
    the model's `call` (`serve_target`).

    Returns:
        dict of name -> `Endpoint`; with `"serve"` named, also `"serve"`.
        With `names=None`, those the active backend can export.

    Raises:
        ValueError: a name the model has no endpoint for (the message
            lists those it has), an empty or repeated list.
        NotExportableError: a named endpoint the active backend cannot
            export (the message says which can).
    """
    available = model_endpoints(model, batch_size)
    serve = serve_target(model)
    backend = keras.backend.backend()
    if names is None:  # all that this backend exports (`skipped_endpoints` names the rest)
        return {n: e for n, e in available.items() if backend not in e.not_on}
    if isinstance(names, str):
        names = [names]
    names = list(names)
    known = [SERVE] + list(available)
    unknown = [n for n in names if n not in known]
    if unknown or not names or len(set(names)) != len(names):
        what = (f"Unknown endpoint{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                f"for {type(model).__name__}" if unknown else "`endpoints` must name each endpoint once")
        # A misspelling gets the close match; a real endpoint of other models does not
        # (a GAN's "encode" is not a typo of "decode").
        close = [m for n in unknown if n not in ENDPOINT_NAMES
                 for m in difflib.get_close_matches(n, known, n=1)]
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"{what}.{hint} It has: {known} (`serve` is `{serve}`). Received: endpoints={names!r}")
    chosen = {n: available[serve if n == SERVE else n] for n in names}
    for name, endpoint in chosen.items():
        if backend in endpoint.not_on:
            raise NotExportableError(
                f"The `{name}` endpoint of {type(model).__name__} cannot be exported on the "
                f"{backend} backend: {endpoint.not_on[backend]}. Received: endpoints={names!r}")
    return chosen


def skipped_endpoints(model):
    """Endpoint -> why the active backend does not export it (the default
    export leaves it out and its README says why)."""
    backend = keras.backend.backend()
    return {n: e.not_on[backend] for n, e in model_endpoints(model).items() if backend in e.not_on}
