"""Train a checkpoint of the zoo from its recipe (`genae train NAME`).

`train` trains a `keras_genae.models.family.Recipe` from scratch, or resumes
an interrupted run from its last finished epoch; `finish_checkpoint`
evaluates the model with the zoo's protocol (`keras_genae.evaluation.
evaluate_recipe`) and writes the checkpoint directory with its model card.
"""

import dataclasses
import json
import os
import shutil
from pathlib import Path

import keras

from keras_genae.callbacks import EpochCheckpoint
from keras_genae.callbacks import remove_leftovers
from keras_genae.data import catalog
from keras_genae.models.base import GenerativeModel
from keras_genae.models.family import get_family
from keras_genae.utils.run_lock import run_lock

#: Hub location of the zoo: `<HUB_NAMESPACE>/<name>` at the tag of the release.
HUB_NAMESPACE = "keras-genae"


def train(recipe, data_dir=None, out="ckpt", epochs=None, limit=None, resume=True, verbose=1,
          restart=False, prior_only=False):
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
        prior_only: bool. For a recipe with a `prior_stage`: start the
            prior stage from the shipped checkpoint's autoencoder (the
            weights `keras_genae.load(recipe.name)` verifies), instead of
            training the autoencoder first. Defaults to `False`.

    A recipe with a `prior_stage` then trains its model's prior alone, on
    the codes of the frozen autoencoder, for `prior_stage.epochs` more
    epochs (numbered after the first stage's, and resumed the same way).

    Example:
    >>> from keras_genae.models.family import get_recipe
    >>> model, state = train(get_recipe("vae_mnist"), out="ckpt", epochs=2)
    """
    with run_lock(out, recipe.name):
        return _train_locked(recipe, data_dir, out, epochs, limit, resume and not restart, verbose,
                             prior_only)


def _train_locked(recipe, data_dir, out, epochs, limit, resume, verbose, prior_only=False):
    state_dir = os.path.join(out, f"{recipe.name}.state")
    remove_leftovers(out)
    remove_leftovers(state_dir)
    if not resume and os.path.isdir(state_dir):
        shutil.rmtree(state_dir)
    keras.utils.set_random_seed(recipe.seed)
    if epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=epochs)
    split = "train" if limit is None else f"train[:{limit}]"
    train_ds = recipe.train_data(split, data_dir)
    num_examples = int(train_ds.cardinality()) * recipe.batch_size
    if prior_only and recipe.prior_stage is None:
        raise ValueError(f"Recipe {recipe.name!r} has no prior stage; `prior_only` needs one.")
    model, initial_epoch = EpochCheckpoint.restore(state_dir)
    if model is None:
        model = recipe.build_model(recipe.steps_per_epoch(num_examples))
        if prior_only:
            model.copy_autoencoder_weights(_shipped(recipe.name))
            initial_epoch = recipe.epochs
    elif verbose:
        print(f"Resuming {recipe.name} after epoch {initial_epoch} from {state_dir}")
    checkpoint = EpochCheckpoint(state_dir)
    callbacks = [checkpoint, keras.callbacks.TerminateOnNaN()]
    if initial_epoch < recipe.epochs:
        model.fit(
            train_ds,
            epochs=recipe.epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # the dataset shuffles itself, seeded per epoch
            callbacks=callbacks,
            verbose=verbose,
        )
    stage = recipe.prior_stage
    if stage is not None and max(initial_epoch, recipe.epochs) < recipe.total_epochs:
        prior_ds = recipe.train_data(split, data_dir, batch_size=stage.batch_size)
        if model.autoencoder_trainable:  # not resumed inside the stage
            steps = int(prior_ds.cardinality())
            model = recipe.start_prior_stage(model, steps)
        model.fit(prior_ds, epochs=recipe.total_epochs, initial_epoch=max(initial_epoch, recipe.epochs),
                  shuffle=False, callbacks=callbacks, verbose=verbose)
    if stage is not None:
        model.autoencoder_trainable = True  # what `fit` of the shipped model trains
    if isinstance(model, GenerativeModel):  # not a FeatureClassifier
        model.finish_training(train_ds)
    state = checkpoint.state
    if prior_only:  # the first stage's time, as the shipped checkpoint records it
        from keras_genae.hub.manifest import model_info

        metrics = model_info(recipe.name).get("metrics") or {}
        minutes = metrics.get("first_stage_train_minutes", metrics.get("train_minutes", 0.0))
        state["first_stage_seconds"] = 60.0 * float(minutes)
    return model, state


def _shipped(name):
    """The shipped checkpoint `name` (verified against the manifest by `load`)."""
    from keras_genae.hub.api import load

    return load(name, compile=False)


def card_fields(recipe, metrics):
    """The model-card fields of a zoo checkpoint (`save_pretrained`'s
    `**card_fields`)."""
    settings = recipe.finetuning_settings()
    return dict(
        finetuning=settings.to_dict() if settings is not None else None,
        name=recipe.name,
        description=recipe.description,
        dataset=recipe.dataset,
        data_license=catalog.DATASETS[recipe.dataset].license,
        preprocessing=catalog.PREPROCESSING[recipe.binarize],
        metrics=metrics,
        repo_id=f"{HUB_NAMESPACE}/{recipe.name}",
        load_handle=recipe.name,
        references=list(get_family(recipe.architecture).references),
        license="Apache-2.0",
    )


def finish_checkpoint(model, recipe, state, data_dir=None, out="ckpt", eval_limit=None,
                      print_manifest=False):
    """Evaluate a trained model with the zoo's protocol and write
    `<out>/<name>` with `save_pretrained`. Returns the checkpoint directory.

    Args:
        model: the trained model.
        recipe: its `Recipe`.
        state: dict. `train`'s state (`train_seconds`, `epochs`).
        data_dir: str or None. See `keras_genae.data.load_dataset`.
        out: str. Output folder. Defaults to `"ckpt"`.
        eval_limit: int or None. Evaluate on the first N test images only.
        print_manifest: bool. Print the checkpoint's manifest entry (JSON).
            Defaults to `False`.
    """
    from keras_genae.evaluation import evaluate_recipe
    from keras_genae.hub.api import save_pretrained

    metrics = evaluate_recipe(model, recipe, data_dir, eval_limit)
    seconds = state.get("train_seconds", 0.0) + state.get("first_stage_seconds", 0.0)
    metrics["train_minutes"] = round(seconds / 60.0, 1)
    if "first_stage_seconds" in state:  # a prior stage trained on a shipped autoencoder
        metrics["first_stage_train_minutes"] = round(state["first_stage_seconds"] / 60.0, 1)
    metrics["epochs"] = float(state.get("epochs", 0))
    directory = Path(out) / recipe.name
    save_pretrained(model, directory, overwrite=True, verbose=False, print_manifest=print_manifest,
                    **card_fields(recipe, metrics))
    return directory
