"""Export a keras_genae model for deployment, with named endpoints.

`export_model(model, path, format)` (what `model.export(path, format)`
runs) writes every endpoint the model's capabilities give it
(`keras_genae.export.endpoints`): `reconstruct`, `encode`, `decode`,
`sample(noise)`, a classifier's `classify` and `features`, and Keras'
default `serve` (the model's `call`). A SavedModel holds them all, through
`keras.export.ExportArchive`; ONNX, LiteRT, OpenVINO and `torch` hold one
graph, so each endpoint is its own file in the directory `path`. A
README.md and an endpoints.json beside them name each endpoint with its
inputs' and output's shapes and dtypes. Which backend writes which
format: `keras_genae.export.formats`.
"""

from pathlib import Path

from keras_genae.export.endpoints import SERVE
from keras_genae.export.endpoints import model_endpoints
from keras_genae.export.endpoints import select_endpoints
from keras_genae.export.endpoints import serve_target
from keras_genae.export.endpoints import skipped_endpoints
from keras_genae.export.formats import FORMATS
from keras_genae.export.formats import check_format
from keras_genae.export.formats import write_graph
from keras_genae.export.formats import write_saved_model
from keras_genae.export.noise import NotExportableError
from keras_genae.export.readme import write_readme
from keras_genae.utils.io import atomic_dir
from keras_genae.utils.io import atomic_path

__all__ = ["FORMATS", "NotExportableError", "check_format", "export_model", "model_endpoints",
           "select_endpoints", "serve_target"]


def export_model(model, filepath, format="tf_saved_model", endpoints=None, batch_size=None,
                 overwrite=False, verbose=None, source=None, **kwargs):
    """Export `model` with named endpoints: what `model.export` runs.

    Args:
        model: a keras_genae model (a `GenerativeModel` or a `FeatureClassifier`).
        filepath: str or `Path`. The directory to write: a SavedModel with
            every endpoint, or one `<endpoint><ext>` file per endpoint for
            the single-graph formats, with README.md and endpoints.json. A
            path ending in the format's extension (`"vae.onnx"`) writes
            one file: `serve`, or the one endpoint named in `endpoints`.
        format: str. One of `"tf_saved_model"`, `"onnx"`, `"litert"`,
            `"openvino"`, `"torch"` (`FORMATS`), if the active backend can
            write it. Defaults to `"tf_saved_model"`.
        endpoints: None or a list of endpoint names (`"serve"` among
            them). None: every endpoint of the model that the active backend
            exports (the README names any it leaves out), and `serve` in a
            SavedModel.
        batch_size: int or None. A fixed batch axis for every input (the
            PyTorch backend's LiteRT export needs one); None: any size.
        overwrite: bool. Replace an existing `filepath`. Defaults to `False`.
        verbose: bool or None. Keras' exporters' messages. Defaults to `None` (quiet).
        source: str or None. The checkpoint's name, for the README title.
        **kwargs: passed to Keras' exporter of the format (e.g.
            `opset_version` for ONNX, `optimizations` for LiteRT).

    Returns:
        `Path` of what was written.

    Raises:
        ValueError: an unknown format, one the active backend cannot write
            (naming the backends that can), an unknown endpoint (naming
            those the model has), an existing `filepath` without
            `overwrite`, several endpoints for a single file.
        ImportError: a package the format needs is missing.
        NotExportableError: (a `ValueError`) a named endpoint this backend
            cannot export, e.g. a VQ-VAE's `sample` on PyTorch.

    Example:
    >>> model = keras_genae.load("vqvae_mnist")
    >>> export_model(model, "vqvae_onnx", format="onnx")  # reconstruct.onnx, encode.onnx, ...
    >>> export_model(model, "vqvae_sm")                    # one SavedModel, every endpoint
    """
    spec = check_format(format)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size!r}")
    if kwargs.get("input_signature") is not None:
        raise ValueError(
            "keras_genae models know their input specs: pass `batch_size=` to fix the batch "
            "axis, and `endpoints=` to choose the endpoints, instead of `input_signature`.")
    kwargs.pop("input_signature", None)
    path = Path(filepath)
    single = spec.extension is not None and path.name.endswith(spec.extension)
    chosen = select_endpoints(model, endpoints if endpoints is not None or not single else [SERVE],
                              batch_size)
    serve = serve_target(model)
    if spec.extension is None and endpoints is None:
        chosen = {SERVE: chosen[serve], **chosen}
    if single:
        if len(chosen) != 1:
            raise ValueError(
                f"{str(path)!r} is one {spec.extension} file, which holds one endpoint; name one "
                f"(`endpoints=['encode']`) or give a directory. Received: endpoints={endpoints!r}")
        _refuse_existing(path, overwrite)
        with atomic_path(path) as tmp:
            written = _with_extension(Path(tmp), spec.extension)
            write_graph(model, next(iter(chosen.values())), written, format, verbose=bool(verbose),
                        **kwargs)
            written.rename(tmp)
        return path
    _refuse_existing(path, overwrite)
    with atomic_dir(path, overwrite=overwrite) as tmp:
        if spec.extension is None:
            write_saved_model(model, chosen, tmp, verbose=bool(verbose), **kwargs)
        else:
            for name, endpoint in chosen.items():
                write_graph(model, endpoint, tmp / f"{name}{spec.extension}", format,
                            verbose=bool(verbose), **kwargs)
        skipped = skipped_endpoints(model) if endpoints is None else {}
        write_readme(tmp, model, chosen, format, spec.extension, serve, source, skipped)
    return path


def _with_extension(path, extension):
    """`path` ending in `extension`, which Keras' exporters check."""
    return path if path.name.endswith(extension) else path.with_name(path.name + extension)


def _refuse_existing(path, overwrite):
    if path.exists() and not overwrite:
        raise ValueError(
            f"{str(path)!r} already exists: choose a new path, or pass `overwrite=True` "
            f"(`genae export --overwrite`). Received: filepath={str(path)!r}")
