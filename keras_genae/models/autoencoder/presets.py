"""The autoencoder families (`ae`, `dae`) and their zoo checkpoints."""

from keras_genae.models.family import Family
from keras_genae.models.family import Recipe
from keras_genae.models.family import register_family
from keras_genae.models.finetuning import FineTuning

# Fine-tuning rate chosen with `python benchmarks/transfer.py --sweep`
# (benchmarks/results/transfer_sweep.md): 256 images of another domain, 300
# steps of batch 32, held-out PSNR at Adam 1e-3, 3e-4, 1e-4 and 3e-5; 3e-4
# was best or within 0.25 dB of best for ae_mnist and dae_mnist.
FINETUNE = FineTuning(learning_rate=3e-4)
MNIST_CONFIG = dict(latent_dim=32, encoder_filters=(32, 64), num_res_blocks=0)

AUTOENCODER = register_family(Family(
    alias="ae",
    test_config=dict(latent_dim=8, encoder_filters=(8, 16)),
    architecture="Autoencoder",
    references=("https://doi.org/10.1126/science.1127647",),
    probes=("reconstruction",),
    key_metrics=("psnr", "ssim"),
    recipes=(
        Recipe(
            name="ae_mnist", architecture="Autoencoder", dataset="mnist",
            config=dict(MNIST_CONFIG, reconstruction_loss="bce"), epochs=10,
            finetuning=FINETUNE, floor=("psnr", ">=", 22.0),
            description="Convolutional autoencoder with a 32-d latent, MNIST.",
        ),
    ),
))

DENOISING_AUTOENCODER = register_family(Family(
    alias="dae",
    test_config=dict(latent_dim=8, encoder_filters=(8, 16)),
    architecture="DenoisingAutoencoder",
    references=("https://doi.org/10.1145/1390156.1390294",),
    probes=("reconstruction", "denoising"),
    key_metrics=("psnr_gain", "noisy_psnr", "psnr", "ssim"),
    recipes=(
        Recipe(
            name="dae_mnist", architecture="DenoisingAutoencoder", dataset="mnist",
            config=dict(MNIST_CONFIG, latent_dim=64, noise_type="gaussian", noise_level=0.3),
            epochs=10, finetuning=FINETUNE, floor=("psnr_gain", ">=", 6.0),
            description="Denoising autoencoder (gaussian noise, sigma 0.3), MNIST.",
        ),
    ),
))
