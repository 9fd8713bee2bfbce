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


#: The zoo's DCGANs: class-conditional (projection discriminator, one-hot
#: classes in the latent), sampling with the moving average of the
#: generator's weights, the transposed convolutions' 4x4 kernels divisible
#: by their stride 2. Chosen by the pilots in benchmarks/results/gan_pilots.md.
ZOO_CONFIG = dict(latent_dim=100, num_classes=10, ema_decay=0.999)


def card_usage(handle, shape):
    """The model card's usage snippet: a GAN samples, it does not reconstruct."""
    h, w, c = shape
    return usage_header(handle) + [
        f"samples = model.sample(16, seed=0)  # (16, {h}, {w}, {c}) images in [0, 1], uniform classes",
        "threes = model.sample(16, seed=0, labels=3)  # sixteen of class 3",
        f"images = np.random.rand(64, {h}, {w}, {c}).astype(\"float32\")  # your images here",
        "labels = np.random.randint(0, 10, 64)  # and their classes",
        "model.fit(images, labels, epochs=1)  # fine-tune both players: load() returns a compiled model",
    ]


DCGAN_FAMILY = register_family(Family(
    alias="dcgan",
    test_config=dict(latent_dim=8),
    architecture="DCGAN",
    references=("https://arxiv.org/abs/1511.06434", "https://arxiv.org/abs/1802.05637",
                "https://arxiv.org/abs/1806.04498"),
    probes=("frechet",),
    key_metrics=SAMPLER_METRICS,
    card_usage=card_usage,
    recipes=(
        Recipe(
            name="dcgan_mnist", architecture="DCGAN", dataset="mnist", config=dict(ZOO_CONFIG),
            epochs=8, schedule="model_default", labels=True,
            floor=("frechet_distance", "<=", 7.4),
            description="Class-conditional DCGAN with a 100-d gaussian latent, MNIST.",
        ),
        Recipe(
            name="dcgan_fashion_mnist", architecture="DCGAN", dataset="fashion_mnist",
            config=dict(ZOO_CONFIG), epochs=8, schedule="model_default", labels=True,
            floor=("frechet_distance", "<=", 6.3),
            description="Class-conditional DCGAN with a 100-d gaussian latent, Fashion-MNIST.",
        ),
    ),
))
