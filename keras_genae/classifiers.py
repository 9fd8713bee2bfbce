"""Small per-dataset classifiers whose penultimate features define the
Fréchet distance of `keras_genae.evaluate`.

Train one from the command line (writes `model.weights.h5`, `config.json`
and `metrics.json` into `--out`):

    python -m keras_genae.classifiers mnist --data-dir ../shared/data --out ckpt/classifier_mnist
"""

import argparse
import json
import math
import os
import time

import keras
from keras import layers
from keras import ops

from keras_genae.utils.validation import check_image_shape


@keras.saving.register_keras_serializable(package="keras_genae")
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

    Example:
    >>> clf = FeatureClassifier(image_shape=(28, 28, 1), filters=(16, 32))
    >>> clf.features(np.zeros((2, 28, 28, 1), "float32")).shape
    TensorShape([2, 128])
    """

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

    def features(self, x, training=False):
        """Penultimate features `(batch, feature_dim)` of images in [0, 1]."""
        return ops.cast(self._features(ops.cast(x, self.compute_dtype), training), "float32")

    def call(self, x, training=False):
        h = self._features(x, training=training)
        return self.logits(self.dropout(h, training=training))

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


#: Architecture and training recipe of each dataset's classifier.
CLASSIFIER_RECIPES = {
    "mnist": {
        "architecture": {"filters": [32, 64], "convs_per_stage": 2, "feature_dim": 128, "dropout": 0.3},
        "epochs": 4, "batch_size": 128, "learning_rate": 3e-3, "label_smoothing": 0.0,
        "flip": False, "crop_padding": 0,
    },
    "fashion_mnist": {
        "architecture": {"filters": [32, 64], "convs_per_stage": 2, "feature_dim": 128, "dropout": 0.3},
        "epochs": 6, "batch_size": 128, "learning_rate": 3e-3, "label_smoothing": 0.1,
        "flip": True, "crop_padding": 0,
    },
    "cifar10": {
        "architecture": {"filters": [32, 64, 128], "convs_per_stage": 2, "feature_dim": 128, "dropout": 0.3},
        "epochs": 7, "batch_size": 128, "learning_rate": 3e-3, "label_smoothing": 0.1,
        "flip": True, "crop_padding": 4,
    },
}


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


def save_classifier(classifier, directory, metrics=None):
    """Write `config.json`, `model.weights.h5` (and `metrics.json`)."""
    os.makedirs(directory, exist_ok=True)
    config = {"class_name": "FeatureClassifier", "config": classifier.get_config()}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    # A fresh copy, so that the file holds no optimizer state.
    bare = FeatureClassifier.from_config(classifier.get_config())
    bare.set_weights(classifier.get_weights())
    bare.save_weights(os.path.join(directory, "model.weights.h5"))
    if metrics is not None:
        with open(os.path.join(directory, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)


def load_classifier(directory):
    """Rebuild a `FeatureClassifier` saved by `save_classifier`."""
    path = os.path.join(os.fspath(directory), "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"`directory` must hold a classifier's config.json and model.weights.h5. "
            f"Received: directory={os.fspath(directory)!r}"
        )
    with open(path) as f:
        config = json.load(f)
    if config.get("class_name") != "FeatureClassifier":
        raise ValueError(
            f"{path!r} does not describe a FeatureClassifier. "
            f"Received class_name={config.get('class_name')!r}"
        )
    classifier = FeatureClassifier.from_config(config["config"])
    classifier.load_weights(os.path.join(os.fspath(directory), "model.weights.h5"))
    return classifier


def train_classifier(
    name,
    data_dir=None,
    epochs=None,
    out=None,
    batch_size=None,
    limit=None,
    seed=0,
    verbose=1,
):
    """Train the feature classifier of a dataset with its recipe.

    Trains on the full train split (or its first `limit` images), reports
    the accuracy on the full test split, and also the Fréchet distance
    between 10,000 train images and the test set in the classifier's
    features: the scale against which model distances are read.

    Args:
        name: `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        data_dir: str or None. See `keras_genae.data.load_dataset`.
        epochs: int or None. Defaults to the recipe's.
        out: str or None. Folder to write the classifier and
            `metrics.json` to. Defaults to `None` (not saved).
        batch_size: int or None. Defaults to the recipe's.
        limit: int or None. Train on the first `limit` images only.
        seed: int. Seed of initialization, shuffling and augmentation.
            Defaults to `0`.
        verbose: int. Keras verbosity. Defaults to `1`.

    Returns:
        `(classifier, metrics)`.

    Example:
    >>> clf, metrics = train_classifier("mnist", data_dir="../shared/data",
    ...     out="ckpt/classifier_mnist")
    >>> metrics["test_accuracy"]
    """
    import tensorflow as tf

    from keras_genae import data
    from keras_genae import fid

    data.check_dataset_name(name)
    recipe = CLASSIFIER_RECIPES[name]
    epochs = epochs or recipe["epochs"]
    batch_size = batch_size or recipe["batch_size"]
    keras.utils.set_random_seed(seed)
    train = data.load_dataset(name, "train", batch_size=batch_size, seed=seed,
                              with_labels=True, data_dir=data_dir, limit=limit)
    flip, pad = recipe["flip"], recipe["crop_padding"]
    train = train.map(
        lambda x, y: augment_batch(x, tf.one_hot(y, 10), flip, pad),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).prefetch(tf.data.AUTOTUNE)
    test = data.load_dataset(name, "test", batch_size=500, with_labels=True,
                             data_dir=data_dir, cache=False)
    test = test.map(lambda x, y: (x, tf.one_hot(y, 10)))

    classifier = FeatureClassifier(image_shape=data.DATASETS[name], **recipe["architecture"])
    # Linear warmup over the first 10% of the steps, then cosine decay to 0.
    steps = int(train.cardinality()) * epochs
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe["learning_rate"] / 10, max(1, steps - warmup),
        warmup_target=recipe["learning_rate"], warmup_steps=warmup,
    )
    classifier.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=5e-4),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=recipe["label_smoothing"]
        ),
        metrics=["accuracy"],
        jit_compile=False,  # XLA compiles slowly and runs slower on CPU here
    )
    start = time.time()
    history = classifier.fit(train, epochs=epochs, verbose=verbose, shuffle=False,
                             callbacks=[keras.callbacks.TerminateOnNaN()])
    train_time = time.time() - start
    loss, accuracy = classifier.evaluate(test, verbose=0)
    reference = data.load_dataset(name, "train", batch_size=500, shuffle=True, seed=seed,
                                  data_dir=data_dir, cache=False, limit=limit).take(20)
    scale = fid.frechet_distance_between(classifier, reference, test.map(lambda x, y: x))
    metrics = {
        "dataset": name,
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "frechet_distance_train_test": float(scale),
        "epochs": epochs,
        "batch_size": batch_size,
        "train_limit": limit,
        "train_time_s": round(train_time, 1),
        "seconds_per_epoch": round(train_time / epochs, 1),
        "final_train_accuracy": float(history.history["accuracy"][-1]),
        "seed": seed,
        "recipe": recipe,
        "keras_version": keras.__version__,
    }
    if not all(math.isfinite(v) for v in (loss, accuracy)):
        raise FloatingPointError(f"Classifier training diverged: {metrics}")
    if out is not None:
        save_classifier(classifier, out, metrics)
    return classifier, metrics


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_genae.classifiers",
        description="Train the feature classifier of a dataset.",
    )
    parser.add_argument("dataset", choices=sorted(CLASSIFIER_RECIPES))
    parser.add_argument("--data-dir", default=None,
                        help="folder with <dataset>.npz (default: $KERAS_GENAE_DATA, else TFDS)")
    parser.add_argument("--out", default=None, help="output folder (default: classifier_<dataset>)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    out = args.out or f"classifier_{args.dataset}"
    _, metrics = train_classifier(
        args.dataset, data_dir=args.data_dir, epochs=args.epochs, out=out,
        batch_size=args.batch_size, limit=args.limit, seed=args.seed, verbose=args.verbose,
    )
    print(json.dumps({k: v for k, v in metrics.items() if k != "recipe"}, indent=2))
    print(f"Wrote {out}/model.weights.h5, config.json and metrics.json")


if __name__ == "__main__":
    main()
