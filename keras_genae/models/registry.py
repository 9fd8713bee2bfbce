"""The registries of the model classes that `keras_genae.load` may rebuild."""

import keras

# Class name -> class, for every generative architecture of the package.
ARCHITECTURES = {}
# Class name -> class, for every model a checkpoint may hold: the
# architectures plus auxiliary models such as the evaluation classifiers.
# The Hub loader rebuilds models only from this table; it never imports a
# name from a config.
LOADABLE_MODELS = {}


def register_architecture(cls):
    """Class decorator: register a model as a Keras serializable and as a
    keras_genae architecture that `keras_genae.load` may rebuild."""
    cls = register_loadable_model(cls)
    ARCHITECTURES[cls.__name__] = cls
    return cls


def register_loadable_model(cls):
    """Class decorator: register a model that is not a generative
    architecture (e.g. `FeatureClassifier`) as a Keras serializable that
    checkpoints may hold and `keras_genae.load` may rebuild."""
    cls = keras.saving.register_keras_serializable(package="keras_genae")(cls)
    LOADABLE_MODELS[cls.__name__] = cls
    return cls


def get_architecture(name):
    """Return the registered architecture class called `name`."""
    if name not in ARCHITECTURES:
        raise ValueError(
            f"Unknown keras_genae architecture {name!r}. Known architectures: "
            f"{sorted(ARCHITECTURES)}."
        )
    return ARCHITECTURES[name]
