"""Parameter counts and training throughput of every registered family.

Usage:
    python benchmarks/train_speed.py [--batch-size 128] [--steps 20] [--out benchmarks/results]

For each architecture with its default config, on MNIST-shaped (28x28x1)
and CIFAR-shaped (32x32x3) random images in [0, 1], it times `train_on_batch`
after two warm-up steps (tracing excluded) and prints a markdown table of
parameters and training images per second. Results depend on the machine and
on what else runs on it: the table records the CPU count.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_genae.models import ARCHITECTURES  # noqa: E402

SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}


def measure(cls, shape, batch_size, steps):
    keras.utils.set_random_seed(0)
    model = cls(image_shape=shape, seed=0)
    model.compile()
    x = np.random.default_rng(0).random((batch_size,) + shape, dtype=np.float32)
    for _ in range(2):
        model.train_on_batch(x)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x)
    seconds = time.perf_counter() - start
    return model.count_params(), steps * batch_size / seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default=None, help="folder for train_speed.json and .md")
    parser.add_argument("--only", nargs="*", default=None, help="architecture names")
    args = parser.parse_args(argv)
    rows = []
    for name in sorted(args.only or ARCHITECTURES):
        for dataset, shape in SHAPES.items():
            params, ips = measure(ARCHITECTURES[name], shape, args.batch_size, args.steps)
            rows.append({"architecture": name, "input": dataset, "shape": list(shape),
                         "params": params, "train_images_per_s": round(ips, 1)})
            print(json.dumps(rows[-1]), flush=True)
    header = (f"Batch {args.batch_size}, {args.steps} timed steps, default configs; "
              f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, keras {keras.__version__}.\n\n"
              "| architecture | input | parameters | train images/s |\n|---|---|---:|---:|\n")
    table = header + "".join(
        f"| {r['architecture']} | {r['input']} | {r['params']:,} | {r['train_images_per_s']:.0f} |\n" for r in rows)
    print(table)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "train_speed.json"), "w") as f:
            json.dump({"batch_size": args.batch_size, "steps": args.steps, "cpus": os.cpu_count(), "rows": rows}, f, indent=2)
        with open(os.path.join(args.out, "train_speed.md"), "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
