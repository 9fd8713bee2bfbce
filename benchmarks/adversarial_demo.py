"""Short CPU training run of the adversarial models on MNIST, with sample
grids saved as PNG.

Trains an `AdversarialAutoencoder` and a `DCGAN` for `--steps` steps each
and writes, under `--out`:

- `aae_samples.png`: decoded prior draws of the AAE (8 x 8);
- `aae_reconstructions.png`: test images (odd rows) over their AAE
  reconstructions (even rows);
- `dcgan_samples.png`: DCGAN samples (8 x 8);
- `summary.json`: the command, the final logs and timings of each model.

Example:

```
KERAS_BACKEND=tensorflow python benchmarks/adversarial_demo.py \\
    --data-dir ../shared/data --steps 600 --out /tmp/adversarial_demo
```
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import keras_genae  # noqa: E402


def load_mnist(data_dir):
    with np.load(os.path.join(data_dir, "mnist.npz")) as d:
        x_train, x_test = d["x_train"], d["x_test"]
    to_float = lambda x: (x.astype("float32") / 255.0)[..., None]  # noqa: E731
    return to_float(x_train), to_float(x_test)


def save_grid(images, path, rows, cols, scale=2):
    """Tile `rows * cols` images in [0, 1] (NHWC) into one PNG."""
    images = np.clip(np.asarray(images)[: rows * cols], 0, 1)
    n, h, w, c = images.shape
    grid = np.ones((rows * (h + 2) + 2, cols * (w + 2) + 2, c), "float32")
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        grid[2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + q * (w + 2) : 2 + q * (w + 2) + w] = img
    grid = (grid * 255).round().astype("uint8")
    image = Image.fromarray(grid[..., 0] if c == 1 else grid)
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image.save(path)
    return path


def train(model, x, steps, batch_size):
    start = time.time()
    history = model.fit(
        x, batch_size=batch_size, epochs=1, steps_per_epoch=steps, shuffle=True, verbose=0,
        callbacks=[_Progress(every=max(steps // 5, 1))],
    )
    logs = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    return logs, round(time.time() - start, 1)


class _Progress(keras.callbacks.Callback):
    def __init__(self, every):
        super().__init__()
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            shown = ", ".join(f"{k}={float(v):.3f}" for k, v in sorted(logs.items()))
            print(f"  step {batch + 1}: {shown}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--steps", type=int, default=600, help="train steps per model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default="/tmp/adversarial_demo")
    parser.add_argument(
        "--models", nargs="+", default=["aae", "dcgan"], choices=["aae", "dcgan"]
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    x_train, x_test = load_mnist(args.data_dir)
    summary = {"command": " ".join([os.path.basename(sys.executable)] + sys.argv), "models": {}}
    outputs = []

    if "aae" in args.models:
        aae = keras_genae.AdversarialAutoencoder(
            image_shape=(28, 28, 1), latent_dim=8, encoder_filters=(32, 64),
            discriminator_units=(256, 256), seed=args.seed,
        )
        aae.compile()
        print(f"AAE: {aae.count_params():,} parameters, {args.steps} steps", flush=True)
        logs, seconds = train(aae, x_train, args.steps, args.batch_size)
        path = os.path.join(args.out, "aae_samples.png")
        outputs.append(save_grid(aae.sample(64, seed=args.seed), path, 8, 8))
        originals = x_test[:32]
        recon = np.asarray(aae.reconstruct(originals))
        # Rows: 8 test images, then their reconstructions, four times.
        pairs = np.stack([originals.reshape(4, 8, 28, 28, 1), recon.reshape(4, 8, 28, 28, 1)], 1)
        path = os.path.join(args.out, "aae_reconstructions.png")
        outputs.append(save_grid(pairs.reshape(-1, 28, 28, 1), path, 8, 8))
        summary["models"]["AdversarialAutoencoder"] = {"final_logs": logs, "train_seconds": seconds}

    if "dcgan" in args.models:
        gan = keras_genae.DCGAN(
            image_shape=(28, 28, 1), latent_dim=64, generator_filters=(128, 64),
            discriminator_filters=(64, 128), seed=args.seed,
        )
        gan.compile()
        print(f"DCGAN: {gan.count_params():,} parameters, {args.steps} steps", flush=True)
        logs, seconds = train(gan, x_train, args.steps, args.batch_size)
        path = os.path.join(args.out, "dcgan_samples.png")
        outputs.append(save_grid(gan.sample(64, seed=args.seed), path, 8, 8))
        summary["models"]["DCGAN"] = {"final_logs": logs, "train_seconds": seconds}

    summary["outputs"] = outputs
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
