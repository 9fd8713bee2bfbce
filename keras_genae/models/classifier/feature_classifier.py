"""`FeatureClassifier`: the small per-dataset classifiers whose penultimate
features define the Fréchet distances of `keras_genae.evaluate`.

They are zoo checkpoints like the generative models (`classifier_mnist`,
`classifier_fashion_mnist`, `classifier_cifar10`; recipes in
`keras_genae/models/classifier/presets.py`). Train one with
`genae train classifier_mnist --data-dir ../shared/data --out ckpt`.
"""

import keras
from keras import layers
from keras import ops

from keras_genae.inference import inference_method
from keras_genae.models.base import register_loadable_model
from keras_genae.models.exportable import Exportable
from keras_genae.utils.portable import portable_config
from keras_genae.utils.validation import check_image_shape


@register_loadable_model
class FeatureClassifier(Exportable, keras.Model):
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
    #: Capabilities: a classifier classifies; it neither samples nor reconstructs.
    capabilities = frozenset({"classify"})
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
