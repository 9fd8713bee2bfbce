"""Sample quality of an adversarial autoencoder at several sampling
temperatures: the Fréchet distance, precision, recall and class shares of
its samples, as the zoo's evaluation measures them.

    python benchmarks/temperature.py aae_mnist --temperatures 1 0.8 0.6 \\
        --data-dir ../shared/data [--checkpoint DIR]

For each temperature `t` the model samples with its prior's noise scaled by
`t` (`AdversarialAutoencoder(temperature=t)`), and
`keras_genae.evaluate(..., probes=["frechet"])` compares `--n` samples
(10,000 by default, seed 0, as `tools/zoo.py evaluate` does) with the
10,000 test images in the features of `classifier_<dataset>`. The PSNR of
the test split does not depend on `t` and is left out. `--checkpoint` reads
a checkpoint directory (e.g. one `genae train` wrote) instead of the shipped
checkpoint. Results: benchmarks/results/temperature.md.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import keras_genae  # noqa: E402
from keras_genae.data import load_dataset  # noqa: E402
from keras_genae.models.family import get_recipe  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", default="aae_mnist")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.8, 0.6])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--checkpoint", default=None, help="a checkpoint directory to read instead")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    model = keras_genae.load(args.checkpoint or args.name, compile=False)
    if not isinstance(model, keras_genae.AdversarialAutoencoder):
        raise SystemExit(f"{args.name!r} is a {type(model).__name__}: this benchmark measures an "
                         "AdversarialAutoencoder's temperature (a VQ-VAE's: benchmarks/guidance.py).")
    dataset = get_recipe(args.name).dataset
    test = load_dataset(dataset, "test", batch_size=500, shuffle=False, data_dir=args.data_dir)
    print(f"{args.checkpoint or args.name}: {args.n} samples against the {dataset} test split", flush=True)
    print("| temperature | FD | precision | recall | class shares (0 ... 9) | s |", flush=True)
    print("|---:|---:|---:|---:|---|---:|", flush=True)
    for t in args.temperatures:
        model.temperature = t
        start = time.time()
        r = keras_genae.evaluate(model, test, classifier="classifier_" + dataset, num_samples=args.n,
                                 probes=["frechet"])
        shares = [100 * v for k, v in r.items() if k.startswith("class_share_") and k[12:].isdigit()]
        print(f"| {t:g} | {r['frechet_distance']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{min(shares):.1f} - {max(shares):.1f}: {' '.join(f'{s:.1f}' for s in shares)} | "
              f"{time.time() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
