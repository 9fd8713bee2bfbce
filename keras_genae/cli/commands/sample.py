"""`genae sample NAME [-n 64] [--seed S] --out grid.png`: a grid of
samples from the model's prior."""

import numpy as np

from keras_genae.cli import common
from keras_genae.hub.api import load

BATCH = 256


def run(args):
    model = load(args.name, compile=False)
    common.require_capability(
        model, args.name, "sample",
        f"Try `genae reconstruct {args.name}` or `genae interpolate {args.name}`."
        if "reconstruct" in model.capabilities else "")
    x = np.concatenate([common.to_numpy(model.sample(min(BATCH, args.n - i), seed=args.seed + i))
                        for i in range(0, args.n, BATCH)])
    where = common.write_grid(x, args.out, args.cols, args.scale)
    print(f"Wrote {where}: {args.n} samples (seed {args.seed}).")
    return 0
