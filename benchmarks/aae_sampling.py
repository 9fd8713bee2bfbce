"""How an adversarial autoencoder samples best: from its prior or from
Gaussians fitted to its codes (ex-post density estimation), at several
temperatures. Each row is the Fréchet distance, precision, recall and class
shares of its samples, as the zoo's evaluation measures them.

    python benchmarks/aae_sampling.py aae_mnist --temperatures 1 0.8 0.6 \\
        --data-dir ../shared/data [--checkpoint DIR] [--out benchmarks/results]

The checkpoint's weights are put in two copies of its architecture: one
that samples from the prior (`ex_post_density=False`), one that samples
from per-class Gaussians fitted to the codes of the train split
(`ex_post_density=True`, `fit_code_density`). For each and each
temperature `t` (the prior's noise, or the Gaussians' noise, scaled by
`t`), `keras_genae.evaluate(..., probes=["frechet"])` compares `--n`
samples (10,000, seed 0, as `tools/zoo.py evaluate` does) with the 10,000
test images in the features of `classifier_<dataset>`. `--checkpoint`
reads a checkpoint directory (one `genae train` wrote) instead of the
shipped checkpoint. Writes `aae_sampling.md` and `.json` to `--out`.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import keras_genae  # noqa: E402
from keras_genae.data import load_dataset  # noqa: E402
from keras_genae.models.family import get_recipe  # noqa: E402

#: The layers the two copies share.
PARTS = ("encoder", "to_latent", "from_latent", "decoder", "discriminator")


def copies(model, train):
    """`{"prior": ..., "fitted": ...}`: `model`'s weights in a copy that
    samples from the prior and one whose code density is fitted to `train`."""
    out = {}
    for name, ex_post in (("prior", False), ("fitted", True)):
        copy = keras_genae.AdversarialAutoencoder.from_config({**model.get_config(),
                                                               "ex_post_density": ex_post})
        for part in PARTS:
            getattr(copy, part).set_weights(getattr(model, part).get_weights())
        if ex_post:
            copy.fit_code_density(train)
        out[name] = copy
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", default="aae_mnist")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.8, 0.6])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--checkpoint", default=None, help="a checkpoint directory to read instead")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    model = keras_genae.load(args.checkpoint or args.name, compile=False)
    if not isinstance(model, keras_genae.AdversarialAutoencoder):
        raise SystemExit(f"{args.name!r} is a {type(model).__name__}, not an AdversarialAutoencoder.")
    recipe = get_recipe(args.name)
    train = load_dataset(recipe.dataset, "train", batch_size=1000, shuffle=False, data_dir=args.data_dir,
                         with_labels=True)
    test = load_dataset(recipe.dataset, "test", batch_size=500, shuffle=False, data_dir=args.data_dir)
    header = (f"`python benchmarks/aae_sampling.py {args.name} --temperatures "
              f"{' '.join(f'{t:g}' for t in args.temperatures)}`: {args.checkpoint or args.name}, "
              f"{args.n} samples against the {recipe.dataset} test split (classifier_{recipe.dataset} "
              "features; the code Gaussians fitted to the train split).")
    lines = [header, "", "| samples from | temperature | FD | precision | recall | class shares (0 ... 9) | s |",
             "|---|---:|---:|---:|---:|---|---:|"]
    print("\n".join(lines), flush=True)
    rows = []
    for source, copy in copies(model, train).items():
        for t in args.temperatures:
            copy.temperature = t
            start = time.time()
            r = keras_genae.evaluate(copy, test, classifier="classifier_" + recipe.dataset,
                                     num_samples=args.n, probes=["frechet"])
            shares = [100 * r[f"class_share_{k}"] for k in range(10)]
            rows.append({"source": source, "temperature": t, **r, "seconds": round(time.time() - start, 1)})
            lines.append(f"| {source} | {t:g} | {r['frechet_distance']:.2f} | {r['precision']:.3f} | "
                         f"{r['recall']:.3f} | {min(shares):.1f} - {max(shares):.1f}: "
                         f"{' '.join(f'{s:.1f}' for s in shares)} | {rows[-1]['seconds']:.0f} |")
            print(lines[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "aae_sampling.json").write_text(json.dumps(rows, indent=1) + "\n")
    (out / "aae_sampling.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
