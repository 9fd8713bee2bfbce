"""The feature-classifier family (`classifier`): the classifiers whose
features define the zoo's Fréchet distances."""

from keras_genae.models.classifier.recipe import ClassifierRecipe
from keras_genae.models.family import Family
from keras_genae.models.family import register_family
from keras_genae.models.family import usage_header

SMALL_CONFIG = dict(filters=(32, 64), convs_per_stage=2, feature_dim=128, dropout=0.3)


def card_usage(handle, shape):
    """The model card's usage snippet of a classifier."""
    h, w, c = shape
    return usage_header(handle, "classifier") + [
        f"images = np.random.rand(4, {h}, {w}, {c}).astype(\"float32\")  # your images here",
        "features = classifier.features(images)  # (4, 128): what Fréchet distances compare",
        "labels = np.argmax(classifier.predict(images), axis=-1)",
        "# keras_genae.evaluate(model, test_images, classifier=classifier)",
    ]


def _recipe(dataset, title, epochs, config, smoothing, flip, crop, floor, convs):
    return ClassifierRecipe(
        name=f"classifier_{dataset}", architecture="FeatureClassifier", dataset=dataset,
        config=config, epochs=epochs, learning_rate=3e-3,
        options=(("label_smoothing", smoothing), ("weight_decay", 5e-4), ("flip", flip),
                 ("crop_padding", crop)),
        floor=("test_accuracy", ">=", floor),
        description=f"Feature classifier ({convs} convs, 128-d features) for Fréchet distances, "
                    f"{title}.",
    )


CLASSIFIER_FAMILY = register_family(Family(
    alias="classifier",
    test_config=dict(filters=(4, 8), feature_dim=8),
    architecture="FeatureClassifier",
    references=("https://arxiv.org/abs/1706.08500",),
    probes=("classification",),
    key_metrics=("test_accuracy", "frechet_distance_train_test"),
    card_usage=card_usage,
    recipe_class=ClassifierRecipe,
    recipes=(
        _recipe("mnist", "MNIST", 4, dict(SMALL_CONFIG), 0.0, False, 0, 0.99, 4),
        _recipe("fashion_mnist", "Fashion-MNIST", 6, dict(SMALL_CONFIG), 0.1, True, 0, 0.90, 4),
        _recipe("cifar10", "CIFAR-10", 5, dict(SMALL_CONFIG, filters=(32, 64, 128)), 0.1, True, 4, 0.75, 6),
    ),
))
