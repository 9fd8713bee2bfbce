"""
Title: Quickstart: reconstruct, sample and interpolate with pretrained models
Author: keras-genae contributors
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Load `vqvae_cifar10` and `vae_mnist`, reconstruct test images, draw samples and walk the latent space.
Accelerator: None (runs on a laptop CPU in under a minute)
"""

"""
## Introduction

keras-genae ships pretrained generative autoencoders that load in one line.
In this tutorial we:

1. load a **VQ-VAE** trained on CIFAR-10 and reconstruct test images through
   its grid of discrete codes;
2. load a **VAE** trained on MNIST, **sample** new digits from its prior and
   **interpolate** between two encoded digits and between two prior draws.

Every figure is written to `--out` (default `tutorial_outputs/01_quickstart`).
Run it with:

```
python tutorials/01_quickstart.py            # or --fast for a smoke run
```

## Setup
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

import keras_genae
from keras_genae.data import grids as images
from keras_genae.data.samples import sample_images
from keras_genae.utils.interpolation import interpolate

parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
parser.add_argument("--fast", action="store_true", help="tiny sizes, for a smoke run")
parser.add_argument("--out", default="tutorial_outputs/01_quickstart", help="folder of the figures")
args, _ = parser.parse_known_args()
os.makedirs(args.out, exist_ok=True)


def show_rows(rows, titles, path, scale=1.4):
    """One row of images per entry of `rows`, with a title on the left."""
    n = len(rows[0])
    fig, axes = plt.subplots(len(rows), n, figsize=(scale * n, scale * len(rows) + 0.3), squeeze=False)
    for r, (row, title) in enumerate(zip(rows, titles)):
        for c in range(n):
            ax = axes[r, c]
            image = np.clip(row[c], 0, 1)
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print("Saved", path)


"""
## Reconstruct CIFAR-10 images with a VQ-VAE

`keras_genae.load(name)` uses the copy of the checkpoint shipped inside the
package when its SHA-256 matches the manifest, and otherwise downloads the
pinned revision from the Hugging Face Hub. `keras_genae.list_models()` lists
the names.
"""

print("Checkpoints:", keras_genae.list_models())
vqvae = keras_genae.load("vqvae_cifar10")
print(keras_genae.model_info("vqvae_cifar10")["description"])

"""
The package ships 16 test images per dataset (one per class, then six more),
so that demos need no download. Images are float32 in [0, 1], NHWC.
"""

n = 8 if args.fast else 16
x, labels = sample_images("cifar10", n=n)
reconstructions = ops.convert_to_numpy(vqvae.reconstruct(x))
mse = np.mean((x - reconstructions) ** 2, axis=(1, 2, 3))
print(f"VQ-VAE reconstruction PSNR: {np.mean(10 * np.log10(1 / mse)):.2f} dB")
show_rows([x[:8], reconstructions[:8]], ["input", "VQ-VAE"], os.path.join(args.out, "vqvae_reconstructions.png"))

"""
A VQ-VAE encodes each image to a grid of integer **codes**: `encode` returns
the indices `(batch, h, w)` and `decode` accepts them back. Here is the code
map of the first image, next to the image rebuilt from those codes alone.
"""

codes = ops.convert_to_numpy(vqvae.encode(x[:1]))
print("Code grid:", codes.shape, "with", len(np.unique(codes)), "distinct codes of", vqvae.num_embeddings)
rebuilt = ops.convert_to_numpy(vqvae.decode(codes))
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
axes[0].imshow(x[0])
axes[0].set_title("input")
axes[1].imshow(codes[0], cmap="tab20", interpolation="nearest")
axes[1].set_title(f"codes {codes.shape[1]}x{codes.shape[2]}")
axes[2].imshow(np.clip(rebuilt[0], 0, 1))
axes[2].set_title("decode(codes)")
for ax in axes:
    ax.axis("off")
fig.tight_layout()
fig.savefig(os.path.join(args.out, "vqvae_codes.png"), dpi=100)
plt.close(fig)

"""
## Sample digits from a VAE

A VAE has a prior, N(0, I) over its latent vectors, so it can generate:
`sample(n, seed)` decodes `n` prior draws. `images.save_grid` writes a batch
as one PNG (the command line `genae sample vae_mnist -n 64 --out
samples.png` does the same).
"""

vae = keras_genae.load("vae_mnist")
samples = ops.convert_to_numpy(vae.sample(16 if args.fast else 64, seed=0))
size = images.save_grid(samples, os.path.join(args.out, "vae_samples.png"), scale=2)
print("Saved vae_samples.png", size)

"""
## Interpolate in the latent space

`encode` returns the posterior mean of each image. We walk in a straight
line (**lerp**) between the codes of two digits and decode every point.
Between two draws from the Gaussian prior we use **slerp** instead: a
spherical path keeps the latent norm typical of the prior, where a straight
line would pass close to the origin, a rare region for the decoder.
"""

steps = 6 if args.fast else 10
digits, digit_labels = sample_images("mnist")
a, b = ops.convert_to_numpy(vae.encode(digits[[3, 8]]))  # a "3" and an "8"
path = interpolate(a, b, steps, method="lerp")
encoded_strip = ops.convert_to_numpy(vae.decode(path))

z = ops.convert_to_numpy(vae.sample_latents(2, seed=1))
prior_strip = ops.convert_to_numpy(vae.decode(interpolate(z[0], z[1], steps, method="slerp")))
show_rows(
    [encoded_strip, prior_strip],
    [f"lerp {digit_labels[3]}->{digit_labels[8]}", "slerp prior"],
    os.path.join(args.out, "vae_interpolation.png"),
)

"""
## From the command line

The `genae` command does all of this without Python:

```
genae list
genae reconstruct vqvae_cifar10 --out reconstructions.png
genae sample vae_mnist -n 64 --seed 0 --out samples.png
genae interpolate vae_mnist --steps 10 --rows 4 --out interpolation.png
genae interpolate vae_mnist --prior --method slerp --out prior_walk.png
```

## Next steps

- `02_finetune_on_your_images.py`: fine-tune a pretrained model on a folder
  of your own images.
- `04_vae_latent_space.py`: what the VAE's latent space looks like.
"""
print("Figures in", args.out)
