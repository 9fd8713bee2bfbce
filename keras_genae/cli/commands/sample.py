"""`genae sample NAME [-n 64] [--seed S] [--label K] [--temperature T]
[--guidance G] --out grid.png`: a grid of samples from the model's prior (of
one class for a class-conditional model; at a temperature and a guidance
scale for a class-conditional autoregressive prior)."""

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
    options = {k: v for k, v in (("labels", args.label), ("temperature", args.temperature),
                                 ("guidance", args.guidance)) if v is not None}
    if options:
        try:
            model.sampler_options(1, **options)
        except TypeError:
            raise ValueError(
                f"{args.name!r} ({type(model).__name__}) takes no "
                f"{' or '.join('--' + k.rstrip('s') for k in options)}: --label needs a "
                "class-conditional model (the zoo VQ-VAEs, DCGANs and aae_mnist), --temperature "
                "a VQ-VAE's autoregressive prior or an AAE, --guidance a VQ-VAE's "
                "class-conditional prior.") from None
        except ValueError as e:
            raise ValueError(str(e).replace("`labels`", "--label")) from None
    x = np.concatenate([common.to_numpy(model.sample(min(BATCH, args.n - i), seed=args.seed + i,
                                                     **options))
                        for i in range(0, args.n, BATCH)])
    where = common.write_grid(x, args.out, args.cols, args.scale)
    extra = "".join(f", {k.rstrip('s')} {v}" for k, v in options.items())
    print(f"Wrote {where}: {args.n} samples (seed {args.seed}{extra}).")
    return 0
