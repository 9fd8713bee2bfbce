"""The VAE family (`vae`) and its zoo checkpoints."""

from keras_genae.models.family import Family
from keras_genae.models.family import Recipe
from keras_genae.models.family import SAMPLER_METRICS
from keras_genae.models.family import register_family
from keras_genae.models.finetuning import FineTuning

# Fine-tuning rates chosen with `python benchmarks/transfer.py --sweep`
# (benchmarks/results/transfer_sweep.md): 3e-4 was best or within 0.25 dB
# of best for the Bernoulli VAEs; vae_cifar10 lost PSNR at every rate but
# 3e-5 (1e-3: -2.5 dB, 1e-4: -0.6 dB, 3e-5: +0.2 dB).
FINETUNE = FineTuning(learning_rate=3e-4)
FINETUNE_GAUSSIAN = FineTuning(learning_rate=3e-5)
MNIST_CONFIG = dict(latent_dim=32, encoder_filters=(32, 64), likelihood="bernoulli")

VAE_FAMILY = register_family(Family(
    alias="vae",
    test_config=dict(latent_dim=4, encoder_filters=(8, 16)),
    architecture="VAE",
    references=("https://arxiv.org/abs/1312.6114", "https://arxiv.org/abs/1509.00519"),
    probes=("reconstruction", "likelihood", "frechet"),
    # K = 1000 decoder passes per image: hours over a test split on a CPU,
    # so it runs when asked (`tools/is_nll.py`, `genae evaluate --is-nll`).
    optional_probes=("is_nll",),
    key_metrics=("neg_elbo", "is_nll", "bits_per_dim", "is_nll_bits_per_dim", "psnr", "ssim")
    + SAMPLER_METRICS,
    recipes=(
        Recipe(
            name="vae_mnist", architecture="VAE", dataset="mnist", config=dict(MNIST_CONFIG),
            epochs=20, binarize="dynamic", finetuning=FINETUNE, floor=("neg_elbo", "<=", 100.0),
            description="VAE with a Bernoulli likelihood and a 32-d latent, dynamically "
                        "binarized MNIST.",
        ),
        Recipe(
            name="vae_fashion_mnist", architecture="VAE", dataset="fashion_mnist",
            config=dict(MNIST_CONFIG), epochs=12, finetuning=FINETUNE,
            description="VAE with a Bernoulli (cross-entropy) likelihood and a 32-d latent, "
                        "Fashion-MNIST.",
        ),
        Recipe(
            name="vae_cifar10", architecture="VAE", dataset="cifar10",
            config=dict(latent_dim=128, encoder_filters=(32, 64, 128), likelihood="gaussian",
                        gaussian_sigma=0.075),
            epochs=10, finetuning=FINETUNE_GAUSSIAN, floor=("psnr", ">=", 20.0),
            description="VAE with a Gaussian likelihood (sigma 0.075) and a 128-d latent, CIFAR-10.",
        ),
    ),
))
