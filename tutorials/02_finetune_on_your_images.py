"""
Title: Fine-tune a pretrained VAE on a folder of your own images
Author: keras-genae contributors
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Read a folder of images with `from_directory`, fine-tune `vae_mnist` from its pretrained weights, with and without a frozen encoder, and compare the losses.
Accelerator: None (a few minutes on a CPU; seconds with --fast)
"""

"""
## Introduction

A pretrained model is a good starting point for your own images, even when
they differ from its training data. Here `vae_mnist`, trained on
handwritten digits, is adapted to a folder of simple shapes (circles,
squares, triangles, crosses). We compare:

- **before**: the pretrained model as is;
- **full fine-tuning**: every weight is trained;
- **frozen encoder**: the encoder (and so the latent space it maps images
  to) stays as pretrained; only the decoder learns.

Run it with `python tutorials/02_finetune_on_your_images.py [--fast] [--out DIR]`.

## Setup
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from keras import ops
from PIL import Image
from PIL import ImageDraw

import keras_genae
from keras_genae.data import from_directory

parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
parser.add_argument("--fast", action="store_true", help="tiny sizes, for a smoke run")
parser.add_argument("--out", default="tutorial_outputs/02_finetune", help="folder of the figures")
args, _ = parser.parse_known_args()
os.makedirs(args.out, exist_ok=True)
keras.utils.set_random_seed(0)
NUM_IMAGES = 96 if args.fast else 1200
EPOCHS = 2 if args.fast else 12

"""
## A folder of your own images

Any folder of PNG, JPEG, BMP, GIF or WebP files will do, in any size and
colour mode. To keep the tutorial self-contained we draw one: RGB images of
64x64 pixels with a white shape on a dark background, in a `train/` and a
`val/` folder.
"""


def draw_shape(rng, size=64):
    image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 40, 3)))
    draw = ImageDraw.Draw(image)
    colour = tuple(int(v) for v in rng.integers(200, 256, 3))
    cx, cy = rng.integers(20, size - 20, 2)
    r = int(rng.integers(8, 18))
    kind = rng.integers(4)
    if kind == 0:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=5)
    elif kind == 1:
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], outline=colour, width=5)
    elif kind == 2:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], outline=colour, width=5)
    else:
        draw.line([cx - r, cy - r, cx + r, cy + r], fill=colour, width=6)
        draw.line([cx - r, cy + r, cx + r, cy - r], fill=colour, width=6)
    return image


rng = np.random.default_rng(0)
folder = os.path.join(args.out, "my_images")
for split, count in (("train", NUM_IMAGES), ("val", NUM_IMAGES // 4)):
    os.makedirs(os.path.join(folder, split), exist_ok=True)
    for i in range(count):
        draw_shape(rng).save(os.path.join(folder, split, f"shape_{i:04d}.png"))
print("Wrote", NUM_IMAGES, "training images to", folder)

"""
## Load the folder with `from_directory`

`keras_genae.data.from_directory` makes a `tf.data.Dataset` of float images
in [0, 1] at the model's input size: here 28x28 grey images, like MNIST.
Images are resized (bilinear, antialiased) and converted to grey; unreadable
files are skipped with a warning.
"""

vae = keras_genae.load("vae_mnist")
height, width, channels = vae.image_shape
train_ds = from_directory(os.path.join(folder, "train"), (height, width), channels=channels,
                          batch_size=32, seed=0)
val_ds = from_directory(os.path.join(folder, "val"), (height, width), channels=channels,
                        batch_size=64, shuffle=False)
val_images = np.concatenate(list(val_ds.as_numpy_iterator()))
print("Validation images:", val_images.shape)

"""
## Before fine-tuning

`keras_genae.load` returns a compiled model, so `evaluate` and `fit` work
straight away. The pretrained VAE reconstructs digit-like strokes: the
shapes are out of its training distribution.
"""

before = vae.evaluate(val_ds, verbose=0, return_dict=True)
print("Pretrained, validation loss:", round(before["loss"], 2))

"""
## Fine-tune: all weights, or a frozen encoder

We load the pretrained model twice. `keras_genae.load` compiles a
pretrained model with its checkpoint's fine-tuning settings
(`model.finetuning`: Adam at a rate well below the from-scratch 1e-3, which
would wreck the trained weights in its first steps). For the frozen variant
we set `trainable = False` on the encoder and on its latent head
(`to_latent`), then compile again with the same settings,
`model.finetuning.compile(model)`, so that the change takes effect. `fit`
logs `psnr` and `val_psnr`, the reconstruction quality in dB, next to the
loss.
"""


def finetune(freeze_encoder):
    model = keras_genae.load("vae_mnist")
    if freeze_encoder:
        model.encoder.trainable = False
        model.to_latent.trainable = False
        model.finetuning.compile(model)  # recompile: the trainable flags changed
    print(f"fine-tuning settings: {model.finetuning.describe()}")
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    print(f"freeze_encoder={freeze_encoder}: {trainable:,} of {model.count_params():,} weights train")
    history = model.fit(train_ds, validation_data=val_ds, epochs=EPOCHS, verbose=2)
    return model, history.history


full_model, full = finetune(freeze_encoder=False)
frozen_model, frozen = finetune(freeze_encoder=True)

"""
## Compare the losses

The loss is the negative ELBO in nats per image (reconstruction + KL). The
dashed line is the pretrained model before any fine-tuning.
"""

epochs = np.arange(1, EPOCHS + 1)
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(epochs, full["loss"], "o-", color="C0", label="full fine-tuning (train)")
ax.plot(epochs, full["val_loss"], "o--", color="C0", alpha=0.6, label="full fine-tuning (val)")
ax.plot(epochs, frozen["loss"], "s-", color="C1", label="frozen encoder (train)")
ax.plot(epochs, frozen["val_loss"], "s--", color="C1", alpha=0.6, label="frozen encoder (val)")
ax.axhline(before["loss"], color="gray", linestyle=":", label="pretrained (val)")
ax.set_xlabel("epoch")
ax.set_ylabel("loss (negative ELBO, nats)")
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(args.out, "finetune_losses.png"), dpi=100)
plt.close(fig)

for name, history in (("full fine-tuning", full), ("frozen encoder", frozen)):
    print(f"{name}: val loss {before['loss']:.1f} -> {history['val_loss'][-1]:.1f}, "
          f"val PSNR {before['psnr']:.2f} -> {history['val_psnr'][-1]:.2f} dB")

"""
## Reconstructions

Rows: validation images, then the pretrained model, the fully fine-tuned
model and the model with the frozen encoder.
"""

x = val_images[:8]
rows = [x] + [ops.convert_to_numpy(m.reconstruct(x)) for m in (vae, full_model, frozen_model)]
titles = ["input", "pretrained", "full", "frozen enc."]
fig, axes = plt.subplots(len(rows), len(x), figsize=(1.3 * len(x), 1.4 * len(rows)))
for r, row in enumerate(rows):
    for c in range(len(x)):
        axes[r, c].imshow(row[c, ..., 0], cmap="gray", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(titles[r], rotation=0, ha="right", va="center")
fig.tight_layout()
fig.savefig(os.path.join(args.out, "finetune_reconstructions.png"), dpi=100)
plt.close(fig)

"""
## Which to choose

Full fine-tuning adapts the encoder too, so it usually reaches the lower
loss when the new images differ a lot from the pretraining data. A frozen
encoder trains fewer weights and keeps the pretrained latent space (useful
when other code relies on those latents, or with very few images, where it
overfits less). Compare the train and validation curves above on your own
data to decide.

`keras_genae.finetune(model, images)` does all of this for arrays: it holds
out a validation split, prints nothing but returns the held-out PSNR before
and after, and keeps the best validation epoch (the pretrained weights
included, so it never ends worse on the validation images);
`genae finetune vae_mnist --images my_images/ --out my_vae` runs it on a
folder.

Save the model you keep with `keras_genae.save_pretrained(model, "my_vae")`
(see `06_publish_your_model.py`), then use it anywhere a name is accepted:
`genae reconstruct my_vae --images my_images/val --out grid.png`.
"""
print("Figures in", args.out)
