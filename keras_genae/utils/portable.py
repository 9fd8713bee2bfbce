"""Serialized configs that load on every Keras backend."""


def portable_config(config):
    """`config` (a serialized Keras object, or a structure of them) with the
    backend-specific optimizer classes replaced by the public ones.

    Keras serializes an optimizer created on the PyTorch backend as, e.g.,
    `keras.src.backend.torch.optimizers.torch_adam.Adam`, which deserializes
    to the PyTorch implementation on every backend (and fails there). The
    public `keras.optimizers.Adam` resolves to the active backend's.

    Example:
    >>> portable_config({"module": "keras.src.backend.torch.optimizers.torch_adam",
    ...                  "class_name": "Adam", "config": {}})["module"]
    'keras.optimizers'
    """
    if isinstance(config, dict):
        out = {k: portable_config(v) for k, v in config.items()}
        module = out.get("module")
        if isinstance(module, str) and module.startswith("keras.src.backend.") and (
            ".optimizers" in module
        ):
            out["module"] = "keras.optimizers"
        return out
    if isinstance(config, (list, tuple)):
        return type(config)(portable_config(v) for v in config)
    return config
