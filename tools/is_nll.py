"""Importance-sampled negative log-likelihood of the shipped VAEs.

Usage:
    python tools/is_nll.py [vae_mnist vae_fashion_mnist vae_cifar10]
        [--data-dir ../shared/data] [--k 1000] [--limit N] [--stride S]
        [--chunk 100] [--decode-batch 1000] [--seed 0]
        [--out benchmarks/results/is_nll.json]

For each model: its recipe's test split (binarized like the training data,
as the zoo evaluates it), every `--stride`-th image, at most `--limit` of
them. CIFAR-10's test split is sorted by class, so a subset must be spread
over the whole split: with `--limit` and no `--stride`, the stride is
`N // limit`. On those images it reports the one-sample `neg_elbo` and
`bits_per_dim` (`keras_genae.evaluation`'s `"likelihood"` probe) and the
importance-weighted bound `is_nll` with `--k` samples per image (the
`"is_nll"` probe; Burda et al. 2015), with the wall time and images/s.
`is_nll` should lie below `neg_elbo`.

Results are merged into `--out` (JSON, keyed by model), so that the models
can run in separate invocations. The full computation (K = 1000 on the
10,000 test images of each model) takes hours on a CPU: see the images/s
of a short run (`--limit 50`) first.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("vae_mnist", "vae_fashion_mnist", "vae_cifar10")


def test_images(recipe, data_dir, limit=None, stride=None):
    """The recipe's test images as an array: every `stride`-th, at most
    `limit`. Returns `(images, stride)`."""
    import numpy as np

    x = np.concatenate([np.asarray(b) for b in recipe.test_data(data_dir, batch_size=1000)])
    if stride is None:
        stride = max(1, len(x) // limit) if limit else 1
    x = x[::stride]
    return (x[:limit] if limit else x), stride


def run(name, args):
    import keras

    import keras_genae
    from keras_genae.evaluation import evaluate
    from keras_genae.models.family import get_recipe

    recipe = get_recipe(name)
    model = keras_genae.load(name, compile=False)
    x, stride = test_images(recipe, args.data_dir, args.limit, args.stride)
    options = {"k": args.k, "chunk": args.chunk, "decode_batch": args.decode_batch}
    start = time.perf_counter()
    metrics = evaluate(model, x, batch_size=args.batch_size, seed=args.seed,
                       probes=["likelihood", ("is_nll", options)])
    seconds = time.perf_counter() - start
    return {
        "metrics": metrics,
        "is_nll_below_neg_elbo": metrics["is_nll"] <= metrics["neg_elbo"],
        "num_images": len(x),
        "stride": stride,
        "binarize": "static" if recipe.binarize else None,
        "chunk": args.chunk,
        "decode_batch": args.decode_batch,
        "seed": args.seed,
        "seconds": round(seconds, 2),
        "images_per_second": len(x) / seconds,
        "backend": keras.backend.backend(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python tools/is_nll.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(MODELS))
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--k", type=int, default=1000, help="importance samples per image")
    parser.add_argument("--limit", type=int, default=None, help="at most N test images")
    parser.add_argument("--stride", type=int, default=None, help="every S-th test image")
    parser.add_argument("--chunk", type=int, default=100, help="samples per image per decoder call")
    parser.add_argument("--decode-batch", type=int, default=1000, help="latents per decoder call")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "is_nll.json"))
    args = parser.parse_args(argv)
    for key in ("k", "limit", "stride", "chunk", "decode_batch"):
        value = getattr(args, key)
        if value is not None and value <= 0:
            parser.error(f"--{key.replace('_', '-')} must be a positive integer. Received: {value}")

    from keras_genae.utils.io import write_json

    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in args.names:
        results[name] = run(name, args)
        print(json.dumps({name: results[name]}), flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, results)
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
