"""Small per-dataset classifiers whose penultimate features define the
Fréchet distance of `keras_genae.evaluate`.

They are zoo checkpoints like the generative models (`classifier_mnist`,
`classifier_fashion_mnist`, `classifier_cifar10`), with recipes in
`keras_genae.recipes`. Train one from the command line:

    python -m keras_genae.train classifier_mnist --data-dir ../shared/data --out ckpt

which writes `ckpt/classifier_mnist` (the checkpoint layout of
`keras_genae.save_pretrained`) with its test accuracy and the Fréchet
distance between 10,000 train images and the test set (the scale against
which model distances are read) in its metrics.
"""

import os

import keras
from keras import layers
from keras import ops

from keras_genae.inference import inference_method
from keras_genae.models.base import register_loadable_model
from keras_genae.utils.portable import portable_config
from keras_genae.utils.validation import check_image_shape


@register_loadable_model
class FeatureClassifier(keras.Model):
    """A small VGG-style convolutional classifier with a feature head.

    Each stage is `convs_per_stage` blocks of 3x3 conv, batch norm and ReLU,
    followed by 2x2 max pooling (global average pooling after the last
    stage). A dense layer with batch norm and ReLU gives the `feature_dim`
    penultimate features, then dropout and the logits layer.

    Args:
        image_shape: tuple of 3 ints `(height, width, channels)`; images are
            floats in [0, 1].
        num_classes: int. Defaults to `10`.
        filters: sequence of int. Channels of each stage. Defaults to
            `(32, 64, 128)`.
        convs_per_stage: int. Defaults to `2`.
        feature_dim: int. Size of the penultimate features. Defaults to
            `128`.
        dropout: float. Dropout rate before the logits. Defaults to `0.3`.
        **kwargs: base `keras.Model` arguments.

    References:
        - Heusel et al., GANs Trained by a Two Time-Scale Update Rule
          Converge to a Local Nash Equilibrium (the Fréchet distance),
          https://arxiv.org/abs/1706.08500

    Example:
    >>> clf = FeatureClassifier(image_shape=(28, 28, 1), filters=(16, 32))
    >>> clf.features(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 128])
    >>> clf = keras_genae.load("classifier_mnist")  # the shipped one
    """

    #: No fine-tuning settings: `keras_genae.load` compiles a classifier with
    #: its own `compile()` defaults.
    default_finetuning = None
    finetuning = None
    #: Capabilities: a classifier neither samples nor reconstructs.
    has_prior = False
    reports_psnr = False

    def __init__(
        self,
        image_shape,
        num_classes=10,
        filters=(32, 64, 128),
        convs_per_stage=2,
        feature_dim=128,
        dropout=0.3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        self.num_classes = int(num_classes)
        self.filters = [int(f) for f in filters]
        self.convs_per_stage = int(convs_per_stage)
        self.feature_dim = int(feature_dim)
        self.dropout_rate = float(dropout)
        self.blocks = []
        for stage, width in enumerate(self.filters):
            for i in range(self.convs_per_stage):
                self.blocks.append(
                    layers.Conv2D(width, 3, padding="same", use_bias=False,
                                  name=f"conv{stage}_{i}")
                )
                self.blocks.append(layers.BatchNormalization(momentum=0.9, name=f"bn{stage}_{i}"))
                self.blocks.append(layers.ReLU())
            if stage < len(self.filters) - 1:
                self.blocks.append(layers.MaxPooling2D(2))
        self.blocks.append(layers.GlobalAveragePooling2D())
        self.feature_dense = layers.Dense(feature_dim, use_bias=False, name="feature_dense")
        self.feature_bn = layers.BatchNormalization(momentum=0.9, name="feature_bn")
        self.dropout = layers.Dropout(dropout)
        self.logits = layers.Dense(num_classes, name="logits")
        self.build((None,) + self.image_shape)

    def build(self, input_shape):
        x = keras.KerasTensor(tuple(input_shape))
        self.logits(self.dropout(self._features(x)))
        self.built = True

    def _features(self, x, training=False):
        for layer in self.blocks:
            x = layer(x, training=training)
        x = self.feature_bn(self.feature_dense(x), training=training)
        return ops.relu(x)

    @inference_method
    def features(self, x, training=False):
        """Penultimate features `(batch, feature_dim)` of images in [0, 1],
        float32, as the active backend's tensor. On concrete input it runs
        compiled, in batches of `batch_size=` (default 256) images."""
        return ops.cast(self._features(ops.cast(x, self.compute_dtype), training), "float32")

    def call(self, x, training=False):
        h = self._features(x, training=training)
        return self.logits(self.dropout(h, training=training))

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Compile; by default for integer labels (sparse cross-entropy on
        the logits) with an accuracy metric, so a loaded classifier is
        ready for `fit(images, labels)`."""
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics is None:
            metrics = ["accuracy"]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def get_compile_config(self):
        """The compile arguments, loadable on every backend."""
        return portable_config(super().get_compile_config())

    def compile_from_config(self, config):
        """Recompile a saved training state (`.keras`) with its optimizer,
        built so that its saved variables are restored."""
        self.compile(**keras.saving.deserialize_keras_object(portable_config(config)))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @staticmethod
    def card_usage(handle, shape):
        """The usage snippet of the model card."""
        from keras_genae.hub.model_card import usage_header

        h, w, c = shape
        return usage_header(handle, "classifier") + [
            f"images = np.random.rand(4, {h}, {w}, {c}).astype(\"float32\")  # your images here",
            "features = classifier.features(images)  # (4, 128): what Fréchet distances compare",
            "labels = np.argmax(classifier.predict(images), axis=-1)",
            "# keras_genae.evaluate(model, test_images, classifier=classifier)",
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": list(self.image_shape),
                "num_classes": self.num_classes,
                "filters": self.filters,
                "convs_per_stage": self.convs_per_stage,
                "feature_dim": self.feature_dim,
                "dropout": self.dropout_rate,
            }
        )
        return config


def augment_batch(images, labels, flip, crop_padding, seed=None):
    """Random horizontal flips and random translations (pad with edge
    reflection, then crop back) of a batch, in TensorFlow ops."""
    import tensorflow as tf

    if flip:
        coin = tf.random.uniform([tf.shape(images)[0], 1, 1, 1], seed=seed) < 0.5
        images = tf.where(coin, images[:, :, ::-1, :], images)
    if crop_padding:
        p = crop_padding
        shape = tf.shape(images)
        b, h, w = shape[0], shape[1], shape[2]
        padded = tf.pad(images, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
        oy = tf.random.uniform([b, 1], 0, 2 * p + 1, dtype=tf.int32, seed=seed)
        ox = tf.random.uniform([b, 1], 0, 2 * p + 1, dtype=tf.int32, seed=seed)
        rows = oy + tf.range(h)[None]
        cols = ox + tf.range(w)[None]
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    return images, labels


# ------------------------------------------------------------- recipes
def build_classifier(recipe, steps_per_epoch):
    """The classifier of a `FeatureClassifier` recipe, compiled with AdamW
    (linear warmup over the first 10% of the steps, then cosine decay to
    0), cross-entropy with the recipe's label smoothing, and accuracy."""
    from keras_genae import data

    options = dict(recipe.options)
    classifier = FeatureClassifier(image_shape=data.DATASETS[recipe.dataset], **recipe.config)
    steps = max(1, steps_per_epoch * recipe.epochs)
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate / 10, max(1, steps - warmup),
        warmup_target=recipe.learning_rate, warmup_steps=warmup,
    )
    classifier.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=options.get("weight_decay", 5e-4)),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=options.get("label_smoothing", 0.0)
        ),
        metrics=["accuracy"],
        jit_compile=False,  # XLA compiles slowly and runs slower on CPU here
    )
    return classifier


def training_data(recipe, split="train", data_dir=None):
    """The augmented `(images, one_hot_labels)` batches of a recipe."""
    import tensorflow as tf

    from keras_genae import data

    options = dict(recipe.options)
    flip, pad = options.get("flip", False), options.get("crop_padding", 0)
    train = data.load_dataset(recipe.dataset, split, batch_size=recipe.batch_size,
                              seed=recipe.seed, with_labels=True, data_dir=data_dir)
    return train.map(
        lambda x, y: augment_batch(x, tf.one_hot(y, 10), flip, pad),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).prefetch(tf.data.AUTOTUNE)


def evaluate_classifier(classifier, dataset, data_dir=None, limit=None, reference_size=10_000,
                        seed=0):
    """Test accuracy of a classifier, and the Fréchet distance between
    `reference_size` train images and the test set in its features: the
    scale of the model distances (two samples of the same distribution).

    Args:
        classifier: a `FeatureClassifier`.
        dataset: `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        data_dir: str or None. See `keras_genae.data.load_dataset`.
        limit: int or None. Use the first `limit` test images only.
        reference_size: int. Train images of the distance. Defaults to
            `10_000`, the number of samples of the model distances; `0`
            skips the distance.
        seed: int. Picks the train images. Defaults to `0`.

    Returns:
        dict with `num_images`, `test_accuracy` and (unless
        `reference_size=0`) `frechet_distance_train_test`.
    """
    import numpy as np

    from keras_genae import data
    from keras_genae.evaluation import frechet

    split = "test" if limit is None else f"test[:{limit}]"
    test = data.load_dataset(dataset, split, batch_size=500, shuffle=False, with_labels=True,
                             data_dir=data_dir, cache=False)
    correct = total = 0
    for x, y in test:
        predicted = np.argmax(ops.convert_to_numpy(classifier(x, training=False)), axis=-1)
        correct += int(np.sum(predicted == y.numpy()))
        total += int(y.shape[0])
    metrics = {"num_images": total, "test_accuracy": correct / max(total, 1)}
    if reference_size:
        reference = data.load_dataset(dataset, "train", batch_size=500, shuffle=True, seed=seed,
                                      data_dir=data_dir, cache=False).unbatch().take(reference_size)
        metrics["frechet_distance_train_test"] = float(frechet.frechet_distance_between(
            classifier, reference.batch(500), test.map(lambda x, y: x)))
    return metrics


def save_classifier(classifier, directory, **card_fields):
    """Write a classifier as a checkpoint directory (`save_pretrained`'s
    layout, without optimizer state). `card_fields` as for
    `keras_genae.save_pretrained`."""
    from keras_genae.hub.checkpoint_writer import save_checkpoint

    return save_checkpoint(classifier, directory, overwrite=True, **card_fields)


def load_classifier(directory):
    """Rebuild the `FeatureClassifier` of a checkpoint directory (or of a
    manifest name such as `"classifier_mnist"`)."""
    from keras_genae import hub

    if not os.path.isdir(os.fspath(directory)) and not str(directory).startswith("classifier_"):
        raise FileNotFoundError(
            "`directory` must be a classifier checkpoint directory or a shipped "
            f"classifier's name. Received: directory={os.fspath(directory)!r}"
        )
    classifier = hub.load(os.fspath(directory), compile=False)
    if not isinstance(classifier, FeatureClassifier):
        raise ValueError(
            f"{os.fspath(directory)!r} does not hold a FeatureClassifier. "
            f"Received: a {type(classifier).__name__}"
        )
    return classifier
