"""
Title: The latent space of a VAE
Author: keras-genae contributors
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Encode MNIST test digits with `vae_mnist`, scatter their latent codes in 2-D coloured by label, decode a grid of latent points, and find the active latent dimensions.
Accelerator: None (under a minute on a CPU)
"""

"""
## Introduction

The encoder of a VAE maps each image to a Gaussian posterior q(z|x) over a
latent vector, here of 32 dimensions; the prior is N(0, I). Three views of
that space:

1. a **2-D scatter** of the posterior means of test digits, coloured by
   their label, in two linear projections of the 32-d means: the two
   principal components (PCA, which ignores the labels) and the two
   discriminant directions (LDA, which uses them);
2. a **decoded grid**: points of that 2-D plane, mapped back into the
   latent space and decoded;
3. the **KL divergence per dimension**: a VAE typically switches off some
   latent dimensions (their posterior stays equal to the prior, KL close to
   0); only the active ones carry information.

Data: `--data-dir` names a folder with `mnist.npz`; without it,
`$KERAS_GENAE_DATA`, then TensorFlow Datasets.

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
from keras_genae.data import load_arrays

parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
parser.add_argument("--fast", action="store_true", help="tiny sizes, for a smoke run")
parser.add_argument("--out", default="tutorial_outputs/04_latent_space", help="folder of the figures")
parser.add_argument("--data-dir", default=None, help="folder with mnist.npz (default: $KERAS_GENAE_DATA, else TFDS)")
args, _ = parser.parse_known_args()
os.makedirs(args.out, exist_ok=True)
NUM_IMAGES = 256 if args.fast else 5000
GRID = 8 if args.fast else 15

"""
## Encode test digits

`encode_distribution` returns the mean and log-variance of q(z|x); `encode`
returns the mean alone.
"""

vae = keras_genae.load("vae_mnist")
x, labels = load_arrays("mnist", f"test[:{NUM_IMAGES}]", data_dir=args.data_dir)
x = x[..., None] if x.ndim == 3 else x
means, log_vars = [], []
for start in range(0, len(x), 500):
    mean, log_var = vae.encode_distribution(x[start:start + 500])
    means.append(ops.convert_to_numpy(mean))
    log_vars.append(ops.convert_to_numpy(log_var))
mean, log_var = np.concatenate(means), np.concatenate(log_vars)
print("Posterior means:", mean.shape)

"""
## Two 2-D views: principal components and discriminant directions

PCA finds the two orthogonal directions along which the means vary most.
With 32 active dimensions, two of them hold only a small part of the
variance, so the digits overlap in that view even though the encoder
separates them well in 32-d. Linear discriminant analysis (LDA) instead
picks the two directions that best separate the labels (the leading
eigenvectors of `inv(S_within) @ S_between`). Both are linear maps
`projected = (mean - center) @ W.T`, so a point of the plane maps back to
the latent space as `center + plane @ pinv(W.T)`.
"""

center = mean.mean(axis=0)
_, singular_values, components = np.linalg.svd(mean - center, full_matrices=False)
pca = components[:2]  # (2, latent_dim), orthonormal rows
explained = singular_values**2 / np.sum(singular_values**2)
print(f"The first two principal components explain {100 * explained[:2].sum():.0f}% of the variance")

within = sum(np.cov(mean[labels == c].T) * (np.sum(labels == c) - 1) for c in np.unique(labels))
class_means = np.stack([mean[labels == c].mean(axis=0) for c in np.unique(labels)])
counts = np.array([np.sum(labels == c) for c in np.unique(labels)])
between = ((class_means - center).T * counts) @ (class_means - center)
eigenvalues, eigenvectors = np.linalg.eig(np.linalg.solve(within + 1e-6 * np.eye(len(center)), between))
lda = np.real(eigenvectors[:, np.argsort(-np.real(eigenvalues))[:2]]).T
lda /= np.linalg.norm(lda, axis=1, keepdims=True)

views = {"PCA": pca, "LDA": lda}
projections = {name: (mean - center) @ w.T for name, w in views.items()}
fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
for ax, (name, projected) in zip(axes, projections.items()):
    scatter = ax.scatter(projected[:, 0], projected[:, 1], c=labels, cmap="tab10", s=5, alpha=0.7)
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    ax.set_title(f"{name} of the posterior means")
axes[1].legend(*scatter.legend_elements(), title="digit", loc="best", fontsize=8, markerscale=0.8)
fig.suptitle("vae_mnist: test digits in its latent space")
fig.tight_layout()
fig.savefig(os.path.join(args.out, "latent_scatter.png"), dpi=100)
plt.close(fig)

"""
## Decode a grid of latent points

Each point `(u, v)` of a regular grid over a scatter (within 2 standard
deviations of the projections) is mapped back to the latent space and
decoded. Neighbouring images change smoothly: the decoder is continuous in
the latent space. The PCA plane follows the main variations of style and
shape; the LDA plane runs through the digit classes.
"""

for name, w in views.items():
    projected = projections[name]
    span = 2.0 * projected.std(axis=0)
    us = np.linspace(-span[0], span[0], GRID)
    vs = np.linspace(span[1], -span[1], GRID)  # top row = high second coordinate, as in the scatter
    plane = np.array([[u, v] for v in vs for u in us])
    decoded = ops.convert_to_numpy(vae.decode(center + plane @ np.linalg.pinv(w.T)))
    path = os.path.join(args.out, "latent_grid.png" if name == "PCA" else "latent_grid_lda.png")
    images.save_grid(decoded, path, ncols=GRID, padding=1, scale=2)
    print(f"Saved {os.path.basename(path)}: {GRID} x {GRID} points of the {name} plane")

"""
## Active latent dimensions

The KL divergence of q(z|x) from N(0, I), per dimension and averaged over
images: `0.5 * (mean^2 + exp(log_var) - log_var - 1)`. Dimensions with a KL
near 0 are unused by the encoder; the rest hold what the model knows.
"""

kl = 0.5 * (mean**2 + np.exp(log_var) - log_var - 1.0)
kl_per_dim = kl.mean(axis=0)
order = np.argsort(kl_per_dim)[::-1]
active = int(np.sum(kl_per_dim > 0.01))
print(f"{active} of {vae.latent_dim} dimensions are active (mean KL > 0.01 nats); "
      f"total KL {kl_per_dim.sum():.1f} nats per image")
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.bar(np.arange(vae.latent_dim), kl_per_dim[order], color=["C0" if v > 0.01 else "C7" for v in kl_per_dim[order]])
ax.set_xlabel("latent dimension (sorted)")
ax.set_ylabel("mean KL (nats)")
ax.set_title(f"{active} active dimensions of {vae.latent_dim}")
fig.tight_layout()
fig.savefig(os.path.join(args.out, "kl_per_dimension.png"), dpi=100)
plt.close(fig)

"""
## Going further

- Walk between two digits with `genae interpolate vae_mnist --rows 4 --out walk.png`.
- Sample from the prior with `vae.sample(64, seed=0)`: prior draws land
  where the encoder put the digits only if the aggregate posterior matches
  the prior; compare the scatter of `vae.sample_latents(1000)`
  projected on the same directions.
"""
print("Figures in", args.out)
