"""The argparse tree of `genae`: every command and its options.

Building it imports no Keras: each command's module (`keras_genae.cli.
commands.<name>`) is imported only when that command runs.
"""

import argparse
import difflib
import re

from keras_genae.cli.common import fraction
from keras_genae.cli.common import positive_int
from keras_genae.data.catalog import DATASETS

PROG = "genae"
COMMANDS = ("list", "info", "reconstruct", "sample", "interpolate", "export", "train", "finetune",
            "evaluate", "push")
#: The formats `genae export` writes (`keras_genae.export.FORMATS` has them all).
EXPORT_FORMATS = ("tf_saved_model", "onnx", "litert")
DESCRIPTION = """\
    genae list [PATTERN]                      checkpoints, dataset, size, key metric
    genae info NAME                           the model card
    genae reconstruct NAME [--images DIR|FILES] [--n N] --out grid.png
    genae sample NAME [-n 64] [--seed S] [--label K] [--temperature T] [--guidance G] --out grid.png
    genae interpolate NAME [--steps 10] [--method slerp] --out strip.png
    genae export NAME --format {tf_saved_model,onnx,litert} --out DIR [--endpoints ...]
    genae train RECIPE [--data-dir D] [--out ckpt]   (or: genae train vae --dataset mnist)
    genae finetune NAME --images DIR --out DIR [--epochs N] [--val-split F]
    genae evaluate NAME [--data-dir D] [--limit N] [--probe is_nll]
    genae push DIR --repo-id namespace/name

NAME is anything `keras_genae.load` takes: a checkpoint name from `genae
list`, `hf://namespace/name[@revision]`, a checkpoint directory or a
`.keras` file. Images are PNGs. Errors print one line on stderr and exit
with status 1; `--verbose` shows the traceback.
"""
DATA_DIR_HELP = "folder of <dataset>.npz (default: $KERAS_GENAE_DATA, else TFDS)"


class UsageError(Exception):
    """A bad command line: `main` prints it as one line and exits with 1."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (`UsageError`), with
    close matches for a misspelt choice; `--help` still prints the help."""

    def error(self, message):
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = difflib.get_close_matches(match.group(1), choices, n=3)
            if close:
                message += f". Did you mean {' or '.join(repr(c) for c in close)}?"
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser():
    """The `argparse` parser of `genae`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    image_opts = argparse.ArgumentParser(add_help=False)
    image_opts.add_argument("--out", required=True, help="PNG file to write")
    image_opts.add_argument("--scale", type=positive_int, default=2, help="pixel upscaling (default 2)")
    image_opts.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    inputs = argparse.ArgumentParser(add_help=False)
    inputs.add_argument("--images", nargs="+", metavar="DIR|FILE",
                        help="image files or folders (default: the sample images shipped for the dataset)")
    inputs.add_argument("--invert", action="store_true", help="invert the images (dark strokes on white)")

    parser = Parser(prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="Run `genae COMMAND --help` for the options of a command.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, help, parents=()):
        return sub.add_parser(name, parents=[common, *parents], help=help)

    p = command("list", "list the pretrained checkpoints")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'vae_*'")
    p = command("info", "print a checkpoint's model card")
    p.add_argument("name")

    p = command("reconstruct", "inputs and their reconstructions, side by side", [image_opts, inputs])
    p.add_argument("name")
    p.add_argument("--n", type=positive_int, default=None, help="use at most N images")
    p.add_argument("--noise", type=float, default=0.0, help="add Gaussian noise of this std to the inputs")
    p.add_argument("--cols", type=positive_int, default=None, help="pairs per row")
    p = command("sample", "a grid of samples from the prior", [image_opts])
    p.add_argument("name")
    p.add_argument("-n", "--n", type=positive_int, default=64, help="number of samples (default 64)")
    p.add_argument("--cols", type=positive_int, default=None, help="images per row")
    p.add_argument("--label", type=int, default=None,
                   help="the class to sample (class-conditional models: the zoo VQ-VAEs, DCGANs "
                        "and aae_mnist)")
    p.add_argument("--temperature", type=float, default=None,
                   help="divide the prior's logits by T: below 1, likelier and less varied samples "
                        "(autoregressive priors: the zoo VQ-VAEs; default 1)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale of a class-conditional autoregressive "
                        "prior (the zoo VQ-VAEs; default: the prior's own, 0)")
    p = command("interpolate", "a strip of images along a latent path", [image_opts, inputs])
    p.add_argument("name")
    p.add_argument("--steps", type=positive_int, default=10, help="images per strip (default 10)")
    p.add_argument("--rows", type=positive_int, default=1, help="number of strips (default 1)")
    p.add_argument("--method", choices=("lerp", "slerp"), default="lerp")
    p.add_argument("--prior", action="store_true", help="between two prior draws instead of two images")

    p = command("export", "export for deployment: SavedModel, ONNX or LiteRT, with named endpoints")
    p.add_argument("name")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                   help="tf_saved_model (TensorFlow or JAX backend), onnx (every backend; JAX "
                        "needs jax2onnx), litert (TensorFlow or PyTorch backend)")
    p.add_argument("--out", required=True, help="directory to write (must not exist)")
    p.add_argument("--endpoints", nargs="+", metavar="ENDPOINT",
                   help="some of serve, reconstruct, encode, decode, sample (noise in: the draw "
                        "happens outside the graph), classify, features (default: all the model has)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="a fixed batch axis (default: any batch size)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    p = command("train", "train a zoo recipe (or a family's default model) from scratch")
    p.add_argument("recipe", help="a zoo recipe (e.g. vae_mnist) or a family alias (e.g. vae) with --dataset")
    p.add_argument("--dataset", choices=sorted(DATASETS), help="with a family alias")
    p.add_argument("--name", help="checkpoint name, with a family alias")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--out", default="ckpt", help="output folder (default: ckpt)")
    p.add_argument("--epochs", type=positive_int, help="override the recipe's epochs")
    p.add_argument("--limit", type=positive_int, help="train on the first N images only")
    p.add_argument("--eval-limit", type=positive_int, help="evaluate on the first N test images only")
    p.add_argument("--no-resume", action="store_true", help="the same as --restart")
    p.add_argument("--restart", action="store_true",
                   help="delete an interrupted (or damaged) run's state and train from epoch 1")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    p.add_argument("--print-manifest", action="store_true", help="also print the manifest entry (JSON)")
    p.add_argument("--prior-only", action="store_true",
                   help="a recipe with a prior stage: train the prior on the shipped checkpoint's "
                        "frozen autoencoder, skipping the first stage")

    p = command("finetune", "fine-tune a checkpoint on a folder of your images")
    p.add_argument("name", help="a checkpoint name, hf:// handle, checkpoint directory or .keras file")
    p.add_argument("--images", required=True, nargs="+", metavar="DIR|FILE",
                   help="image files or folders (PNG, JPEG, BMP, GIF, WebP), searched recursively")
    p.add_argument("--out", required=True, help="checkpoint directory to write (must not exist)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs (default: enough for the checkpoint's default number of steps)")
    p.add_argument("--val-split", type=fraction, default=0.1,
                   help="share of the images held out for validation (default 0.1)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="batch size (default: the checkpoint's fine-tuning batch size)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the shuffling (default 0)")
    p.add_argument("--invert", action="store_true", help="invert the images (dark strokes on white)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("evaluate", "metrics on a test split or on your images")
    p.add_argument("name")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--dataset", choices=sorted(DATASETS), help="default: the model's")
    p.add_argument("--images", nargs="+", metavar="DIR|FILE", help="evaluate on these images instead")
    p.add_argument("--invert", action="store_true", help="invert --images")
    p.add_argument("--limit", type=positive_int, help="first N test images only")
    p.add_argument("--num-samples", type=int, default=10_000,
                   help="samples for the Frechet distance, 0 to skip (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed, outside the zoo's protocol (default 0)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--probe", action="append", default=[], metavar="PROBE",
                   help="also run this probe (e.g. is_nll: the VAEs' importance-sampled NLL, "
                        "K=1000; slow); repeatable")

    p = command("push", "upload a checkpoint directory to the Hub")
    p.add_argument("dir")
    p.add_argument("--repo-id", required=True, help="namespace/name")
    p.add_argument("--revision", help="branch (default main)")
    p.add_argument("--message", help="commit message")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--print-manifest", action="store_true", help="also print the manifest entry (JSON)")
    return parser
