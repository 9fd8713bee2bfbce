"""`evaluate_recipe`: the zoo's evaluation protocol for the model of a recipe."""

from keras_genae.evaluation.classifier import shipped_classifier
from keras_genae.evaluation.core import evaluate
from keras_genae.evaluation.base import capabilities


def _classifier_data(dataset, data_dir, limit, reference_size, seed=0):
    """The labeled test split, and `reference_size` shuffled train images
    (None for 0): the scale of the Fréchet distances."""
    from keras_genae import data

    split = "test" if limit is None else f"test[:{limit}]"
    test = data.load_dataset(dataset, split, batch_size=500, shuffle=False, with_labels=True,
                             data_dir=data_dir, cache=False)
    if not reference_size:
        return test, None
    train = data.load_dataset(dataset, "train", batch_size=500, shuffle=True, seed=seed,
                              data_dir=data_dir, cache=False)
    return test, train.unbatch().take(reference_size).batch(500)


def evaluate_recipe(model, recipe, data_dir=None, limit=None, num_samples=10_000, probes=None):
    """Evaluate a model of `recipe` with the zoo's protocol (see README).

    The model's family probes run on the test split (binarized like the
    training data), with seed 0. Fréchet distances compare `num_samples`
    samples with the test split as it is (grayscale, even for models
    trained on binarized images), in the features of the dataset's shipped
    classifier. A classifier reports its test accuracy and the distance
    between `num_samples` train images and the test split.

    Args:
        model: a keras_genae model of `recipe.architecture`.
        recipe: a `Recipe`.
        data_dir: str or None. See `keras_genae.data.load_dataset`.
        limit: int or None. Evaluate on the first `limit` test images only.
        num_samples: int. Samples of the Fréchet distances; `0` skips them.
            Defaults to `10_000`.
        probes: None (the family's) or probes as for `evaluate`.

    Returns:
        A dict of Python floats.

    Example:
    >>> evaluate_recipe(keras_genae.load("vae_mnist"), get_recipe("vae_mnist"),
    ...                 data_dir="../shared/data")
    """
    if "classify" in capabilities(model):
        test, reference = _classifier_data(recipe.dataset, data_dir, limit, num_samples)
        metrics = evaluate(model, test, batch_size=500, num_samples=num_samples,
                           fd_reference=reference, probes=probes)
    else:
        sampling = "sample" in capabilities(model) and num_samples > 0
        classifier = shipped_classifier(recipe.dataset) if sampling else None
        reference = None
        if classifier is not None and recipe.binarize:
            reference = recipe.test_data(data_dir, limit, binarize=False)
        metrics = evaluate(model, recipe.test_data(data_dir, limit), classifier=classifier,
                           num_samples=num_samples if classifier is not None else 0, seed=0,
                           fd_reference=reference, probes=probes)
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
