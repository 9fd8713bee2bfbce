"""Pieces shared by the adversarial models (`AdversarialAutoencoder`,
`DCGAN`): discriminator losses in `keras.ops`, and compile and saving
support for a model trained with several optimizers."""

import keras
from keras import ops

from keras_genae.training.distribution import batch_random
from keras_genae.training.phases import PhasedOptimizer
from keras_genae.utils.portable import portable_config
from keras_genae.utils.validation import check_class_labels


def int_tuple(value, name):
    """Return `value` as a non-empty tuple of positive ints, or raise."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    try:
        value = tuple(value)
    except TypeError:
        value = ()
    if not value or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise ValueError(
            f"`{name}` must be a non-empty sequence of positive integers. "
            f"Received: {name}={value!r}"
        )
    return value


def sigmoid_cross_entropy(logits, target):
    """Mean binary cross-entropy of `logits` against a constant `target`
    probability, computed stably from the logits, in float32."""
    logits = ops.cast(logits, "float32")
    return ops.mean(
        ops.maximum(logits, 0.0)
        - logits * target
        + ops.log1p(ops.exp(-ops.abs(logits)))
    )


def discriminator_accuracy(real_logits, fake_logits):
    """Share of real (logit > 0) and fake (logit < 0) inputs classified
    right, with both halves weighted equally."""
    real = ops.mean(ops.cast(ops.cast(real_logits, "float32") > 0, "float32"))
    fake = ops.mean(ops.cast(ops.cast(fake_logits, "float32") < 0, "float32"))
    return 0.5 * (real + fake)


def discriminator_loss(real_logits, fake_logits, real_target=1.0):
    """`BCE(D(real), real_target) + BCE(D(fake), 0)`; `real_target < 1`
    is one-sided label smoothing."""
    return sigmoid_cross_entropy(real_logits, real_target) + sigmoid_cross_entropy(
        fake_logits, 0.0
    )


def hinge_discriminator_loss(real_logits, fake_logits):
    """`mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))`, the hinge loss
    of the discriminator (Lim and Ye, 2017; Miyato et al., 2018)."""
    real = ops.cast(real_logits, "float32")
    fake = ops.cast(fake_logits, "float32")
    return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))


def generator_loss(fake_logits, loss="non_saturating"):
    """The generator's loss on the logits of its fakes: `BCE(D(G(z)), 1)`
    (`"non_saturating"`) or `-mean(D(G(z)))` (`"hinge"`)."""
    if loss == "hinge":
        return -ops.mean(ops.cast(fake_logits, "float32"))
    return sigmoid_cross_entropy(fake_logits, 1.0)


class ClassConditioning:
    """Mixin of the adversarial models that can condition on classes: a
    subclass has `num_classes` (0: unconditional). Training then reads the
    batches' labels, and `sample(n, labels=...)` and
    `sample_latents(n, labels=...)` draw chosen classes: `labels` is an
    int or `n` ints in `[0, num_classes)`; None draws them uniformly."""

    def _with_class_code(self, z, n, labels, seed):
        """The latent of a model whose generator reads the class: `z`, then
        the one-hot of `labels` (drawn uniformly with `seed` where None)."""
        if labels is None:
            labels = batch_random(keras.random.randint, (n,), minval=0,
                                  maxval=self.num_classes, seed=seed)
        code = ops.one_hot(ops.cast(labels, "int32"), self.num_classes, dtype=z.dtype)
        return ops.concatenate([z, code], axis=-1)

    @property
    def uses_labels(self):
        """Whether training reads the batches' labels (`num_classes > 0`)."""
        return self.num_classes > 0

    def sampler_options(self, n, labels=None, **options):
        """`labels` (class-conditional models only) as int32 numpy `(n,)`
        or None (uniform classes).

        Raises:
            TypeError: an option the model does not take.
        """
        if options:
            raise TypeError(
                f"{type(self).__name__}.sample takes only `n`, `seed`, `batch_size` and `labels`. "
                f"Received: {sorted(options)}")
        if labels is None:
            return {"labels": None}
        if not self.num_classes:
            raise ValueError(
                f"`labels` needs a class-conditional model; this {type(self).__name__} is "
                f"unconditional. Received: labels={labels!r}")
        return {"labels": check_class_labels(labels, n, self.num_classes)}


class MultiOptimizerMixin:
    """Compile and compile-config support for models with one optimizer per
    training phase.

    A subclass lists its optimizer attributes in `optimizer_names` and
    returns a fresh default for each from `default_optimizer(name)`.
    `model.optimizer` is a `PhasedOptimizer` that holds them all (so every
    backend carries their state through the step); its learning rate, the
    one Keras callbacks such as `LearningRateScheduler` act on, is the
    first optimizer's. Its `compile` forwards to
    `compile_optimizers`. Each optimizer is built, in `compile`, on the
    variables of the phases that use it, so that `keras.saving.load_model`
    restores its state (the optimizers are attributes of the model, which
    Keras saving walks).
    """

    optimizer_names = ()

    def default_optimizer(self, name):
        raise NotImplementedError

    def compile_optimizers(self, optimizers, optimizer=None, **kwargs):
        """Resolve and set the optimizers, then compile.

        Args:
            optimizers: dict, optimizer name to an optimizer instance, name,
                config dict, or None (the default, or a copy of `optimizer`).
            optimizer: optional optimizer used as a template: each optimizer
                left as None gets its own copy of it (same class and
                hyperparameters, its own state).
            **kwargs: other `keras.Model.compile` arguments.
        """
        resolved = {}
        for name in self.optimizer_names:
            value = optimizers.get(name)
            if value is None and optimizer is not None:
                value = _copy_optimizer(optimizer)
            if value is None:
                value = self.default_optimizer(name)
            try:
                resolved[name] = keras.optimizers.get(value)
            except ValueError as e:
                raise ValueError(
                    f"`{name}` must be a Keras optimizer, its name or its config. "
                    f"Received: {name}={value!r}"
                ) from e
        seen = {}
        for name, opt in resolved.items():
            if id(opt) in seen:
                raise ValueError(
                    f"`{seen[id(opt)]}` and `{name}` must be distinct optimizer "
                    "instances, as each keeps the state of its own phase. Pass "
                    "two instances, or pass `optimizer=` to give each a copy. "
                    f"Received: {name}={opt!r}"
                )
            seen[id(opt)] = name
        scale = kwargs.get("auto_scale_loss", True) and (
            self.dtype_policy.name == "mixed_float16"
        )
        for name, opt in resolved.items():
            if scale and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_scale")
            setattr(self, name, opt)
        container = PhasedOptimizer(
            {name: getattr(self, name) for name in self.optimizer_names}
        )
        # Each phase's optimizer is already loss-scaled where needed.
        keras_kwargs = {k: v for k, v in kwargs.items() if k != "auto_scale_loss"}
        super().compile(optimizer=container, auto_scale_loss=False, **keras_kwargs)
        # Keras' own compile config would hold the first optimizer only.
        self._compile_config = _CompileArgs(**resolved, **kwargs)
        self.build_optimizers()

    def get_compile_config(self):
        """Every optimizer (serialized) and the other compile arguments."""
        if self.compiled and hasattr(self, "_compile_config"):
            return portable_config(self._compile_config.serialize())
        return {}

    def compile_from_config(self, config):
        """Recompile from `get_compile_config()` on loading. The optimizers
        are built here, so that their saved state is then restored."""
        config = keras.saving.deserialize_keras_object(portable_config(config))
        self.compile(**config)

    def _check_compiled(self):
        missing = [n for n in self.optimizer_names if getattr(self, n, None) is None]
        if missing:
            raise ValueError(
                f"{type(self).__name__} must be compiled before training: call "
                f"`model.compile()` (optimizers {list(self.optimizer_names)})."
            )


class _CompileArgs:
    """The compile arguments, in an object that Keras saving does not walk
    (the optimizers are saved as the model's attributes)."""

    def __init__(self, **config):
        self.config = config

    def serialize(self):
        return keras.saving.serialize_keras_object(self.config)


def _copy_optimizer(optimizer):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return type(optimizer).from_config(optimizer.get_config())
    return optimizer
