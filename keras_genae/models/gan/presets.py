"""The DCGAN family (`dcgan`) and its zoo checkpoints.

The recipes fine-tune with the architecture's per-phase defaults
(`DCGAN.default_finetuning`), chosen with `python benchmarks/transfer.py
--sweep-phases` (benchmarks/results/transfer_phases.md).
"""

from keras_genae.models.family import Family
from keras_genae.models.family import Recipe
from keras_genae.models.family import SAMPLER_METRICS
from keras_genae.models.family import register_family
from keras_genae.models.family import usage_header


def card_usage(handle, shape):
    """The model card's usage snippet: a GAN samples, it does not reconstruct."""
    h, w, c = shape
    return usage_header(handle) + [
        f"samples = model.sample(16, seed=0)  # (16, {h}, {w}, {c}) images in [0, 1]",
        f"images = np.random.rand(64, {h}, {w}, {c}).astype(\"float32\")  # your images here",
        "model.fit(images, epochs=1)  # fine-tune both players: load() returns a compiled model",
    ]


DCGAN_FAMILY = register_family(Family(
    alias="dcgan",
    test_config=dict(latent_dim=8),
    architecture="DCGAN",
    references=("https://arxiv.org/abs/1511.06434",),
    probes=("frechet",),
    key_metrics=SAMPLER_METRICS,
    card_usage=card_usage,
    recipes=(
        Recipe(
            name="dcgan_mnist", architecture="DCGAN", dataset="mnist", config=dict(latent_dim=100),
            epochs=5, schedule="model_default",
            description="DCGAN with a 100-d gaussian latent, MNIST.",
        ),
        Recipe(
            name="dcgan_fashion_mnist", architecture="DCGAN", dataset="fashion_mnist",
            config=dict(latent_dim=100), epochs=3, schedule="model_default",
            description="DCGAN with a 100-d gaussian latent, Fashion-MNIST.",
        ),
    ),
))
