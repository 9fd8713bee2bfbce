"""`genae train RECIPE [--data-dir D] [--out ckpt]`: train a zoo recipe
from scratch (or resume it), evaluate it with the zoo's protocol and write
its checkpoint directory. `genae train ALIAS --dataset D` trains a family's
default model (e.g. `genae train vae --dataset mnist`)."""

import dataclasses
import difflib
import os

from keras_genae.cli import common
from keras_genae.cli import quiet
from keras_genae.models import family as families
from keras_genae.utils.run_lock import run_lock
from keras_genae.workflow import train as workflow

# The next step for a trained model, by what it can do (the first that
# applies).
HINTS = (
    ("sample", "genae sample {} --out samples.png"),
    ("reconstruct", "genae reconstruct {} --out reconstructions.png"),
    ("classify", "genae evaluate {}"),
)


def _unknown(name):
    aliases = [f.alias for f in families.list_families()]
    close = difflib.get_close_matches(name, families.list_recipes() + aliases, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"Unknown recipe or family {name!r}.{hint} Recipes: "
                      f"{', '.join(families.list_recipes())}; families: {', '.join(aliases)}.")


def recipe_of(args):
    """The recipe `genae train` runs: a zoo recipe by name, else the
    default recipe of the family with that alias on `--dataset`."""
    if args.recipe in families.list_recipes():
        recipe = families.get_recipe(args.recipe)
        return dataclasses.replace(recipe, epochs=args.epochs or recipe.epochs)
    try:
        family = families.find_family(args.recipe)
    except ValueError:
        raise _unknown(args.recipe) from None
    common.require(args.dataset, f"Training the family {family.alias!r} needs --dataset "
                   f"({', '.join(_datasets())}).")
    return family.custom_recipe(args.dataset, name=args.name, epochs=args.epochs or 10)


def _datasets():
    from keras_genae.data.catalog import DATASETS

    return sorted(DATASETS)


def next_step(model, directory):
    """A command to try with the trained model, or None."""
    return next((hint.format(directory) for capability, hint in HINTS
                 if capability in model.capabilities), None)


def run(args):
    recipe = recipe_of(args)
    print(f"Training {recipe.name} ({recipe.architecture} on {recipe.dataset}, "
          f"{recipe.epochs} epochs); state in {os.path.join(args.out, recipe.name + '.state')}", flush=True)
    quiet.quiet_import("keras_genae.data.datasets")  # tf.data, also on JAX and PyTorch
    with run_lock(args.out, recipe.name):
        model, state = workflow.train(recipe, args.data_dir, args.out, recipe.epochs, args.limit,
                                      resume=not args.no_resume, verbose=2 if args.quiet else 1,
                                      restart=args.restart, prior_only=args.prior_only)
        directory = workflow.finish_checkpoint(model, recipe, state, data_dir=args.data_dir, out=args.out,
                                               eval_limit=args.eval_limit,
                                               print_manifest=args.print_manifest)
    metrics = common.card_metadata(directory).get("metrics", {})
    common.print_metrics(metrics, title=f"Checkpoint: {directory}")
    hint = next_step(model, directory)
    if hint:
        print(f"Try: {hint}")
    return 0
