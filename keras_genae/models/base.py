"""`GenerativeModel`, the base class of every keras_genae model, and
`GenerativeAutoencoder`, that of the models with an encoder."""

import keras
from keras import ops

from keras_genae import training
from keras_genae.inference import inference_method
from keras_genae.metrics import psnr_tracker
from keras_genae.models.capabilities import CAPABILITIES  # noqa: F401 (re-exported)
from keras_genae.models.capabilities import HasPrior
from keras_genae.models.capabilities import declare_capabilities
from keras_genae.models.exportable import Exportable
from keras_genae.models.finetuning import FineTuning
from keras_genae.models.input_checks import InputChecks
# Re-exported: other modules import the registry from here.
from keras_genae.models.registry import ARCHITECTURES  # noqa: F401
from keras_genae.models.registry import LOADABLE_MODELS  # noqa: F401
from keras_genae.models.registry import get_architecture  # noqa: F401
from keras_genae.models.registry import register_architecture  # noqa: F401
from keras_genae.models.registry import register_loadable_model  # noqa: F401
from keras_genae.training.guard import STATUS_KEY
from keras_genae.training.guard import GuardStatus
from keras_genae.training.phases import TrainPhase
from keras_genae.utils.portable import portable_config
from keras_genae.utils.validation import check_image_shape

# The methods that run compiled and batched on concrete input (see
# `keras_genae.inference`), with the check each runs on its whole input.
INFERENCE_METHODS = {
    "encode": lambda model, x: model._check_images(x),
    "reconstruct": lambda model, x: model._check_images(x),
    "decode": None,
    "sample": None,
    "sample_latents": None,
}

# Key of the model's RNG state among the model's own saved variables.
SEED_STATE_KEY = "seed_generator_state"


class GenerativeModel(Exportable, InputChecks, keras.Model):
    """Base class of the keras_genae models.

    What every model shares: input validation, metric tracking, the train
    and test steps (through `keras_genae.training`), the NaN and input
    guard, compile and saving plumbing, and sampling from a prior. A
    subclass declares `capabilities`, builds its layers in `__init__`,
    implements `compute_losses` (its scalar terms listed in `loss_terms`),
    `build_layers` and `get_config`, and with `"sample"`, `decode` and
    `_sample_latents`. `GenerativeAutoencoder` adds an encoder; `DCGAN`
    subclasses this class directly.

    Deployment: `export(path, format=...)` writes every endpoint the
    capabilities give (`keras_genae.export`).

    Inference: `sample`, `sample_latents` and a subclass's `encode`,
    `decode` and `reconstruct` run compiled and batched on concrete input
    (numpy arrays, lists, eager tensors; `batch_size=`, default 256), and
    as plain ops inside a trace (see `keras_genae.inference`). They return
    the active backend's tensor (`tf.Tensor`, `jax.Array`, `torch.Tensor`);
    get numpy with `keras.ops.convert_to_numpy(y)`.

    Args:
        image_shape: tuple of 3 ints `(height, width, channels)` of the
            images, which are floats in [0, 1].
        seed: int or None. Seed of the model's `SeedGenerator`, used by every
            random op of the model. Defaults to `None`.
        **kwargs: base `keras.Model` arguments such as `name` and `dtype`.
    """

    #: What the model can do: a subset of `keras_genae.models.capabilities.CAPABILITIES`.
    capabilities = frozenset()
    #: Whether the model has a prior: `"sample" in capabilities`.
    has_prior = HasPrior()
    #: Scalar loss terms returned by `compute_losses`; each is tracked by a
    #: `keras.metrics.Mean` and checked for NaN and inf during training.
    loss_terms = ("loss",)
    #: Whether `compute_losses` returns a `psnr` term (the mean PSNR in dB
    #: of the step's reconstructions), logged as `psnr` and `val_psnr`.
    reports_psnr = False
    #: How a pretrained checkpoint of this family is fine-tuned, unless its
    #: recipe says otherwise (`keras_genae.models.finetuning.FineTuning`).
    default_finetuning = FineTuning()
    #: The settings `keras_genae.load` compiled this pretrained model with
    #: (None for a model built in code or loaded with `pretrained=False`).
    finetuning = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declare_capabilities(cls)
        for name, check in INFERENCE_METHODS.items():
            if name in cls.__dict__:
                setattr(cls, name, inference_method(cls.__dict__[name], check=check))

    def __init__(self, image_shape, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self._trackers = [keras.metrics.Mean(name=n) for n in self.loss_terms]
        if self.reports_psnr:
            self._trackers.append(psnr_tracker())
        self._trackers += self.build_extra_metrics()
        self._guard_status = GuardStatus(name=STATUS_KEY)

    def build_extra_metrics(self):
        """Return metrics besides the loss means. Each is updated with
        `terms[metric.source]` (default: `terms[metric.name]`)."""
        return []

    def sample_latents(self, n, seed=None, **options):
        """Draw `n` latents from the model's prior, float32: the one way to
        draw them. `sample(n, seed=s)` is `decode(sample_latents(n, seed=s))`.

        Args:
            n: int. Number of latents; a positive int (numpy ints too).
            seed: int or None. An int gives the same latents on every call
                (and leaves the model's generator as it is); None draws from
                and advances the model's `SeedGenerator`.
            batch_size: int or None. Latents per compiled call (256).
            **options: the model's own sampler options, checked by
                `sampler_options` (none for most models; `labels=` of a
                class-conditional one: None draws the classes uniformly).

        Example:
        >>> z = model.sample_latents(16, seed=0)   # (16, latent_dim)
        >>> images = model.decode(z)
        """
        self._require_prior("sample_latents")
        return self._sample_latents(n, seed, **options)

    def _sample_latents(self, n, seed=None, **options):
        """`sample_latents` with no checks; `n` may be a traced batch size."""
        raise NotImplementedError

    def sampler_options(self, n, **options):
        """Check and normalize the options of `sample` and `sample_latents`
        besides `n` and `seed` (none here; a VQ-VAE takes `labels` and
        `temperature`). Returns them: numpy arrays of `n` rows are split
        with the batches, other values are static (see
        `keras_genae.inference`).

        Raises:
            TypeError: an option the model does not take.
        """
        if options:
            raise TypeError(
                f"{type(self).__name__}.sample takes only `n`, `seed` and `batch_size`. "
                f"Received: {sorted(options)}")
        return {}

    def sample(self, n, seed=None, **options):
        """Draw `n` float32 images in [0, 1] from the prior: the decoded
        `sample_latents(n, seed, **options)`.

        Args:
            n, seed, batch_size, **options: as for `sample_latents`.
        """
        self._require_prior("sample")
        return self.decode(ops.cast(self._sample_latents(n, seed, **options), self.compute_dtype))

    def finish_training(self, data):
        """Fit what is fitted once training is over, from the training
        `data` (a dataset of batches): nothing here; an AAE with
        `ex_post_density` fits its code density. `keras_genae.workflow.
        train` calls it after the last epoch."""

    def _require_prior(self, method):
        if "sample" not in self.capabilities:
            raise NotImplementedError(
                f"{type(self).__name__} has no prior to sample from, so `{method}` is not "
                f"available. Its capabilities: {sorted(self.capabilities)}."
            )

    def compute_losses(self, x, training=False):
        """Return a dict of named scalar loss terms (and statistics)."""
        raise NotImplementedError

    def build(self, input_shape=None):
        """Create every weight by tracing the model on a symbolic batch."""
        if self.built:
            return
        self.build_layers(keras.KerasTensor((None,) + self.image_shape))
        self.built = True

    def build_layers(self, x):
        """Call every sublayer once on the symbolic image batch `x`."""
        raise NotImplementedError

    def train_phases(self):
        """The optimization phases of one train step (see `TrainPhase`)."""
        return [
            TrainPhase(
                name="model",
                objective="loss",
                variables=self.trainable_variables,
                optimizer=self.optimizer,
            )
        ]

    # ------------------------------------------------------------ training
    @property
    def metrics(self):
        # The guard's status rides with the metrics through every backend's step.
        return list(self._trackers) + [self._guard_status]

    @property
    def guard_status(self):
        """The NaN and input guard's status (`keras_genae.training.guard`)."""
        return self._guard_status

    def get_metrics_result(self):
        results = super().get_metrics_result()
        results.pop(STATUS_KEY, None)
        return results

    def update_metrics(self, terms):
        for metric in self._trackers:
            metric.update_state(terms[getattr(metric, "source", metric.name)])
        return {m.name: m.result() for m in self._trackers}

    def train_step(self, *args):
        # `(data)` on TensorFlow and PyTorch, `(state, data)` on JAX.
        return training.get_trainer().train_step(self, *args)

    def test_step(self, *args):
        return training.get_trainer().test_step(self, *args)

    def make_train_function(self, force=False):
        super().make_train_function(force=force)
        self.train_function = training.guard_function(self, self.train_function)
        return self.train_function

    def make_test_function(self, force=False):
        super().make_test_function(force=force)
        self.test_function = training.guard_function(self, self.test_function)
        return self.test_function

    def compile(self, optimizer="adam", **kwargs):
        """Compile with `optimizer` (default Adam). Losses are built in, so
        `loss` and `metrics` are not accepted."""
        for key in ("loss", "metrics"):
            if kwargs.get(key) is not None:
                raise ValueError(
                    f"{type(self).__name__} computes its own losses and metrics; "
                    f"do not pass `{key}` to compile(). Received: {key}={kwargs[key]!r}"
                )
        # Saved as given: Keras saves the value "auto" resolved to on this
        # backend (True on JAX), which would mean `torch.compile` when the
        # checkpoint is loaded on PyTorch.
        self._requested_jit_compile = kwargs.get("jit_compile", "auto")
        super().compile(optimizer=optimizer, **kwargs)

    def save_own_variables(self, store):
        """Save the weights and the `SeedGenerator` state, so that a reloaded
        model draws the same noise as the original from there on."""
        super().save_own_variables(store)
        store[SEED_STATE_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if SEED_STATE_KEY in keys:  # absent from files of older versions
            self.seed_generator.state.assign(store[SEED_STATE_KEY])
        super().load_own_variables({k: store[k] for k in keys if k != SEED_STATE_KEY})

    def get_compile_config(self):
        """The compile arguments, loadable on every backend: the optimizer by
        its public class, `jit_compile` as it was requested."""
        config = portable_config(super().get_compile_config())
        if config and "jit_compile" in config:
            config["jit_compile"] = getattr(self, "_requested_jit_compile", "auto")
        return config

    def compile_from_config(self, config):
        """Recompile from `get_compile_config()` when a saved model is loaded,
        and build each optimizer so that its saved state can be restored."""
        config = keras.saving.deserialize_keras_object(portable_config(config))
        self.compile(**config)
        if self.built:
            self.build_optimizers()

    def build_optimizers(self):
        """Create the variables of every phase's optimizer."""
        by_optimizer = {}
        for phase in self.train_phases():
            entry = by_optimizer.setdefault(id(phase.optimizer), (phase.optimizer, []))
            for v in phase.variables:
                if not any(v is w for w in entry[1]):
                    entry[1].append(v)
        for optimizer, variables in by_optimizer.values():
            if not optimizer.built:
                optimizer.build(variables)

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        """`keras.Model.fit` with input checks. `x` is a float array of
        images in [0, 1], or a `tf.data.Dataset` of images or of
        `(images, labels)`; labels and `y` are ignored."""
        self._check_training_data(x, "fit")
        self._check_training_labels(x, y)
        if hasattr(x, "element_spec"):
            kwargs.setdefault("shuffle", False)  # datasets shuffle themselves
        if validation_data is not None:
            self._check_training_data(validation_data, "validation_data")
        training.prepare(self)
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        self._check_training_data(x, "evaluate")
        training.prepare(self)
        return super().evaluate(x, y, **kwargs)

    def _sample_seed(self, seed):
        """A seed for a random op: the given int, else the model's generator."""
        return self.seed_generator if seed is None else seed

    def get_config(self):
        config = super().get_config()
        config.update({"image_shape": list(self.image_shape), "seed": self.seed})
        return config


class GenerativeAutoencoder(GenerativeModel):
    """Base class of the keras_genae models with an encoder.

    Adds `encode`, `decode`, `reconstruct` and `call` (= `reconstruct`, so
    `predict(images)` returns reconstructions) to `GenerativeModel`, whose
    arguments it takes. Subclasses implement `_encode`, `decode` (and
    usually `decode_raw`), `compute_losses` and `get_config`.
    """

    capabilities = frozenset({"encode", "decode", "reconstruct"})
    #: How the decoder's raw output maps to images: `"sigmoid"` (the output
    #: is Bernoulli logits) or `"linear"` (the output is the image itself,
    #: trained with a squared error and clipped to [0, 1] when returned).
    output_activation = "sigmoid"

    def encode(self, x, training=False):
        """Encode a batch of images in [0, 1] (checked, see `fit`) to
        latents, float32 whatever the dtype policy (int32 code indices for
        a VQ-VAE).

        Args:
            x: float images `(batch, H, W, C)` in [0, 1]: a numpy array, a
                list or a tensor of the active backend.
            training: bool. Run the layers in training mode (not compiled).
            batch_size: int or None. Images per compiled call (256).

        Example:
        >>> z = keras.ops.convert_to_numpy(model.encode(x))  # numpy
        """
        z = self._encode(self._check_call_input(x), training=training)
        return ops.cast(z, "float32") if "float" in str(z.dtype) else z

    def _encode(self, x, training=False):
        """Encode a tensor batch with no input checks."""
        raise NotImplementedError

    def decode(self, z, training=False):
        """Decode latents to images in [0, 1]. Takes `batch_size=` as
        `encode` does."""
        raise NotImplementedError

    def reconstruct(self, x, training=False):
        """Encode then decode `x`; returns images in [0, 1], float32, as
        the active backend's tensor. Arguments as for `encode`."""
        x = self._check_call_input(x)
        return self.decode(self._encode(x, training=training), training=training)

    def images_from_output(self, output):
        """Map the decoder's raw output to float32 images in [0, 1]."""
        output = ops.cast(output, "float32")
        if self.output_activation == "sigmoid":
            return ops.sigmoid(output)
        return ops.clip(output, 0.0, 1.0)

    def call(self, x, training=False):
        return self.reconstruct(x, training=training)

    def build_layers(self, x):
        self.reconstruct(x)


for _name, _check in INFERENCE_METHODS.items():
    if _name in GenerativeModel.__dict__:
        setattr(GenerativeModel, _name, inference_method(GenerativeModel.__dict__[_name], check=_check))
