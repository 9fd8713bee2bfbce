"""`FineTuning`: how a pretrained checkpoint is fine-tuned.

A pretrained model must not be fine-tuned at its from-scratch learning
rate: the first steps of a fresh Adam at 1e-3 wreck trained weights (and a
VQ-VAE's codebook). Each family declares its default settings
(`default_finetuning`), each zoo recipe may override them, and
`keras_genae.load` compiles a pretrained model with them.
"""

import dataclasses
import math

import keras


@dataclasses.dataclass(frozen=True)
class FineTuning:
    """The optimizer settings and schedule for fine-tuning a checkpoint.

    Args:
        learning_rate: float. Adam learning rate of a single-optimizer model
            (AE, DAE, VAE, VQ-VAE). Defaults to `1e-4`.
        phase_learning_rates: tuple of `(optimizer_name, learning_rate)`
            pairs for a multi-optimizer model (`ae_optimizer`,
            `d_optimizer`, `g_optimizer` of an AAE; `g_optimizer`,
            `d_optimizer` of a DCGAN). Each phase keeps the optimizer class
            and hyperparameters of its from-scratch default (e.g. Adam with
            `beta_1=0.5` for adversarial phases), at this learning rate.
            Defaults to `()`.
        steps: int. Default length of a fine-tuning run (`keras_genae.
            finetune`, `genae finetune`) in optimizer steps; the number of
            epochs is `ceil(steps / steps_per_epoch)`. Defaults to `300`.
        batch_size: int. Default batch size of a fine-tuning run.
            Defaults to `32`.

    Example:
    >>> settings = FineTuning(learning_rate=3e-5)
    >>> settings.compile(model)   # model.fit(...) now fine-tunes at 3e-5
    """

    learning_rate: float = 1e-4
    phase_learning_rates: tuple = ()
    steps: int = 300
    batch_size: int = 32

    def __post_init__(self):
        for name, lr in (("learning_rate", self.learning_rate),) + tuple(self.phase_learning_rates):
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < lr < 1):
                raise ValueError(
                    f"The fine-tuning learning rate of `{name}` must be a number in (0, 1). "
                    f"Received: {name}={lr!r}"
                )
        for name in ("steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")

    def learning_rates(self, model):
        """Optimizer name -> learning rate, for every optimizer of `model`."""
        names = tuple(getattr(model, "optimizer_names", ())) or ("optimizer",)
        rates = dict(self.phase_learning_rates)
        unknown = sorted(set(rates) - set(names))
        if unknown:
            raise ValueError(
                f"{type(model).__name__} has the optimizers {list(names)}; the fine-tuning "
                f"settings name {unknown}. Received: phase_learning_rates={self.phase_learning_rates!r}"
            )
        return {name: float(rates.get(name, self.learning_rate)) for name in names}

    def compile(self, model, **compile_kwargs):
        """Compile `model` with fresh optimizers at the fine-tuning rates."""
        rates = self.learning_rates(model)
        if "optimizer" in rates and len(rates) == 1:
            model.compile(optimizer=keras.optimizers.Adam(rates["optimizer"]), **compile_kwargs)
            return model
        optimizers = {}
        for name, lr in rates.items():
            default = model.default_optimizer(name)
            config = dict(default.get_config(), learning_rate=lr)
            optimizers[name] = type(default).from_config(config)
        model.compile(**optimizers, **compile_kwargs)
        return model

    def epochs_for(self, num_images, batch_size=None):
        """Epochs that make `steps` optimizer steps over `num_images`."""
        steps_per_epoch = max(1, math.ceil(num_images / (batch_size or self.batch_size)))
        return max(1, math.ceil(self.steps / steps_per_epoch))

    def to_dict(self):
        """JSON-ready settings, for the manifest and the model card."""
        out = {"optimizer": "adam", "learning_rate": self.learning_rate}
        if self.phase_learning_rates:
            out["phase_learning_rates"] = dict(self.phase_learning_rates)
        out.update(steps=self.steps, batch_size=self.batch_size)
        return out

    @classmethod
    def from_dict(cls, config):
        """Inverse of `to_dict` (raises `ValueError` on a malformed dict)."""
        if not isinstance(config, dict):
            raise ValueError(f"Fine-tuning settings must be a JSON object. Received: {config!r}")
        known = {"optimizer", "learning_rate", "phase_learning_rates", "steps", "batch_size"}
        unknown = sorted(set(config) - known)
        if unknown or config.get("optimizer", "adam") != "adam":
            raise ValueError(
                f"Fine-tuning settings take the keys {sorted(known)} with optimizer 'adam'. "
                f"Received: {config!r}"
            )
        phases = config.get("phase_learning_rates", {})
        if not isinstance(phases, dict):
            raise ValueError(f"`phase_learning_rates` must be a JSON object. Received: {phases!r}")
        return cls(
            learning_rate=config.get("learning_rate", cls.learning_rate),
            phase_learning_rates=tuple(sorted(phases.items())),
            steps=config.get("steps", cls.steps),
            batch_size=config.get("batch_size", cls.batch_size),
        )

    def describe(self):
        """One line for the model card and `genae info`."""
        if self.phase_learning_rates:
            lrs = ", ".join(f"{n} {lr:g}" for n, lr in self.phase_learning_rates)
        else:
            lrs = f"learning rate {self.learning_rate:g}"
        return f"Adam, {lrs}; {self.steps} steps of batch {self.batch_size} by default"


def compile_loaded(model, pretrained, finetuning=None):
    """Compile a loaded model so that `fit` works straight away.

    A pretrained model gets its fine-tuning settings (`finetuning`, a
    `FineTuning` or its dict, else the family's `default_finetuning`), kept
    as `model.finetuning`; fresh weights (`pretrained=False`) get the
    from-scratch defaults of `model.compile()`. A model whose class has no
    fine-tuning settings (the evaluation classifiers) gets `compile()`."""
    default = type(model).default_finetuning
    if not pretrained or default is None:
        model.compile()
        return model
    if isinstance(finetuning, dict):
        finetuning = FineTuning.from_dict(finetuning)
    model.finetuning = finetuning or default
    model.finetuning.compile(model)
    return model
