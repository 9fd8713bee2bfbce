"""Short pilot runs of the adversarial families, to choose their recipes.

Trains one configuration from scratch on a dataset's train split (batch
128, seed 0) and, after each epoch, prints the Fréchet distance of 5,000
samples to the 10,000 test images in the zoo classifier's features, with
the smallest and largest class share of the samples. For a DCGAN with a
moving average (`ema_decay > 0`) it also prints the raw generator's
figures, so one run measures what the average adds. For an AAE it prints
the reconstruction PSNR of 2,000 test images too.

    python benchmarks/gan_pilots.py dcgan --epochs 4 \\
        --config '{"upsampling": "resize", "kernel_size": 3}' \\
        --optimizers '{"g_optimizer": {"learning_rate": 2e-4, "beta_1": 0.5},
                       "d_optimizer": {"learning_rate": 2e-4, "beta_1": 0.5}}'

Every run appends its per-epoch figures to
benchmarks/results/gan_pilots.json (`--data-dir`, or `$KERAS_GENAE_DATA`,
names the folder of the .npz datasets). The results that chose the zoo's
recipes are in benchmarks/results/gan_pilots.md.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Keep this folder (scripts, not packages) off the module path, and the
# repository on it.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import keras_genae  # noqa: E402
from keras_genae.data import load_dataset  # noqa: E402
from keras_genae.evaluation.frechet import FeatureStatistics  # noqa: E402
from keras_genae.evaluation.frechet import frechet_distance  # noqa: E402

RESULTS = os.path.join(HERE, "results", "gan_pilots.json")
SAMPLES, BATCH = 5000, 500


def _statistics(classifier, images_batches):
    stats, predicted = FeatureStatistics(), []
    for x in images_batches:
        stats.update(ops.convert_to_numpy(classifier.features(x)))
        predicted.append(np.argmax(ops.convert_to_numpy(classifier(x, training=False)), -1))
    return stats, np.concatenate(predicted)


def sample_figures(model, classifier, reference, raw=False):
    """FD, min and max class share of `SAMPLES` samples (fixed seeds)."""
    def batches():
        for i in range(SAMPLES // BATCH):
            if not raw:
                yield model.sample(BATCH, seed=1000 + i)
                continue
            z = model.sample_latents(BATCH, seed=1000 + i)
            h = ops.cast(model.generator(z, training=False), "float32")
            yield 0.5 * (ops.tanh(h) + 1.0) if model.output_activation == "tanh" else ops.sigmoid(h)

    stats, predicted = _statistics(classifier, batches())
    shares = np.bincount(predicted, minlength=10) / SAMPLES
    return {"frechet_distance": round(float(frechet_distance(stats, reference)), 2),
            "class_share_min": round(float(shares.min()), 3),
            "class_share_max": round(float(shares.max()), 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("family", choices=["dcgan", "aae"])
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--config", default="{}", help="constructor arguments, JSON")
    parser.add_argument("--optimizers", default="{}", help="phase name -> Adam arguments, JSON")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    config, optimizers = json.loads(args.config), json.loads(args.optimizers)
    keras.utils.set_random_seed(0)
    classifier = keras_genae.load(f"classifier_{args.dataset}", compile=False)
    test = load_dataset(args.dataset, "test", batch_size=BATCH, shuffle=False, data_dir=args.data_dir)
    test_images = np.concatenate([np.asarray(b) for b in test])
    reference, _ = _statistics(classifier, (test_images[i:i + BATCH]
                                            for i in range(0, len(test_images), BATCH)))
    cls = keras_genae.DCGAN if args.family == "dcgan" else keras_genae.AdversarialAutoencoder
    model = cls(image_shape=test_images.shape[1:], seed=0, **config)
    model.compile(**{name: keras.optimizers.Adam(**kw) for name, kw in optimizers.items()})
    run = {"family": args.family, "dataset": args.dataset, "config": config,
           "optimizers": optimizers, "epochs": []}

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "seconds": round(time.time() - start),
                   "samples": sample_figures(model, classifier, reference)}
            if args.family == "dcgan" and model.generator_ema is not None:
                row["raw_generator"] = sample_figures(model, classifier, reference, raw=True)
            if args.family == "aae":
                x = test_images[:2000]
                r = ops.convert_to_numpy(model.reconstruct(x))
                mse = np.mean((r - x) ** 2, axis=(1, 2, 3))
                row["psnr"] = round(float(np.mean(10 * np.log10(1.0 / mse))), 2)
            run["epochs"].append(row)
            print(json.dumps(row), flush=True)

    train = load_dataset(args.dataset, "train", batch_size=128, seed=0, data_dir=args.data_dir,
                         with_labels=model.uses_labels)
    start = time.time()
    model.fit(train, epochs=args.epochs, verbose=0, callbacks=[Report()])
    runs = json.load(open(RESULTS)) if os.path.exists(RESULTS) else []
    runs.append(run)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
