"""The adversarial autoencoder family (`aae`) and its zoo checkpoint.

The recipe samples from per-class Gaussians fitted to the codes after
training (`ex_post_density=True`: FD 16.2 from the prior, 7.2 from the
fitted Gaussians, `python benchmarks/aae_sampling.py aae_mnist`,
benchmarks/results/aae_sampling.md). It fine-tunes with the
architecture's per-phase defaults
(`AdversarialAutoencoder.default_finetuning`), chosen with `python
benchmarks/transfer.py --sweep-phases` (benchmarks/results/transfer_phases.md).
"""

from keras_genae.models.family import Family
from keras_genae.models.family import Recipe
from keras_genae.models.family import SAMPLER_METRICS
from keras_genae.models.family import register_family

AAE_FAMILY = register_family(Family(
    alias="aae",
    test_config=dict(latent_dim=4, encoder_filters=(8, 16)),
    architecture="AdversarialAutoencoder",
    references=("https://arxiv.org/abs/1511.05644",),
    probes=("reconstruction", "frechet"),
    key_metrics=("psnr", "ssim") + SAMPLER_METRICS,
    recipes=(
        Recipe(
            name="aae_mnist", architecture="AdversarialAutoencoder", dataset="mnist",
            config=dict(latent_dim=16, encoder_filters=(32, 64), prior="mixture", conditional=True,
                        ex_post_density=True),
            epochs=12, schedule="model_default", labels=True,
            # benchmarks/results/gan_pilots.md: a slower discriminator and a
            # faster encoder phase than the unconditional defaults.
            compile_kwargs=(
                ("d_optimizer", {"class_name": "Adam", "config": {"learning_rate": 5e-5, "beta_1": 0.5}}),
                ("g_optimizer", {"class_name": "Adam", "config": {"learning_rate": 5e-4, "beta_1": 0.5}}),
            ),
            floor=("frechet_distance", "<=", 23.5),
            description="Adversarial autoencoder with a 16-d mixture prior whose components are "
                        "matched to the classes, sampled from Gaussians fitted to each class's "
                        "codes (ex-post density estimation), MNIST.",
        ),
    ),
))
