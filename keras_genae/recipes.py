"""Training recipes of the pretrained checkpoints: one per manifest name.

Each recipe holds everything needed to reproduce a checkpoint from scratch:
the architecture and its config, the dataset and its preprocessing, the
epochs, batch size, optimizer and schedule, and the seed. Run one with
`python -m keras_genae.train NAME --data-dir DIR --out DIR` (or
`genae train NAME ...`).
"""

import dataclasses
import difflib
import math

from keras_genae.models.finetuning import FineTuning


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one checkpoint is trained.

    Args:
        name: str. The manifest name, `<family>_<dataset>`.
        architecture: str. Registered class name, e.g. `"VQVAE"`.
        dataset: str. `"mnist"`, `"fashion_mnist"` or `"cifar10"`.
        config: dict. Constructor arguments besides `image_shape` and `seed`.
        epochs: int. Passes over the full train split.
        batch_size: int.
        learning_rate: float. Peak Adam learning rate.
        schedule: `"cosine"` (Adam with cosine decay to
            `min_lr_ratio * lr` over the whole run), `"constant"` (Adam at
            `learning_rate`), `"warmup_cosine"` (AdamW, linear warmup over
            the first 10% of the steps, then cosine decay to 0), or `"model_default"` (the model's own default
            optimizers, e.g. the per-phase Adams of the adversarial models;
            `learning_rate` is then unused).
        min_lr_ratio: float. Final learning rate over peak, for `"cosine"`.
        binarize: None or a `keras_genae.data.load_dataset` binarize mode,
            applied to the training images.
        seed: int. Seeds Python, NumPy and Keras, the model and the data order.
        description: str. One line for the manifest and the model card.
        compile_kwargs: dict. Extra `compile()` arguments (for example the
            optimizers of adversarial models), as `(name, value)` pairs.
        options: Training options of the family, as `(name, value)` pairs:
            for the evaluation classifiers (`schedule="warmup_cosine"`),
            `label_smoothing`, `weight_decay`, `flip` and `crop_padding`
            (augmentation).
        finetuning: `keras_genae.models.finetuning.FineTuning` or None. How
            the shipped checkpoint is fine-tuned: `keras_genae.load(name)`
            compiles the model with it, and the manifest and model card
            state it. None: the family's `default_finetuning` (None for the
            classifiers, which `load` compiles with their training defaults).
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

    def finetuning_settings(self):
        """The recipe's `finetuning`, else its family's default (or None)."""
        from keras_genae.models.base import LOADABLE_MODELS

        return self.finetuning or LOADABLE_MODELS[self.architecture].default_finetuning

    def steps_per_epoch(self, num_examples):
        return math.ceil(num_examples / self.batch_size)


# Fine-tuning rates, chosen with `python benchmarks/transfer.py --sweep`
# (benchmarks/results/transfer_sweep.md): 256 images of another domain,
# 300 steps of batch 32, held-out PSNR at Adam 1e-3, 3e-4, 1e-4 and 3e-5.
# 3e-4 was best or within 0.25 dB of best for every MNIST and
# Fashion-MNIST checkpoint; vae_cifar10 lost PSNR at every rate but 3e-5
# (1e-3: -2.5 dB, 1e-4: -0.6 dB, 3e-5: +0.2 dB). For vqvae_cifar10, 3e-4
# was best after 300 steps (30.66 dB, 1e-4: 30.56) but lost 0.75 dB in the
# README's short recipe (`--readme-recipe`: 20 steps of batch 64), where
# 1e-4 gained 0.17 dB: 1e-4 is never worse in short or long runs.
_FINETUNE = FineTuning(learning_rate=3e-4)
_FINETUNE_VQVAE_CIFAR = FineTuning(learning_rate=1e-4)
_FINETUNE_GAUSSIAN_VAE = FineTuning(learning_rate=3e-5)
# The AAE and DCGAN recipes use their families' per-phase defaults, chosen
# with `python benchmarks/transfer.py --sweep-phases`
# (benchmarks/results/transfer_phases.md).

_MNIST_AE = dict(latent_dim=32, encoder_filters=(32, 64), num_res_blocks=0)
_MNIST_VAE = dict(latent_dim=32, encoder_filters=(32, 64), likelihood="bernoulli")
_SMALL_CLASSIFIER = dict(filters=(32, 64), convs_per_stage=2, feature_dim=128, dropout=0.3)
_MNIST_VQ = dict(
    num_embeddings=128, embedding_dim=16, encoder_filters=(32, 64),
    num_res_blocks=1, use_ema=True, dead_code_threshold=0.01,
)

RECIPES = {
    r.name: r
    for r in [
        Recipe(
            name="ae_mnist",
            architecture="Autoencoder",
            dataset="mnist",
            config=dict(_MNIST_AE, reconstruction_loss="bce"),
            epochs=10,
            finetuning=_FINETUNE,
            description="Convolutional autoencoder with a 32-d latent, MNIST.",
        ),
        Recipe(
            name="dae_mnist",
            architecture="DenoisingAutoencoder",
            dataset="mnist",
            config=dict(_MNIST_AE, latent_dim=64, noise_type="gaussian", noise_level=0.3),
            epochs=10,
            finetuning=_FINETUNE,
            description="Denoising autoencoder (gaussian noise, sigma 0.3), MNIST.",
        ),
        Recipe(
            name="vae_mnist",
            architecture="VAE",
            dataset="mnist",
            config=dict(_MNIST_VAE),
            epochs=20,
            binarize="dynamic",
            finetuning=_FINETUNE,
            description="VAE with a Bernoulli likelihood and a 32-d latent, dynamically binarized MNIST.",
        ),
        Recipe(
            name="vqvae_mnist",
            architecture="VQVAE",
            dataset="mnist",
            config=dict(_MNIST_VQ),
            epochs=8,
            finetuning=_FINETUNE,
            description="VQ-VAE with a 7x7 grid of 128 codes (EMA codebook), MNIST.",
        ),
        Recipe(
            name="vae_fashion_mnist",
            architecture="VAE",
            dataset="fashion_mnist",
            config=dict(_MNIST_VAE),
            epochs=12,
            finetuning=_FINETUNE,
            description="VAE with a Bernoulli (cross-entropy) likelihood and a 32-d latent, Fashion-MNIST.",
        ),
        Recipe(
            name="vqvae_fashion_mnist",
            architecture="VQVAE",
            dataset="fashion_mnist",
            config=dict(_MNIST_VQ),
            epochs=4,
            finetuning=_FINETUNE,
            description="VQ-VAE with a 7x7 grid of 128 codes (EMA codebook), Fashion-MNIST.",
        ),
        Recipe(
            name="vqvae_cifar10",
            architecture="VQVAE",
            dataset="cifar10",
            config=dict(
                num_embeddings=512, embedding_dim=32, encoder_filters=(64,),
                num_res_blocks=2, use_ema=True, dead_code_threshold=0.03,
            ),
            epochs=6,
            learning_rate=2e-3,
            finetuning=_FINETUNE_VQVAE_CIFAR,
            description="VQ-VAE with a 16x16 grid of 512 codes (EMA codebook, dead-code restarts), CIFAR-10.",
        ),
        Recipe(
            name="vae_cifar10",
            architecture="VAE",
            dataset="cifar10",
            config=dict(
                latent_dim=128, encoder_filters=(32, 64, 128), likelihood="gaussian",
                gaussian_sigma=0.075,
            ),
            epochs=10,
            finetuning=_FINETUNE_GAUSSIAN_VAE,
            description="VAE with a Gaussian likelihood (sigma 0.075) and a 128-d latent, CIFAR-10.",
        ),
        Recipe(
            name="aae_mnist",
            architecture="AdversarialAutoencoder",
            dataset="mnist",
            config=dict(latent_dim=8, encoder_filters=(32, 64), prior="gaussian"),
            epochs=5,
            schedule="model_default",
            description="Adversarial autoencoder with an 8-d gaussian prior, MNIST.",
        ),
        Recipe(
            name="dcgan_mnist",
            architecture="DCGAN",
            dataset="mnist",
            config=dict(latent_dim=100),
            epochs=5,
            schedule="model_default",
            description="DCGAN with a 100-d gaussian latent, MNIST.",
        ),
        Recipe(
            name="dcgan_fashion_mnist",
            architecture="DCGAN",
            dataset="fashion_mnist",
            config=dict(latent_dim=100),
            epochs=3,
            schedule="model_default",
            description="DCGAN with a 100-d gaussian latent, Fashion-MNIST.",
        ),
        # The feature classifiers of the Fréchet distances (keras_genae.evaluation.frechet).
        Recipe(
            name="classifier_mnist",
            architecture="FeatureClassifier",
            dataset="mnist",
            config=dict(_SMALL_CLASSIFIER),
            epochs=4,
            learning_rate=3e-3,
            schedule="warmup_cosine",
            options=(("label_smoothing", 0.0), ("weight_decay", 5e-4), ("flip", False),
                     ("crop_padding", 0)),
            description="Feature classifier (4 convs, 128-d features) for Fréchet distances, MNIST.",
        ),
        Recipe(
            name="classifier_fashion_mnist",
            architecture="FeatureClassifier",
            dataset="fashion_mnist",
            config=dict(_SMALL_CLASSIFIER),
            epochs=6,
            learning_rate=3e-3,
            schedule="warmup_cosine",
            options=(("label_smoothing", 0.1), ("weight_decay", 5e-4), ("flip", True),
                     ("crop_padding", 0)),
            description="Feature classifier (4 convs, 128-d features) for Fréchet distances, Fashion-MNIST.",
        ),
        Recipe(
            name="classifier_cifar10",
            architecture="FeatureClassifier",
            dataset="cifar10",
            config=dict(_SMALL_CLASSIFIER, filters=(32, 64, 128)),
            epochs=5,
            learning_rate=3e-3,
            schedule="warmup_cosine",
            options=(("label_smoothing", 0.1), ("weight_decay", 5e-4), ("flip", True),
                     ("crop_padding", 4)),
            description="Feature classifier (6 convs, 128-d features) for Fréchet distances, CIFAR-10.",
        ),
    ]
}


def get_recipe(name):
    """Return the recipe called `name`, suggesting close names if unknown."""
    if name in RECIPES:
        return RECIPES[name]
    close = difflib.get_close_matches(name, RECIPES, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown recipe {name!r}. Known recipes: {sorted(RECIPES)}.{hint}")
