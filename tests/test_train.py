"""The recipe runner: training, per-epoch checkpoints, resuming, finishing."""

import dataclasses
import json
import os

import numpy as np
import pytest

from keras_genae.models import family as recipes
from keras_genae.workflow import train as train_lib
from keras_genae.callbacks import EpochCheckpoint
from keras_genae.models import LOADABLE_MODELS
from tests.helpers import TINY_CONFIGS
from tests.helpers import write_npz_dir


def tiny_recipe(name="ae_mnist", **changes):
    recipe = recipes.get_recipe(name)
    config = dict(recipe.config)
    config.update(TINY_CONFIGS[recipe.architecture])
    return dataclasses.replace(recipe, config=config, batch_size=64, **changes)


def test_every_recipe_names_a_registered_architecture_and_builds():
    for name in recipes.list_recipes():
        recipe = recipes.get_recipe(name)
        assert recipe.name == name
        assert recipe.architecture in LOADABLE_MODELS
        assert recipes.get_family(recipe.architecture).recipes.count(recipe) == 1
        model = recipe.build_model(steps_per_epoch=10)
        assert model.compiled and model.count_params() > 0


def test_unknown_recipe_suggests_close_names():
    with pytest.raises(ValueError, match="Did you mean 'vqvae_cifar10'"):
        recipes.get_recipe("vqvae_cifar1")


def test_train_checkpoints_each_epoch_and_resumes(tmp_path):
    data_dir = write_npz_dir(tmp_path / "data")
    out = str(tmp_path / "out")
    recipe = tiny_recipe(epochs=1)
    model, state = train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    state_dir = os.path.join(out, "ae_mnist.state")
    assert state["epochs"] == 1 and os.path.exists(os.path.join(state_dir, "last.keras"))
    saved = json.load(open(os.path.join(state_dir, "state.json")))
    assert len(saved["history"]["loss"]) == 1
    # "Interrupt" after epoch 1, then ask for 3 epochs: it resumes at epoch 2
    # with the optimizer state of the saved run.
    restored, finished = EpochCheckpoint.restore(state_dir)
    assert finished == 1
    assert int(restored.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) > 0
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model2, state2 = train_lib.train(dataclasses.replace(recipe, epochs=3), data_dir=data_dir, out=out, verbose=0)
    assert state2["epochs"] == 3
    assert len(state2["history"]["loss"]) == 3
    assert int(model2.optimizer.iterations.numpy()) == 3 * int(model.optimizer.iterations.numpy())
    # A finished run is not retrained.
    _, state3 = train_lib.train(dataclasses.replace(recipe, epochs=3), data_dir=data_dir, out=out, verbose=0)
    assert state3["history"] == state2["history"]


def test_interrupted_save_leaves_previous_epoch_intact(tmp_path, monkeypatch):
    data_dir = write_npz_dir(tmp_path / "data")
    out = str(tmp_path / "out")
    recipe = tiny_recipe(epochs=1)
    train_lib.train(recipe, data_dir=data_dir, out=out, verbose=0)
    state_dir = os.path.join(out, "ae_mnist.state")
    before = open(os.path.join(state_dir, "last.keras"), "rb").read()

    import keras

    def crash(self, *args, **kwargs):
        raise KeyboardInterrupt("power cut during save")

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train(dataclasses.replace(recipe, epochs=2), data_dir=data_dir, out=out, verbose=0)
    monkeypatch.undo()
    assert open(os.path.join(state_dir, "last.keras"), "rb").read() == before
    assert sorted(os.listdir(state_dir)) == ["last.keras", "state.json"]  # no partial files
    _, finished = EpochCheckpoint.restore(state_dir)
    assert finished == 1


def test_family_registry_refuses_clashes_and_names_close_families():
    family = recipes.get_family("VAE")
    with pytest.raises(ValueError, match="reuses registered names"):
        recipes.register_family(family)
    with pytest.raises(ValueError, match="Did you mean 'vqvae'"):
        recipes.find_family("vqvea")
    assert recipes.find_family("VAE") is family and recipes.find_family("vae") is family
    # A subclass belongs to its parent's family; an unknown class to none.
    from keras_genae.models import VAE

    class MyVAE(VAE):
        pass

    assert recipes.get_family(MyVAE) is family
    assert recipes.get_family("NoSuchNet", default=None) is None
    with pytest.raises(ValueError, match="Unknown architecture 'NoSuchNet'"):
        recipes.get_family("NoSuchNet")


def test_a_new_family_is_its_folder_plus_one_registration(monkeypatch, tmp_path):
    """What a contributor's family folder declares is all that the recipe
    runner, the evaluator, the model card and `genae train ALIAS` need."""
    import keras

    from keras_genae.evaluation import default_probes
    from keras_genae.hub.model_card import model_card
    from keras_genae.models import VAE
    from keras_genae.models import registry

    @keras.saving.register_keras_serializable(package="keras_genae_test")
    class TinyBetaVAE(VAE):  # what <family>/<name>.py would hold
        pass

    for table in (registry.ARCHITECTURES, registry.LOADABLE_MODELS):
        monkeypatch.setitem(table, "TinyBetaVAE", TinyBetaVAE)
    monkeypatch.setattr(recipes, "_FAMILIES", dict(recipes._FAMILIES))
    monkeypatch.setattr(recipes, "_RECIPES", dict(recipes._RECIPES))
    family = recipes.register_family(recipes.Family(  # what <family>/presets.py would hold
        alias="betavae", architecture="TinyBetaVAE", probes=("reconstruction", "likelihood"),
        key_metrics=("neg_elbo", "psnr"), test_config=dict(latent_dim=2, encoder_filters=(4,)),
        recipes=(recipes.Recipe(name="betavae_mnist", architecture="TinyBetaVAE", dataset="mnist",
                                config=dict(latent_dim=2, encoder_filters=(4,)), epochs=1,
                                floor=("neg_elbo", "<=", 1e9)),),
    ))
    recipe = recipes.get_recipe("betavae_mnist")
    model = recipe.build_model(steps_per_epoch=2)
    assert isinstance(model, TinyBetaVAE) and model.compiled
    assert recipes.get_family(model) is family and default_probes(model) == ("reconstruction", "likelihood")
    custom = recipes.find_family("betavae").custom_recipe("fashion_mnist", epochs=2)
    assert (custom.name, custom.architecture, custom.epochs) == ("my_betavae_fashion_mnist", "TinyBetaVAE", 2)
    from keras_genae.hub.api import BUNDLED_CHECKPOINTS_DIR

    metadata = json.loads((BUNDLED_CHECKPOINTS_DIR / "vae_mnist" / "metadata.json").read_text())
    metadata.update(name="betavae_mnist", architecture="TinyBetaVAE")
    card = model_card(metadata)
    assert "keras_genae `TinyBetaVAE`" in card and "model.reconstruct(images)" in card


def test_every_family_probe_and_key_metric_is_known():
    from keras_genae.evaluation.probes import PROBES

    for family in recipes.list_families():
        assert family.probes and set(family.probes + family.optional_probes) <= set(PROBES), family.alias
        assert family.key_metrics, family.alias
        for recipe in family.recipes:
            if recipe.floor:
                assert recipe.floor[0] in family.key_metrics, recipe.name


def test_finish_checkpoint_evaluates_and_writes_a_loadable_checkpoint(tmp_path, capsys):
    import keras_genae

    data_dir = write_npz_dir(tmp_path / "data")
    out = tmp_path / "out"
    recipe = tiny_recipe(epochs=1)
    model, state = train_lib.train(recipe, data_dir=data_dir, out=str(out), verbose=0)
    directory = train_lib.finish_checkpoint(model, recipe, state, data_dir=data_dir, out=str(out))
    assert '"sha256"' not in capsys.readouterr().out  # no manifest JSON unless asked
    ckpt = out / "ae_mnist"
    assert directory == ckpt
    assert sorted(os.listdir(ckpt)) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    meta = json.load(open(ckpt / "metadata.json"))
    assert 0 < meta["metrics"]["psnr"] < 60 and meta["metrics"]["num_images"] == 64
    model = keras_genae.load(str(ckpt))
    assert model.compiled
    assert "psnr" in (ckpt / "README.md").read_text()


def test_training_an_aae_recipe_fits_its_code_density(tmp_path):
    import keras

    data_dir = write_npz_dir(tmp_path / "data")
    recipe = tiny_recipe("aae_mnist", epochs=1)
    assert recipe.config["ex_post_density"]
    model, _ = train_lib.train(recipe, data_dir=data_dir, out=str(tmp_path / "out"), verbose=0)
    assert model.code_density.is_fitted  # after the last epoch, on the train split
    with np.load(os.path.join(data_dir, "mnist.npz")) as d:
        x, y = d["x_train"].astype("float32")[..., None] / 255.0, d["y_train"]
    codes = keras.ops.convert_to_numpy(model.encode(x))[:, :model.latent_dim]
    means = keras.ops.convert_to_numpy(model.code_density.means)
    np.testing.assert_allclose(means[3], codes[y == 3].mean(axis=0), atol=1e-4)
    assert tuple(model.sample(4, seed=0, labels=3).shape) == (4, 28, 28, 1)
