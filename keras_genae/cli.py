"""`genae`: the keras_genae command line.

    genae list [PATTERN]                      checkpoints, dataset, size, key metric
    genae info NAME                           the model card
    genae reconstruct NAME [--images DIR|FILES] [--n N] --out grid.png
    genae sample NAME [-n 64] [--seed S] --out grid.png
    genae interpolate NAME [--steps 10] [--method slerp] --out strip.png
    genae train RECIPE [--data-dir D] [--out ckpt]   (or: genae train vae --dataset mnist)
    genae finetune NAME --images DIR --out DIR [--epochs N] [--val-split F]
    genae evaluate NAME [--data-dir D] [--limit N]
    genae push DIR --repo-id namespace/name

NAME is anything `keras_genae.load` takes: a checkpoint name from `genae
list`, `hf://namespace/name[@revision]`, a checkpoint directory or a
`.keras` file. Images are PNGs written with Pillow. Errors print one line
on stderr and exit with status 1; `--verbose` shows the traceback.
"""

import argparse
import dataclasses
import json
import math
import os
import sys
import traceback

import numpy as np
from keras import ops

from keras_genae import cli_finetune
from keras_genae.cli_finetune import positive_int as _positive
from keras_genae import hub
from keras_genae.data import grids as images_lib
from keras_genae.data import image_io
from keras_genae.data import samples
from keras_genae.utils import interpolation
from keras_genae import recipes
from keras_genae.hub import manifest
from keras_genae import zoo
from keras_genae.evaluation import evaluate
from keras_genae.models import LOADABLE_MODELS
from keras_genae.utils.run_lock import run_lock

PROG = "genae"
#: Aliases accepted by `genae train ARCH --dataset D`.
ARCH_ALIASES = {
    "ae": "Autoencoder", "dae": "DenoisingAutoencoder", "vae": "VAE", "vqvae": "VQVAE",
    "aae": "AdversarialAutoencoder", "dcgan": "DCGAN",
}
#: The metric `genae list` shows for each architecture (first one present).
KEY_METRICS = {
    "DenoisingAutoencoder": ("psnr_gain", "psnr"),
    "VAE": ("neg_elbo", "psnr"),
    "DCGAN": ("frechet_distance",),
    "FeatureClassifier": ("test_accuracy",),
}
_DEFAULT_KEYS = ("psnr", "frechet_distance", "neg_elbo", "mse")


# ---------------------------------------------------------------- helpers
def _load(name):
    return hub.load(name, compile=False)


def _manifest():
    return manifest.get_manifest()


def _card_metadata(name):
    """metadata.json of a checkpoint directory or of a shipped checkpoint."""
    for directory in (name, hub.BUNDLED_CHECKPOINTS_DIR / str(name)):
        path = os.path.join(directory, "metadata.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    return {}


def _dataset_of(name, model):
    """The dataset a model was trained on: manifest, model card, or shape."""
    entry = _manifest().get(name)
    dataset = entry["dataset"] if entry else _card_metadata(name).get("dataset")
    if dataset in samples.SAMPLE_DATASETS and samples.SAMPLE_DATASETS[dataset] == tuple(model.image_shape):
        return dataset
    return samples.dataset_for_shape(model.image_shape)


def _input_images(args, model, name):
    """`--images` read at the model's shape, else the shipped sample images."""
    if args.images:
        x, _ = image_io.load_images(args.images, model.image_shape, invert=args.invert)
    else:
        dataset = _dataset_of(name, model)
        if dataset is None:
            raise ValueError(
                f"No sample images ship for the input shape {tuple(model.image_shape)} of "
                f"{name!r}; pass your own with --images DIR or FILES."
            )
        x, _ = samples.sample_images(dataset)
    return x[: args.n] if args.n else x


def _require(condition, message):
    if not condition:
        raise ValueError(message)


def _write(grid_images, out, ncols, scale, padding=2):
    height, width = images_lib.save_grid(grid_images, out, ncols=ncols, scale=scale, padding=padding)
    return f"{out} ({width}x{height})"


def _psnr(x, y):
    mse = np.mean(np.square(np.asarray(x) - np.asarray(y)), axis=(1, 2, 3))
    return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def _numpy(tensor):
    return ops.convert_to_numpy(tensor)


# --------------------------------------------------------------- commands
def cmd_list(args):
    models = _manifest()
    names = manifest.list_models(args.pattern)
    if not names:
        print(f"No checkpoint matches {args.pattern!r}." if models else
              "No pretrained checkpoints are registered in the manifest yet.")
        return 0
    rows = [("name", "architecture", "dataset", "params", "key metric", "offline")]
    for name in names:
        entry = models[name]
        metrics = entry["metrics"]
        keys = KEY_METRICS.get(entry["architecture"], ()) + _DEFAULT_KEYS
        # A negative ELBO below zero is a continuous density (Gaussian VAE):
        # not the nats figure readers expect, so another metric is shown.
        key = next((k for k in keys if k in metrics
                    and not (k == "neg_elbo" and metrics[k] < 0)), None)
        params = _card_metadata(name).get("parameter_count")
        rows.append((
            name, entry["architecture"], entry["dataset"],
            f"{params:,}" if params else "-",
            f"{key} {metrics[key]:.4g}" if key else "-",
            "yes" if (hub.BUNDLED_CHECKPOINTS_DIR / name).is_dir() else "no",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def cmd_info(args):
    name = args.name
    models = _manifest()
    local = [os.path.join(name, "README.md"), hub.BUNDLED_CHECKPOINTS_DIR / name / "README.md"]
    if name.startswith("hf://"):
        from keras_genae.hub import download

        repo_id, revision = hub.parse_hf_handle(name)
        local = [download.fetch(
            repo_id, "README.md", revision or "main", hub.hub_settings(),
            verify=lambda p, etag: download.check_etag(p, etag, "README.md", repo_id))]
    elif not os.path.isdir(name) and name not in models:
        raise manifest.unknown_model_error(name, models)
    for path in local:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                print(f.read().rstrip())
            return 0
    if name not in models:
        raise FileNotFoundError(f"{name!r} has no README.md model card.")
    entry = models[name]  # No local copy: a card from the manifest entry.
    spec = entry["input"]
    lines = [f"# {name}", "", entry["description"], "",
             f"Architecture: keras_genae `{entry['architecture']}`. Input: "
             f"{'x'.join(map(str, spec['shape']))} {spec['dtype']} in {spec['value_range']}; "
             f"{spec['preprocessing']}.",
             f"Hub: hf://{entry['hub']['repo_id']}@{entry['hub']['revision']}", "",
             f"Dataset: {entry['dataset']} (license: {entry['data_license']})", "", "## Metrics", ""]
    lines += [f"- {k}: {v:.6g}" for k, v in sorted(entry["metrics"].items())] or ["- none recorded"]
    print("\n".join(lines))
    return 0


def cmd_reconstruct(args):
    model = _load(args.name)
    _require(hasattr(model, "encoder"), f"{args.name!r} ({type(model).__name__}) has no encoder "
             "and cannot reconstruct; try `genae sample`.")
    x = _input_images(args, model, args.name)
    x_in = x
    if args.noise:
        rng = np.random.default_rng(args.seed)
        x_in = np.clip(x + rng.normal(0.0, args.noise, x.shape), 0.0, 1.0).astype("float32")
    y = np.concatenate([_numpy(model.reconstruct(x_in[i:i + 64])) for i in range(0, len(x), 64)])
    pairs = args.cols or math.ceil(math.sqrt(len(x)))
    where = _write(images_lib.side_by_side(x_in, y), args.out, pairs, args.scale, padding=6)
    text = f"PSNR {_psnr(x, y):.2f} dB" + (f" (noisy input: {_psnr(x, x_in):.2f} dB)" if args.noise else "")
    print(f"Wrote {where}: {len(x)} inputs, each left of its reconstruction; {text}.")
    return 0


def cmd_sample(args):
    model = _load(args.name)
    _require(getattr(model, "has_prior", False),
             f"{args.name!r} ({type(model).__name__}) has no prior to sample from; try "
             f"`genae reconstruct {args.name}` or `genae interpolate {args.name}`.")
    x = np.concatenate([_numpy(model.sample(min(256, args.n - i), seed=args.seed + i))
                        for i in range(0, args.n, 256)])
    where = _write(x, args.out, args.cols, args.scale)
    print(f"Wrote {where}: {args.n} samples (seed {args.seed}).")
    return 0


def _decode_path(model, path):
    """Decode latents on a path (for VQ-VAEs: continuous encodings,
    quantized to their nearest codes first)."""
    if hasattr(model, "quantizer"):
        path = model.quantizer(path)[0]
    return _numpy(model.decode(path))


def cmd_interpolate(args):
    model = _load(args.name)
    has_encoder = hasattr(model, "encoder")
    if args.images or (has_encoder and not args.prior):
        _require(has_encoder, f"{args.name!r} ({type(model).__name__}) has no encoder; "
                 "drop --images to interpolate between prior draws.")
        if args.images:
            x, files = image_io.load_images(args.images, model.image_shape, invert=args.invert)
            _require(len(x) == 2, f"--images must name exactly 2 images. Received {len(x)}: {files}")
            pairs = x[None]
        else:
            pool = _input_images(argparse.Namespace(images=None, n=None), model, args.name)
            rng = np.random.default_rng(args.seed)
            if 2 * args.rows <= len(pool):  # distinct images in every strip
                pairs = pool[rng.permutation(len(pool))[:2 * args.rows]].reshape((args.rows, 2) + pool.shape[1:])
            else:
                pairs = np.stack([pool[rng.choice(len(pool), 2, replace=False)] for _ in range(args.rows)])
        encode = getattr(model, "encode_continuous", model.encode)
        ends = [_numpy(encode(p)) for p in pairs]
        source = "encoded images"
    else:
        _require(getattr(model, "has_prior", False),
                 f"{args.name!r} ({type(model).__name__}) has no prior; interpolate between "
                 "encoded images instead (drop --prior).")
        z = images_lib.prior_latents(model, 2 * args.rows, seed=args.seed)
        ends = [z[2 * r:2 * r + 2] for r in range(args.rows)]
        source = "prior draws"
    strips = [_decode_path(model, interpolation.interpolate(a, b, args.steps, args.method)) for a, b in ends]
    where = _write(np.concatenate(strips), args.out, args.steps, args.scale)
    print(f"Wrote {where}: {len(strips)} x {args.steps} steps, {args.method} between {source}.")
    return 0


def _train_recipe(args):
    if args.recipe in recipes.RECIPES:
        recipe = recipes.RECIPES[args.recipe]
        return dataclasses.replace(recipe, epochs=args.epochs or recipe.epochs)
    arch = ARCH_ALIASES.get(args.recipe.lower())
    if arch is None:
        recipes.get_recipe(args.recipe)  # raises, with close names
    _require(args.dataset, f"Training the architecture {arch} needs --dataset "
             "(mnist, fashion_mnist or cifar10).")
    return recipes.Recipe(
        name=args.name or f"my_{args.recipe.lower()}_{args.dataset}", architecture=arch,
        dataset=args.dataset, config={}, epochs=args.epochs or 10,
        description=f"{arch} with its default config, trained on {args.dataset} with `genae train`.",
    )


def cmd_train(args):
    recipe = _train_recipe(args)
    print(f"Training {recipe.name} ({recipe.architecture} on {recipe.dataset}, "
          f"{recipe.epochs} epochs); state in {os.path.join(args.out, recipe.name + '.state')}")
    from keras_genae import train as train_lib  # imports TensorFlow (tf.data)

    with run_lock(args.out, recipe.name):
        model, state = train_lib.train(recipe, args.data_dir, args.out, recipe.epochs, args.limit,
                                       resume=not args.no_resume, verbose=1 if not args.quiet else 2,
                                       restart=args.restart)
        directory = zoo.finish_checkpoint(model, recipe, state, data_dir=args.data_dir,
                                          out=args.out, eval_limit=args.eval_limit)
    cls = LOADABLE_MODELS[recipe.architecture]  # The hint follows what the model can do.
    hint = (f"genae sample {directory} --out samples.png" if cls.has_prior
            else f"genae reconstruct {directory} --out reconstructions.png" if cls.reports_psnr
            else f"genae evaluate {directory}")
    print(f"Checkpoint: {directory}. Try: {hint}")
    return 0


def cmd_evaluate(args):
    model = _load(args.name)
    dataset = args.dataset or _dataset_of(args.name, model)
    recipe = recipes.RECIPES.get(args.name)
    if recipe is not None and recipe.dataset != dataset:
        recipe = None
    if recipe is not None and recipe.architecture == "FeatureClassifier":
        metrics = zoo.evaluate_recipe_model(model, recipe, args.data_dir, args.limit)
        return _print_metrics(args, metrics, dataset)
    noise = model.noise_level if getattr(model, "noise_type", None) == "gaussian" else None
    reference = None
    if args.images:
        data, _ = image_io.load_images(args.images, model.image_shape, invert=args.invert)
        dataset = None
    elif recipe is not None:
        data = zoo.test_split(recipe, args.data_dir, args.limit)
        if recipe.binarize:  # Fréchet distances compare with the grayscale images
            reference = zoo.test_split(dataclasses.replace(recipe, binarize=None), args.data_dir, args.limit)
    else:
        _require(dataset, "Cannot tell which dataset to evaluate on; pass --dataset or --images.")
        from keras_genae import data as data_lib  # imports TensorFlow (tf.data)

        split = "test" if args.limit is None else f"test[:{args.limit}]"
        data = data_lib.load_dataset(dataset, split, batch_size=256, shuffle=False, data_dir=args.data_dir)
    sampling = dataset and getattr(model, "has_prior", False) and args.num_samples > 0
    classifier = zoo.shipped_classifier(dataset) if sampling else None
    metrics = evaluate(model, data, classifier=classifier, num_samples=args.num_samples,
                       noise_stddev=noise, seed=args.seed, verbose=0 if args.json else 1,
                       fd_reference=reference)
    return _print_metrics(args, metrics, dataset)


def _print_metrics(args, metrics, dataset):
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"\n{args.name} on {dataset or 'the given images'}:")
        for key, value in metrics.items():
            print(f"  {key:<18} {value:.6g}" if isinstance(value, float) else f"  {key:<18} {value}")
    return 0


def cmd_push(args):
    _require(os.path.isdir(args.dir), f"No checkpoint directory at {args.dir!r}.")
    hub.push_to_hub(args.dir, args.repo_id, revision=args.revision, commit_message=args.message,
                private=args.private or None)
    return 0


# ----------------------------------------------------------------- parser
def build_parser():
    """The `argparse` parser of `genae`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    image_opts = argparse.ArgumentParser(add_help=False)
    image_opts.add_argument("--out", required=True, help="PNG file to write")
    image_opts.add_argument("--scale", type=_positive, default=2, help="pixel upscaling (default 2)")
    image_opts.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    inputs = argparse.ArgumentParser(add_help=False)
    inputs.add_argument("--images", nargs="+", metavar="DIR|FILE",
                        help="image files or folders (default: the sample images shipped for the dataset)")
    inputs.add_argument("--invert", action="store_true", help="invert the images (dark strokes on white)")

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run `genae COMMAND --help` for the options of a command.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", parents=[common], help="list the pretrained checkpoints")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'vae_*'")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("info", parents=[common], help="print a checkpoint's model card")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("reconstruct", parents=[common, image_opts, inputs],
                       help="inputs and their reconstructions, side by side")
    p.add_argument("name")
    p.add_argument("--n", type=_positive, default=None, help="use at most N images")
    p.add_argument("--noise", type=float, default=0.0, help="add Gaussian noise of this std to the inputs")
    p.add_argument("--cols", type=_positive, default=None, help="pairs per row")
    p.set_defaults(func=cmd_reconstruct)
    p = sub.add_parser("sample", parents=[common, image_opts], help="a grid of samples from the prior")
    p.add_argument("name")
    p.add_argument("-n", "--n", type=_positive, default=64, help="number of samples (default 64)")
    p.add_argument("--cols", type=_positive, default=None, help="images per row")
    p.set_defaults(func=cmd_sample)
    p = sub.add_parser("interpolate", parents=[common, image_opts, inputs],
                       help="a strip of images along a latent path")
    p.add_argument("name")
    p.add_argument("--steps", type=_positive, default=10, help="images per strip (default 10)")
    p.add_argument("--rows", type=_positive, default=1, help="number of strips (default 1)")
    p.add_argument("--method", choices=("lerp", "slerp"), default="lerp")
    p.add_argument("--prior", action="store_true", help="between two prior draws instead of two images")
    p.set_defaults(func=cmd_interpolate)
    p = sub.add_parser("train", parents=[common], help="train a recipe (or an architecture) from scratch")
    p.add_argument("recipe", help=f"a recipe ({', '.join(sorted(recipes.RECIPES))}) or an "
                   f"architecture ({', '.join(ARCH_ALIASES)}) with --dataset")
    p.add_argument("--dataset", choices=sorted(samples.SAMPLE_DATASETS), help="with an architecture")
    p.add_argument("--name", help="checkpoint name, with an architecture")
    p.add_argument("--data-dir", help="folder of <dataset>.npz (default: $KERAS_GENAE_DATA, else TFDS)")
    p.add_argument("--out", default="ckpt", help="output folder (default: ckpt)")
    p.add_argument("--epochs", type=_positive, help="override the recipe's epochs")
    p.add_argument("--limit", type=_positive, help="train on the first N images only")
    p.add_argument("--eval-limit", type=_positive, help="evaluate on the first N test images only")
    p.add_argument("--no-resume", action="store_true", help="the same as --restart")
    p.add_argument("--restart", action="store_true",
                   help="delete an interrupted (or damaged) run's state and train from epoch 1")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    p.set_defaults(func=cmd_train)
    cli_finetune.add_parser(sub, [common])
    p = sub.add_parser("evaluate", parents=[common], help="metrics on a test split or on your images")
    p.add_argument("name")
    p.add_argument("--data-dir", help="folder of <dataset>.npz (default: $KERAS_GENAE_DATA, else TFDS)")
    p.add_argument("--dataset", choices=sorted(samples.SAMPLE_DATASETS), help="default: the model's")
    p.add_argument("--images", nargs="+", metavar="DIR|FILE", help="evaluate on these images instead")
    p.add_argument("--invert", action="store_true", help="invert --images")
    p.add_argument("--limit", type=_positive, help="first N test images only")
    p.add_argument("--num-samples", type=int, default=10_000,
                   help="samples for the Frechet distance, 0 to skip (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("push", parents=[common], help="upload a checkpoint directory to the Hub")
    p.add_argument("dir")
    p.add_argument("--repo-id", required=True, help="namespace/name")
    p.add_argument("--revision", help="branch (default main)")
    p.add_argument("--message", help="commit message")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.set_defaults(func=cmd_push)
    return parser


def _one_line(error):
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, KeyError):
        text = f"missing key {text}"
    return text if len(text) <= 600 else text[:597] + "..."


def main(argv=None):
    """Run `genae` with `argv` (default `sys.argv[1:]`); return the exit status.

    Example:
    >>> from keras_genae.cli import main
    >>> main(["sample", "vae_mnist", "-n", "16", "--out", "samples.png"])
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one clear line, not a traceback.
        if args.verbose:
            traceback.print_exc()
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
