"""`Exportable`: `model.export(path)` with named endpoints, for every
keras_genae model (`GenerativeModel` and `FeatureClassifier`).

The work is done by `keras_genae.export`, imported when `export` is
called: no other module of `keras_genae.models` imports it.
"""


class Exportable:
    """Mixin of the keras_genae models: `keras.Model.export` that needs no
    `input_signature` and writes every endpoint the model's capabilities
    give it."""

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        """Export the model for inference, with named endpoints.

        `reconstruct` (the default `serve` of an autoencoder), `encode`,
        `decode`, `sample(noise)` for a model with a prior, and a
        classifier's `classify` (its `serve`) and `features`. A SavedModel
        holds them all; the single-graph formats (`onnx`, `litert`, ...)
        write one file per endpoint in the directory `filepath`, or, for a
        path ending in the format's extension, the one file of `serve`.

        Args:
            filepath: str or `Path`. Where to write.
            format: str. `"tf_saved_model"`, `"onnx"`, `"litert"`,
                `"openvino"` or `"torch"`, as the active backend allows.
                Defaults to `"tf_saved_model"`.
            verbose: bool or None. Keras' exporters' messages.
            input_signature: must be None: the model knows its input specs.
            **kwargs: `endpoints`, `batch_size`, `overwrite` and the format's
                own options (see `keras_genae.export.export_model`).

        Returns:
            `Path` of what was written.

        Example:
        >>> model = keras_genae.load("vae_mnist")
        >>> model.export("vae_saved_model")           # serve, reconstruct, encode, decode, sample
        >>> model.export("vae_onnx", format="onnx")   # reconstruct.onnx, encode.onnx, ...
        """
        from keras_genae.export import export_model

        return export_model(self, filepath, format=format, verbose=verbose,
                            input_signature=input_signature, **kwargs)
