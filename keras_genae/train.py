"""Train a checkpoint of the zoo from its recipe.

Usage:
    python -m keras_genae.train vqvae_cifar10 --data-dir ../shared/data --out ckpt/

It trains from scratch (or resumes an interrupted run from its last finished
epoch), evaluates on the full test split, writes the checkpoint directory
with `save_pretrained` and prints its manifest entry.
"""

import argparse
import json
import os
import shutil
import sys
import time

import keras

from keras_genae import data as data_lib
from keras_genae.callbacks import EpochCheckpoint
from keras_genae.callbacks import remove_leftovers
from keras_genae.models import get_architecture
from keras_genae.recipes import get_recipe
from keras_genae.utils.run_lock import run_lock


def build_model(recipe, steps_per_epoch):
    """The recipe's model, compiled with its optimizer and schedule."""
    if recipe.architecture == "FeatureClassifier":
        from keras_genae.classifiers import build_classifier

        return build_classifier(recipe, steps_per_epoch)
    cls = get_architecture(recipe.architecture)
    shape = data_lib.DATASETS[recipe.dataset]
    model = cls(image_shape=shape, seed=recipe.seed, **recipe.config)
    if recipe.schedule == "model_default":
        model.compile(**dict(recipe.compile_kwargs))
        return model
    lr = recipe.learning_rate
    if recipe.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            lr, decay_steps=recipe.epochs * steps_per_epoch, alpha=recipe.min_lr_ratio
        )
    model.compile(optimizer=keras.optimizers.Adam(lr), **dict(recipe.compile_kwargs))
    return model


def train(recipe, data_dir=None, out="ckpt", epochs=None, limit=None, resume=True, verbose=1,
          restart=False):
    """Train (or resume) `recipe`. Returns `(model, state)`.

    The run holds the lock `<out>/.<name>.lock` (`keras_genae.utils.
    run_lock`) while it trains, so a second run of the same recipe into the
    same `out` refuses at once with `RunLockedError`; a run that died leaves
    no lock behind. Temporary files a killed run left are deleted first.

    Args:
        recipe: a `Recipe`.
        data_dir: str or None. Folder of `<dataset>.npz`.
        out: str. Output folder; the state is in `<out>/<name>.state`.
        epochs: int or None. Override the recipe's epochs.
        limit: int or None. Train on the first `limit` images only.
        resume: bool. Resume an interrupted run. Defaults to `True`;
            `False` is the same as `restart=True`.
        verbose: int. Keras' verbosity. Defaults to `1`.
        restart: bool. Delete the saved state (also a damaged one) and
            train from the first epoch. Defaults to `False`.

    Example:
    >>> model, state = train(get_recipe("vae_mnist"), out="ckpt", epochs=2)
    """
    with run_lock(out, recipe.name):
        return _train_locked(recipe, data_dir, out, epochs, limit, resume and not restart, verbose)


def _train_locked(recipe, data_dir, out, epochs, limit, resume, verbose):
    state_dir = os.path.join(out, f"{recipe.name}.state")
    remove_leftovers(out)
    remove_leftovers(state_dir)
    if not resume and os.path.isdir(state_dir):
        shutil.rmtree(state_dir)
    keras.utils.set_random_seed(recipe.seed)
    if epochs is not None:
        import dataclasses

        recipe = dataclasses.replace(recipe, epochs=epochs)
    split = "train" if limit is None else f"train[:{limit}]"
    if recipe.architecture == "FeatureClassifier":
        from keras_genae.classifiers import training_data

        train_ds = training_data(recipe, split, data_dir)
    else:
        train_ds = data_lib.load_dataset(
            recipe.dataset,
            split,
            batch_size=recipe.batch_size,
            seed=recipe.seed,
            binarize=recipe.binarize,
            data_dir=data_dir,
        )
    num_examples = int(train_ds.cardinality()) * recipe.batch_size
    model, initial_epoch = EpochCheckpoint.restore(state_dir)
    if model is None:
        model = build_model(recipe, recipe.steps_per_epoch(num_examples))
    elif verbose:
        print(f"Resuming {recipe.name} after epoch {initial_epoch} from {state_dir}")
    checkpoint = EpochCheckpoint(state_dir)
    if initial_epoch < recipe.epochs:
        model.fit(
            train_ds,
            epochs=recipe.epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # the dataset shuffles itself, seeded per epoch
            callbacks=[checkpoint, keras.callbacks.TerminateOnNaN()],
            verbose=verbose,
        )
    return model, checkpoint.state


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keras_genae.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="checkpoint name, e.g. vqvae_cifar10")
    parser.add_argument("--data-dir", default=None, help="folder of <dataset>.npz (default: $KERAS_GENAE_DATA, else TFDS)")
    parser.add_argument("--out", default="ckpt", help="output folder (default: ckpt)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only (smoke runs)")
    parser.add_argument("--eval-limit", type=int, default=None, help="evaluate on the first N test images only")
    parser.add_argument("--no-resume", action="store_true", help="the same as --restart")
    parser.add_argument("--restart", action="store_true",
                        help="delete an interrupted (or damaged) run's state and train from epoch 1")
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    recipe = get_recipe(args.recipe)
    start = time.perf_counter()
    from keras_genae.zoo import finish_checkpoint

    with run_lock(args.out, recipe.name):  # Held until the checkpoint is written.
        model, state = train(recipe, args.data_dir, args.out, args.epochs, args.limit, not args.no_resume,
                             args.verbose, restart=args.restart)
        print(json.dumps({"recipe": recipe.name, "epochs": state["epochs"],
                          "train_seconds": round(state["train_seconds"], 1),
                          "wall_seconds": round(time.perf_counter() - start, 1)}))
        finish_checkpoint(model, recipe, state, data_dir=args.data_dir, out=args.out, eval_limit=args.eval_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
