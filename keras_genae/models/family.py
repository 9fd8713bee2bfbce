"""Model families: everything the workflow knows about an architecture.

A family lives in its own folder, `keras_genae/models/<family>/`: the model
class, and a `presets.py` that registers a `Family` with

- its `alias` (`genae train vae --dataset mnist`), references and model-card
  usage snippet;
- the evaluation probes it opts into (`keras_genae.evaluation.probes`) and
  the metrics `genae list` and the README table show;
- the `Recipe` of each zoo checkpoint: architecture config, data, schedule,
  seed, fine-tuning settings and the quality floor its evaluation must meet.

The training runner, the evaluator, the model cards and the CLI ask this
registry; none of them branches on an architecture's name. Adding a family
touches its folder plus one import line in `keras_genae/models/__init__.py`;
adding a checkpoint touches its family's `presets.py`.
"""

import dataclasses
import difflib
import math

import keras

from keras_genae.data import catalog
from keras_genae.models.finetuning import FineTuning

#: The metrics of a sampler's samples (the `"frechet"` probe): the Fréchet
#: distance, improved precision and recall, and the class coverage.
SAMPLER_METRICS = ("frechet_distance", "precision", "recall", "class_share_min", "class_share_max")

SCHEDULES = ("cosine", "constant", "warmup_cosine", "model_default")


@dataclasses.dataclass(frozen=True)
class PriorStage:
    """The second stage of a recipe whose model has a prior over its codes
    (a VQ-VAE's `prior`): after the recipe's `epochs`, the autoencoder is
    frozen and the prior alone trains on its codes.

    Args:
        epochs: int. Passes over the train split.
        learning_rate: float. Peak Adam learning rate, cosine-decayed to
            5% over the stage. Defaults to `1e-3`.
        batch_size: int. Defaults to `128`.
    """

    epochs: int
    learning_rate: float = 1e-3
    batch_size: int = 128


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one zoo checkpoint is trained, and what it must reach.

    Args:
        name: str. The manifest name, `<family>_<dataset>`.
        architecture: str. Registered class name, e.g. `"VQVAE"`.
        dataset: str. A name of `keras_genae.data.catalog.DATASETS`.
        config: dict. Constructor arguments besides `image_shape` and `seed`.
        epochs: int. Passes over the full train split.
        batch_size: int. Defaults to `128`.
        learning_rate: float. Peak learning rate. Defaults to `1e-3`.
        schedule: str. `"cosine"` (Adam with cosine decay to
            `min_lr_ratio * learning_rate` over the run), `"constant"` (Adam
            at `learning_rate`), `"warmup_cosine"` (the classifiers' AdamW
            with warmup), or `"model_default"` (the model's own default
            optimizers, e.g. the per-phase Adams of the adversarial models;
            `learning_rate` is then unused). Defaults to `"cosine"`.
        min_lr_ratio: float. Final over peak learning rate for `"cosine"`.
            Defaults to `0.05`.
        binarize: None or a `keras_genae.data.load_dataset` binarize mode of
            the training images (the test split is then binarized
            statically). Defaults to `None`.
        seed: int. Seeds Python, NumPy and Keras, the model and the data
            order. Defaults to `0`.
        description: str. One line for the manifest and the model card.
        compile_kwargs: tuple of `(name, value)` pairs. Extra `compile()`
            arguments. Defaults to `()`.
        options: tuple of `(name, value)` pairs. Training options that a
            family's recipe class reads (the classifiers' augmentation).
            Defaults to `()`.
        finetuning: `FineTuning` or None. How the shipped checkpoint is
            fine-tuned; None: the architecture's `default_finetuning`.
        floor: None or `(metric, op, value)` with op `">="` or `"<="`: the
            quality the checkpoint's evaluation must meet (checked by the
            zoo tests and shown in the README table). Defaults to `None`.
        prior_stage: None or a `PriorStage`: train the model's prior on the
            codes of the frozen autoencoder after `epochs` (the training
            data then carries labels, for class-conditional priors).
            Defaults to `None`.
        labels: bool. Train and test on `(images, labels)`, for a model
            whose `uses_labels` is true (a conditional AAE). Defaults to
            `False` (implied by `prior_stage`).

    Example:
    >>> recipe = keras_genae.models.family.get_recipe("vae_mnist")
    >>> model = recipe.build_model(steps_per_epoch=469)
    """

    name: str
    architecture: str
    dataset: str
    config: dict
    epochs: int
    batch_size: int = 128
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    min_lr_ratio: float = 0.05
    binarize: str = None
    seed: int = 0
    description: str = ""
    compile_kwargs: tuple = ()
    options: tuple = ()
    finetuning: FineTuning = None
    floor: tuple = None
    prior_stage: PriorStage = None
    labels: bool = False

    def __post_init__(self):
        catalog.check_dataset_name(self.dataset)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"`schedule` must be one of {SCHEDULES}. Received: schedule={self.schedule!r}")
        if self.floor is not None and (len(self.floor) != 3 or self.floor[1] not in (">=", "<=")):
            raise ValueError(f"`floor` must be (metric, '>=' or '<=', value). Received: floor={self.floor!r}")

    @property
    def image_shape(self):
        return catalog.DATASETS[self.dataset].shape

    def finetuning_settings(self):
        """The recipe's `finetuning`, else its architecture's default (None
        for models that `load` compiles with their own defaults)."""
        from keras_genae.models.base import LOADABLE_MODELS

        return self.finetuning or LOADABLE_MODELS[self.architecture].default_finetuning

    def steps_per_epoch(self, num_examples):
        return math.ceil(num_examples / self.batch_size)

    def meets_floor(self, metrics):
        """True or False if the recipe has a floor, else None."""
        if self.floor is None:
            return None
        key, op, value = self.floor
        if metrics.get(key) is None:
            return False
        return metrics[key] >= value if op == ">=" else metrics[key] <= value

    def build_model(self, steps_per_epoch):
        """The recipe's model, compiled with its optimizer and schedule."""
        from keras_genae.models.base import get_architecture

        model = get_architecture(self.architecture)(image_shape=self.image_shape, seed=self.seed,
                                                    **self.config)
        if self.schedule == "model_default":
            model.compile(**dict(self.compile_kwargs))
            return model
        lr = self.learning_rate
        if self.schedule == "cosine":
            lr = keras.optimizers.schedules.CosineDecay(
                lr, decay_steps=self.epochs * steps_per_epoch, alpha=self.min_lr_ratio)
        model.compile(optimizer=keras.optimizers.Adam(lr), **dict(self.compile_kwargs))
        return model

    @property
    def total_epochs(self):
        """The epochs of both stages."""
        return self.epochs + (self.prior_stage.epochs if self.prior_stage else 0)

    def train_data(self, split="train", data_dir=None, batch_size=None):
        """The training batches (a `tf.data.Dataset`), shuffled with the
        recipe's seed and binarized as the recipe says; `(images, labels)`
        for a recipe with a prior stage."""
        from keras_genae.data import datasets

        return datasets.load_dataset(self.dataset, split, batch_size=batch_size or self.batch_size,
                                     seed=self.seed, binarize=self.binarize, data_dir=data_dir,
                                     with_labels=self.with_labels)

    @property
    def with_labels(self):
        """Whether the recipe's data carries labels."""
        return self.labels or self.prior_stage is not None

    def start_prior_stage(self, model, steps_per_epoch):
        """Freeze the autoencoder of `model` and compile it for the prior
        stage: Adam, cosine decay over the stage. Returns the model."""
        stage = self.prior_stage
        model.autoencoder_trainable = False
        lr = keras.optimizers.schedules.CosineDecay(
            stage.learning_rate, decay_steps=stage.epochs * steps_per_epoch, alpha=self.min_lr_ratio)
        model.compile(optimizer=keras.optimizers.Adam(lr), **dict(self.compile_kwargs))
        return model

    def test_data(self, data_dir=None, limit=None, batch_size=256, binarize=True):
        """The evaluation batches: the full test split (or its first `limit`
        images), in order; binarized statically like the training data
        when `binarize` is true (the likelihoods), as it is when false (the
        Fréchet references)."""
        from keras_genae.data import datasets

        split = "test" if limit is None else f"test[:{limit}]"
        mode = "static" if (self.binarize and binarize) else None
        return datasets.load_dataset(self.dataset, split, batch_size=batch_size, shuffle=False,
                                     binarize=mode, data_dir=data_dir,
                                     with_labels=self.with_labels)


def usage_header(handle, variable="model"):
    """The first lines of every model card's usage snippet: imports and
    `load`."""
    return ["import numpy as np", "import keras_genae", "", f'{variable} = keras_genae.load("{handle}")']


def default_card_usage(handle, shape):
    """The usage snippet of a model card of a reconstruction model."""
    h, w, c = shape
    return usage_header(handle) + [
        f"images = np.random.rand(4, {h}, {w}, {c}).astype(\"float32\")  # your images here",
        "reconstructions = model.reconstruct(images)",
        "model.fit(images, epochs=1)  # fine-tune: load() returns a compiled model",
    ]


@dataclasses.dataclass(frozen=True)
class Family:
    """One architecture, as the workflow sees it.

    Args:
        alias: str. Short name, the prefix of the zoo's checkpoint names and
            what `genae train ALIAS --dataset D` accepts.
        architecture: str. The registered class name.
        references: tuple of str. Paper URLs, for the model cards.
        probes: tuple of str. The `keras_genae.evaluation.probes` this
            family is evaluated with, in report order.
        optional_probes: tuple of str. Probes the family supports that
            run only when asked for (`evaluate(..., probes=...)`), because
            they cost much more than the others (the VAEs' `is_nll`).
        key_metrics: tuple of str. The metrics that describe a checkpoint,
            most telling first: `genae list` shows the first one present and
            the README table all present ones, in this order.
        recipes: tuple of `Recipe`. The zoo checkpoints of the family.
        card_usage: callable `(handle, image_shape) -> list of str`: the
            model card's usage snippet. Defaults to `default_card_usage`,
            the reconstruction snippet.
        recipe_class: type. The `Recipe` class of `custom_recipe` (a family
            may train differently, e.g. the classifiers). Defaults to
            `Recipe`.
        test_config: dict. A small constructor config (besides
            `image_shape` and `seed`) with which the shared tests, which are
            parametrized over the families, build the architecture in
            seconds. Defaults to `{}`.
    """

    alias: str
    architecture: str
    references: tuple = ()
    probes: tuple = ()
    optional_probes: tuple = ()
    key_metrics: tuple = ()
    recipes: tuple = ()
    card_usage: object = default_card_usage
    recipe_class: type = Recipe
    test_config: dict = dataclasses.field(default_factory=dict)

    def custom_recipe(self, dataset, name=None, epochs=10):
        """A recipe with the architecture's default config (`genae train
        ALIAS --dataset D`)."""
        return self.recipe_class(
            name=name or f"my_{self.alias}_{dataset}", architecture=self.architecture,
            dataset=dataset, config={}, epochs=epochs,
            description=f"{self.architecture} with its default config, trained on {dataset} "
                        "with `genae train`.",
        )


_FAMILIES = {}  # architecture -> Family
_RECIPES = {}  # checkpoint name -> Recipe


def register_family(family):
    """Register a `Family` and its recipes; returns it. Names must be new."""
    clashes = [n for n in (family.architecture,) if n in _FAMILIES]
    clashes += [f.alias for f in _FAMILIES.values() if f.alias == family.alias]
    clashes += [r.name for r in family.recipes if r.name in _RECIPES]
    if clashes:
        raise ValueError(f"Family {family.alias!r} reuses registered names: {clashes}.")
    for recipe in family.recipes:
        if recipe.architecture != family.architecture:
            raise ValueError(
                f"Recipe {recipe.name!r} of family {family.alias!r} must have architecture="
                f"{family.architecture!r}. Received: architecture={recipe.architecture!r}")
    _FAMILIES[family.architecture] = family
    _RECIPES.update({r.name: r for r in family.recipes})
    return family


def _unknown(kind, name, known):
    close = difflib.get_close_matches(str(name), known, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"Unknown {kind} {name!r}. Known: {sorted(known)}.{hint}")


_NO_DEFAULT = object()


def get_family(architecture, default=_NO_DEFAULT):
    """The `Family` of an architecture name, a model class or a model (a
    subclass of a family's class belongs to that family).

    Args:
        architecture: str, model class or model.
        default: returned for an architecture of no family; if not given,
            that raises `ValueError` naming the known ones.
    """
    if not isinstance(architecture, str):
        cls = architecture if isinstance(architecture, type) else type(architecture)
        architecture = next((c.__name__ for c in cls.__mro__ if c.__name__ in _FAMILIES), cls.__name__)
    if architecture not in _FAMILIES:
        if default is not _NO_DEFAULT:
            return default
        raise _unknown("architecture", architecture, list(_FAMILIES))
    return _FAMILIES[architecture]


def find_family(alias):
    """The `Family` whose alias (e.g. `"vae"`) or architecture is `alias`."""
    for family in _FAMILIES.values():
        if alias.lower() in (family.alias, family.architecture.lower()):
            return family
    raise _unknown("family", alias, [f.alias for f in _FAMILIES.values()])


def list_families():
    return list(_FAMILIES.values())


def list_recipes():
    """The names of every zoo recipe, sorted."""
    return sorted(_RECIPES)


def get_recipe(name):
    """The recipe called `name`, suggesting close names if unknown."""
    if name not in _RECIPES:
        raise _unknown("recipe", name, list(_RECIPES))
    return _RECIPES[name]
