"""Class-conditional sampling of a zoo VQ-VAE at several classifier-free
guidance scales: how often the dataset's classifier agrees with the label
asked for, and the smallest and largest class share.

    python benchmarks/guidance.py vqvae_cifar10 --n 500 --guidance 0 1 3

Draws `n` samples with the labels 0, 1, ..., 9 in turn (seed 1) at each
scale, classifies them with `classifier_<dataset>`, and prints one line per
scale (accuracy against the labels asked for, class shares, images/s).
Results: benchmarks/results/guidance.md.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_genae  # noqa: E402
from keras_genae.models.family import get_recipe  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", default="vqvae_cifar10")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--guidance", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--reconstructions", type=int, default=0, metavar="N",
                        help="also classify the reconstructions of N random test images "
                             "(needs --data-dir or $KERAS_GENAE_DATA)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    model = keras_genae.load(args.name, compile=False)
    dataset = get_recipe(args.name).dataset
    classifier = keras_genae.load("classifier_" + dataset, compile=False)
    if args.reconstructions:
        from keras_genae.data import load_dataset

        test = load_dataset(dataset, "test", batch_size=1000, shuffle=False,
                            with_labels=True, data_dir=args.data_dir)
        x, y = (np.concatenate(parts) for parts in zip(*[(np.asarray(a), np.asarray(b)) for a, b in test]))
        pick = np.random.RandomState(0).choice(len(x), args.reconstructions, replace=False)
        x, y = x[pick], y[pick].reshape(-1)
        for what, images in (("test images", x), ("reconstructions", model.reconstruct(x))):
            p = np.argmax(keras.ops.convert_to_numpy(classifier.predict(keras.ops.convert_to_numpy(images),
                                                                       verbose=0)), -1)
            shares = np.bincount(p, minlength=model.num_classes) / len(p)
            print(f"{what}: agreement {np.mean(p == y):.4f}, class shares {shares.min():.1%} - "
                  f"{shares.max():.1%}", flush=True)
    labels = (np.arange(args.n) % model.num_classes).astype("int32")
    for g in args.guidance:
        start = time.time()
        x = keras.ops.convert_to_numpy(model.sample(args.n, seed=1, labels=labels, guidance=g,
                                                    temperature=args.temperature))
        seconds = time.time() - start
        predicted = np.argmax(keras.ops.convert_to_numpy(classifier.predict(x, verbose=0)), -1)
        shares = np.bincount(predicted, minlength=model.num_classes) / args.n
        print(f"guidance {g:g}: agreement {np.mean(predicted == labels):.3f}, class shares "
              f"{shares.min():.1%} - {shares.max():.1%} {np.round(100 * shares, 1).tolist()}, "
              f"{args.n / seconds:.1f} img/s", flush=True)


if __name__ == "__main__":
    main()
