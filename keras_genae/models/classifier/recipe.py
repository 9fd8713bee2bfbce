"""How the feature classifiers train: AdamW with warmup, label smoothing,
and flip/translate augmentation in the input pipeline."""

import dataclasses

import keras

from keras_genae.models.classifier.feature_classifier import FeatureClassifier
from keras_genae.models.family import Recipe


def augment_batch(images, labels, flip, crop_padding, seed=None):
    """Random horizontal flips and random translations (pad with edge
    reflection, then crop back) of a batch, in TensorFlow ops (it runs in
    the `tf.data` pipeline)."""
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


@dataclasses.dataclass(frozen=True)
class ClassifierRecipe(Recipe):
    """A `Recipe` of a `FeatureClassifier`. `options` holds
    `label_smoothing`, `weight_decay`, `flip` and `crop_padding`; the
    schedule is AdamW with linear warmup over the first 10% of the steps,
    then cosine decay to 0."""

    schedule: str = "warmup_cosine"

    def build_model(self, steps_per_epoch):
        """The classifier, compiled with AdamW, cross-entropy with the
        recipe's label smoothing, and accuracy."""
        options = dict(self.options)
        classifier = FeatureClassifier(image_shape=self.image_shape, **self.config)
        steps = max(1, steps_per_epoch * self.epochs)
        warmup = max(1, steps // 10)
        schedule = keras.optimizers.schedules.CosineDecay(
            self.learning_rate / 10, max(1, steps - warmup),
            warmup_target=self.learning_rate, warmup_steps=warmup,
        )
        classifier.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=options.get("weight_decay", 5e-4)),
            loss=keras.losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=options.get("label_smoothing", 0.0)),
            metrics=["accuracy"],
            jit_compile=False,  # XLA compiles slowly and runs slower on CPU here
        )
        return classifier

    def train_data(self, split="train", data_dir=None):
        """The augmented `(images, one_hot_labels)` batches."""
        import tensorflow as tf

        from keras_genae.data import datasets

        options = dict(self.options)
        flip, pad = options.get("flip", False), options.get("crop_padding", 0)
        num_classes = self.config.get("num_classes", 10)
        train = datasets.load_dataset(self.dataset, split, batch_size=self.batch_size, seed=self.seed,
                                      with_labels=True, data_dir=data_dir)
        return train.map(
            lambda x, y: augment_batch(x, tf.one_hot(y, num_classes), flip, pad),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).prefetch(tf.data.AUTOTUNE)
