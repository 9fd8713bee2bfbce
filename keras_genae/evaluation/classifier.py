"""The feature classifiers of the Fréchet distances: loading them, and the
shipped one of each dataset."""

import os

from keras_genae.evaluation.base import capabilities


def load_classifier(name_or_dir):
    """Load a feature classifier (compiled=False) from a checkpoint folder
    or a shipped name such as `"classifier_mnist"`.

    Example:
    >>> clf = load_classifier("classifier_mnist")
    >>> clf.features(images).shape
    TensorShape([4, 128])
    """
    from keras_genae import hub

    path = os.fspath(name_or_dir)
    if not os.path.isdir(path) and not str(path).startswith("classifier_"):
        raise FileNotFoundError(
            "`name_or_dir` must be a classifier checkpoint directory or a shipped "
            f"classifier's name (e.g. 'classifier_mnist'). Received: name_or_dir={path!r}"
        )
    classifier = hub.load(path, compile=False)
    if "classify" not in capabilities(classifier):
        raise ValueError(
            f"{path!r} does not hold a FeatureClassifier (a model that can classify). "
            f"Received: a {type(classifier).__name__}"
        )
    return classifier


def shipped_classifier(dataset):
    """The shipped feature classifier of `dataset` (loaded offline from the
    package and verified against the manifest), or None if there is none."""
    from keras_genae.hub import manifest

    name = f"classifier_{dataset}"
    return load_classifier(name) if name in manifest.get_manifest() else None


def check_classifier(classifier, image_shape):
    """`classifier` as a loaded classifier for images of `image_shape`:
    a classifier, the name of a shipped one, or the folder of a saved one."""
    if isinstance(classifier, (str, os.PathLike)):
        classifier = load_classifier(classifier)
    if "classify" not in capabilities(classifier):
        raise ValueError(
            "`classifier` must be a FeatureClassifier, the name of a shipped one "
            f"(e.g. 'classifier_mnist'), a folder holding one, or None. "
            f"Received: classifier={classifier!r}"
        )
    shape = tuple(classifier.image_shape)
    if shape != tuple(image_shape):
        raise ValueError(
            f"The classifier was built for images of shape {shape}, but the model "
            f"makes images of shape {tuple(image_shape)}."
        )
    return classifier
