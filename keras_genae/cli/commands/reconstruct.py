"""`genae reconstruct NAME [--images DIR|FILES] --out grid.png`: inputs
(the shipped sample images by default) each left of its reconstruction,
with the mean PSNR."""

import math

import numpy as np

from keras_genae.cli import common
from keras_genae.hub.api import load


def run(args):
    model = load(args.name, compile=False)
    hint = f"Try `genae sample {args.name}`." if "sample" in model.capabilities else ""
    common.require_capability(model, args.name, "reconstruct", hint)
    x = common.input_images(args, model, args.name)
    x_in = x
    if args.noise:
        rng = np.random.default_rng(args.seed)
        x_in = np.clip(x + rng.normal(0.0, args.noise, x.shape), 0.0, 1.0).astype("float32")
    y = np.concatenate([common.to_numpy(model.reconstruct(x_in[i:i + 64])) for i in range(0, len(x), 64)])
    pairs = args.cols or math.ceil(math.sqrt(len(x)))
    where = common.write_grid(common.side_by_side(x_in, y), args.out, pairs, args.scale, padding=6)
    text = f"PSNR {common.psnr(x, y):.2f} dB"
    if args.noise:
        text += f" (noisy input: {common.psnr(x, x_in):.2f} dB)"
    print(f"Wrote {where}: {len(x)} inputs, each left of its reconstruction; {text}.")
    return 0
