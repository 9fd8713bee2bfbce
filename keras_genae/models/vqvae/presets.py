"""The VQ-VAE family (`vqvae`) and its zoo checkpoints."""

from keras_genae.models.family import Family
from keras_genae.models.family import PriorStage
from keras_genae.models.family import default_card_usage
from keras_genae.models.family import Recipe
from keras_genae.models.family import SAMPLER_METRICS
from keras_genae.models.family import register_family
from keras_genae.models.finetuning import FineTuning

# Fine-tuning rates chosen with `python benchmarks/transfer.py --sweep`
# (benchmarks/results/transfer_sweep.md): 3e-4 for the MNIST and
# Fashion-MNIST VQ-VAEs. For vqvae_cifar10, 3e-4 was best after 300 steps
# (30.66 dB, 1e-4: 30.56) but lost 0.75 dB in the README's short recipe
# (`--readme-recipe`: 20 steps of batch 64), where 1e-4 gained 0.17 dB:
# 1e-4 is never worse in short or long runs.
FINETUNE = FineTuning(learning_rate=3e-4)
FINETUNE_CIFAR = FineTuning(learning_rate=1e-4)
# The class-conditional gated PixelCNN priors over the code grids, trained
# alone on the codes of the frozen VQ-VAE (the recipes' prior stage).
MNIST_PRIOR = dict(filters=64, num_layers=6, num_classes=10)
CIFAR_PRIOR = dict(filters=64, num_layers=6, num_classes=10)
# The 8x8 grid's prior: 10 layers see the whole grid above and left of a
# code (the vertical stack grows one row per layer). 128 filters trained at
# 62 img/s jointly with the VQ-VAE on this machine, 64 at 202 img/s. It
# samples with classifier-free guidance 8 by default: over 1,000 samples
# (labels 0-9 in turn) guidance 0 / 1 / 3 / 5 / 8 / 12 / 16 gave label
# agreements 0.21 / 0.39 / 0.69 / 0.79 / 0.84 / 0.84 / 0.84 and smallest
# class shares 0.7 / 1.6 / 2.2 / 3.6 / 4.2 / 3.4 / 3.1% (benchmarks/guidance.py).
GRID8_PRIOR = dict(filters=64, num_layers=10, num_classes=10, guidance=8.0)
# The shipped vqvae_cifar10_8x8 is two runs: the autoencoder of the first
# stage of `genae train vqvae_cifar10_8x8` (6 epochs, 36 minutes with a
# 4-epoch prior stage), then a new prior trained for the 9 epochs of the
# prior stage on its frozen codes (`genae train vqvae_cifar10_8x8
# --prior-only`, 36 minutes). Against the 4-epoch prior it replaced, the
# 9-epoch one lowered the test codes' NLL from 6.50 to 6.46 bits per code
# and, at guidance 8 over 10,000 samples, the Frechet distance from 8.34
# to 6.61 and lifted the rarest class (horses) from 4.7% to 8.0%.
MNIST_CONFIG = dict(num_embeddings=128, embedding_dim=16, encoder_filters=(32, 64),
                    num_res_blocks=1, use_ema=True, dead_code_threshold=0.01, prior=MNIST_PRIOR)



def card_usage(handle, shape):
    """The reconstruction snippet, and sampling through the PixelCNN prior."""
    lines = default_card_usage(handle, shape)
    return lines[:-1] + [
        "samples = model.sample(16, labels=3, temperature=1.0)  # class 3, through the PixelCNN prior",
        lines[-1],
    ]


VQVAE_FAMILY = register_family(Family(
    alias="vqvae",
    test_config=dict(num_embeddings=16, embedding_dim=4, encoder_filters=(8, 16),
                     num_res_blocks=1, prior=dict(filters=8, num_layers=2, num_classes=10)),
    architecture="VQVAE",
    references=("https://arxiv.org/abs/1711.00937", "https://arxiv.org/abs/1606.05328"),
    card_usage=card_usage,
    probes=("reconstruction", "codebook", "prior", "frechet"),
    key_metrics=("psnr", "ssim", "codebook_usage", "perplexity", "prior_bits_per_code",
                 "bits_per_dim") + SAMPLER_METRICS,
    recipes=(
        Recipe(
            name="vqvae_mnist", architecture="VQVAE", dataset="mnist", config=dict(MNIST_CONFIG),
            epochs=8, finetuning=FINETUNE, floor=("psnr", ">=", 25.0),
            prior_stage=PriorStage(epochs=4),
            description="VQ-VAE with a 7x7 grid of 128 codes (EMA codebook) and a "
                        "class-conditional gated PixelCNN prior, MNIST.",
        ),
        Recipe(
            name="vqvae_fashion_mnist", architecture="VQVAE", dataset="fashion_mnist",
            config=dict(MNIST_CONFIG), epochs=4, finetuning=FINETUNE,
            prior_stage=PriorStage(epochs=4),
            description="VQ-VAE with a 7x7 grid of 128 codes (EMA codebook) and a "
                        "class-conditional gated PixelCNN prior, Fashion-MNIST.",
        ),
        Recipe(
            name="vqvae_cifar10", architecture="VQVAE", dataset="cifar10",
            config=dict(num_embeddings=512, embedding_dim=32, encoder_filters=(64,),
                        num_res_blocks=2, use_ema=True, dead_code_threshold=0.03,
                        prior=CIFAR_PRIOR),
            epochs=6, learning_rate=2e-3, finetuning=FINETUNE_CIFAR, floor=("psnr", ">=", 24.0),
            prior_stage=PriorStage(epochs=3),
            description="VQ-VAE with a 16x16 grid of 512 codes (EMA codebook, dead-code "
                        "restarts) and a class-conditional gated PixelCNN prior, CIFAR-10.",
        ),
        Recipe(
            # The VQ-VAE paper's grid (and Sonnet's example: about 24.5 dB on
            # training batches at K=512): coarser reconstructions than the
            # 16x16 grid's, but a prior over 64 codes instead of 256.
            name="vqvae_cifar10_8x8", architecture="VQVAE", dataset="cifar10",
            config=dict(num_embeddings=512, embedding_dim=64, encoder_filters=(64, 128),
                        num_res_blocks=1, use_ema=True, dead_code_threshold=0.03,
                        prior=GRID8_PRIOR),
            epochs=6, learning_rate=2e-3, finetuning=FINETUNE_CIFAR, floor=("psnr", ">=", 22.0),
            prior_stage=PriorStage(epochs=9),
            description="VQ-VAE with an 8x8 grid of 512 codes (EMA codebook, dead-code "
                        "restarts) and a class-conditional gated PixelCNN prior, CIFAR-10.",
        ),
    ),
))
