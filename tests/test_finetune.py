"""Fine-tuning: `load` compiles pretrained models with their fine-tuning
settings, `fit` logs `psnr` and `val_psnr`, fine-tuning the shipped
checkpoints on another domain does not lower held-out PSNR, and `genae
finetune` works and refuses bad input before training."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

import keras_genae
from keras_genae.hub import checkpoint_reader as checkpoint
from keras_genae.models import family as recipes
from keras_genae.hub import manifest
from keras_genae.cli import main
from keras_genae.workflow.finetune import finetune
from keras_genae.workflow.finetune import reconstruction_psnr
from keras_genae.workflow.finetune import split_validation
from keras_genae.models import ARCHITECTURES
from keras_genae.models.finetuning import FineTuning
from keras_genae.utils import run_lock
from tests.helpers import DATA_DIR
from tests.helpers import LOCK_HOLDER
from tests.helpers import load_test_images
from tests.helpers import tiny_model

RECONSTRUCTION_FAMILIES = sorted(n for n, cls in ARCHITECTURES.items() if cls.reports_psnr)
#: Shipped reconstruction checkpoint -> the other domain it is fine-tuned on.
TRANSFER = {
    "ae_mnist": "fashion_mnist",
    "dae_mnist": "fashion_mnist",
    "vae_mnist": "fashion_mnist",
    "vqvae_mnist": "fashion_mnist",
    "vqvae_fashion_mnist": "mnist",
    "vae_cifar10": "natural",
    "vqvae_cifar10": "natural",
}


def learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def domain_images(domain):
    """(train, held_out) real images of another domain: 256 and 64."""
    if domain == "natural":  # 32x32 crops of scikit-image's photos (benchmarks/transfer.py)
        with np.load(os.path.join(DATA_DIR, "natural_32_320.npz")) as d:
            x, part = d["x"].astype("float32") / 255.0, d["part"]
        return x[part == 0], x[part == 1]
    x, _ = load_test_images(domain, 320)
    return x[:256], x[256:]


# --------------------------------------------------------------- settings
def test_every_shipped_checkpoint_states_its_finetuning_settings():
    for name in manifest.list_models():
        recipe = recipes.get_recipe(name)
        settings = recipe.finetuning_settings()
        info = keras_genae.model_info(name)
        if settings is None:  # the evaluation classifiers
            assert "finetuning" not in info
            continue
        assert FineTuning.from_dict(info["finetuning"]) == settings
        card = (keras_genae.hub.BUNDLED_CHECKPOINTS_DIR / name / "README.md").read_text()
        assert "## Fine-tuning" in card
        rates = settings.phase_learning_rates or (("", settings.learning_rate),)
        assert all(f"{lr:g}" in card for _, lr in rates)


@pytest.mark.parametrize("name", ["vqvae_cifar10", "vae_mnist"])
def test_load_compiles_with_the_recipe_finetuning_rate(name):
    model = keras_genae.load(name)
    settings = recipes.get_recipe(name).finetuning_settings()
    assert model.finetuning == settings
    assert learning_rate(model.optimizer) == pytest.approx(settings.learning_rate)
    assert settings.learning_rate < 1e-3  # not the from-scratch rate


def test_load_compiles_each_phase_of_a_multi_optimizer_model():
    model = keras_genae.load("aae_mnist")
    rates = model.finetuning.learning_rates(model)
    assert set(rates) == {"ae_optimizer", "d_optimizer", "g_optimizer"}
    for name, lr in rates.items():
        assert learning_rate(getattr(model, name)) == pytest.approx(lr)
    assert model.d_optimizer.beta_1 == 0.5  # the phase's own hyperparameters stay


def test_pretrained_false_and_compile_false_and_user_compile():
    fresh = keras_genae.load("ae_mnist", pretrained=False)
    assert fresh.finetuning is None
    assert learning_rate(fresh.optimizer) == pytest.approx(1e-3)
    assert not keras_genae.load("ae_mnist", compile=False).compiled
    model = keras_genae.load("ae_mnist")
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    x, _ = load_test_images("fashion_mnist", 64)
    before = [np.array(v) for v in model.trainable_variables]
    model.fit(x, epochs=1, batch_size=64, verbose=0)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert learning_rate(model.optimizer) == pytest.approx(0.05)
    assert int(model.optimizer.iterations.numpy()) == 1
    assert any(not np.array_equal(a, np.array(b)) for a, b in zip(before, model.trainable_variables))


def test_finetuning_settings_round_trip_and_errors(tmp_path):
    settings = FineTuning(learning_rate=3e-5, phase_learning_rates=(("d_optimizer", 1e-5),), steps=10)
    assert FineTuning.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    with pytest.raises(ValueError, match="must be a number in \\(0, 1\\)"):
        FineTuning(learning_rate=0)
    with pytest.raises(ValueError, match="`steps` must be a positive integer"):
        FineTuning(steps=0)
    with pytest.raises(ValueError, match="take the keys"):
        FineTuning.from_dict({"learning_rate": 1e-4, "momentum": 0.9})
    with pytest.raises(ValueError, match="has the optimizers"):
        FineTuning(phase_learning_rates=(("g_optimizer", 1e-4),)).compile(tiny_model(ARCHITECTURES["VAE"]))
    # A saved checkpoint keeps the settings it was loaded with, and load() reuses them.
    model = tiny_model(ARCHITECTURES["Autoencoder"])
    model.finetuning = FineTuning(learning_rate=2e-5)
    keras_genae.save_pretrained(model, tmp_path / "ckpt", verbose=False)
    meta = json.loads((tmp_path / "ckpt" / checkpoint.METADATA_FILE).read_text())
    assert meta["finetuning"]["learning_rate"] == 2e-5
    assert "## Fine-tuning" in (tmp_path / "ckpt" / "README.md").read_text()
    reloaded = keras_genae.load(str(tmp_path / "ckpt"))
    assert learning_rate(reloaded.optimizer) == pytest.approx(2e-5)
    meta["finetuning"] = {"learning_rate": "fast"}
    (tmp_path / "ckpt" / checkpoint.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="malformed fine-tuning settings"):
        keras_genae.load(str(tmp_path / "ckpt"))


def test_manifest_rejects_malformed_finetuning():
    entry = dict(keras_genae.model_info("ae_mnist"))
    entry.pop("name")
    entry["finetuning"] = {"learning_rate": 5.0}
    with pytest.raises(ValueError, match="finetuning"):
        manifest.validate_entry("ae_mnist", entry)


# ------------------------------------------------------------ psnr in logs
@pytest.mark.parametrize("family", RECONSTRUCTION_FAMILIES)
def test_fit_logs_psnr_and_val_psnr(family):
    x, _ = load_test_images("mnist", 96)
    model = tiny_model(ARCHITECTURES[family])
    model.compile()
    history = model.fit(x[:64], validation_data=x[64:], epochs=1, batch_size=32, verbose=0).history
    assert {"psnr", "val_psnr"} <= set(history)
    assert 0 < history["psnr"][0] < 100 and 0 < history["val_psnr"][0] < 100
    # val_psnr is the PSNR of `reconstruct` (one validation batch: the same mean).
    val = model.evaluate(x[64:], batch_size=32, verbose=0, return_dict=True)
    assert val["psnr"] == pytest.approx(reconstruction_psnr(model, x[64:]), abs=1e-3)


def test_gan_logs_no_psnr():
    assert not ARCHITECTURES["DCGAN"].reports_psnr
    with pytest.raises(ValueError, match="does not reconstruct"):
        finetune(tiny_model(ARCHITECTURES["DCGAN"]), np.zeros((4, 28, 28, 1), "float32"))


# ------------------------------------------------ fine-tuning helps (golden)
#: Shipped checkpoints whose golden fine-tuning run is slow-only: each
#: family keeps one in the default run (vqvae_cifar10, the checkpoint that
#: fell by several dB at the old rate; vae_mnist; dae_mnist, whose recipe
#: trains on noisy inputs like ae_mnist's plain autoencoder does on clean ones).
SLOW_TRANSFER = {"ae_mnist", "vqvae_mnist", "vqvae_fashion_mnist", "vae_cifar10"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW_TRANSFER else []) for n in sorted(TRANSFER)]
)
def test_finetuning_with_the_defaults_does_not_lower_heldout_psnr(name):
    """The default settings alone (no best-epoch selection), on 256 real
    images of another domain: held-out PSNR must not fall. At the old
    from-scratch rate (Adam 1e-3) vqvae_cifar10 fell by several dB."""
    train, held_out = domain_images(TRANSFER[name])
    model = keras_genae.load(name)
    before = reconstruction_psnr(model, held_out)
    report = finetune(model, train, steps=48, keep_best=False, seed=0)
    after = reconstruction_psnr(model, held_out)
    assert report.steps >= 48
    assert after >= before - 0.05, (name, before, after)


def test_finetune_keeps_the_best_epoch_and_never_ends_worse_on_validation():
    val, _ = domain_images("fashion_mnist")
    noise = np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32")
    model = keras_genae.load("vqvae_mnist")
    # Training on noise at a high rate makes every epoch worse on the real
    # validation images, so the pretrained weights (codebook included) are kept.
    FineTuning(learning_rate=3e-3).compile(model)
    start = [np.array(w) for w in model.get_weights()]
    report = finetune(model, noise, val_images=val[:32], epochs=2, seed=0)
    assert report.best_epoch == 0
    assert report.psnr_after == report.psnr_before
    assert max(report.history["val_psnr"]) < report.psnr_before
    for a, b in zip(start, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_split_validation():
    x = np.arange(20, dtype="float32").reshape(20, 1, 1, 1)
    train, val = split_validation(x, 0.25, seed=1)
    assert len(train) == 15 and len(val) == 5
    assert sorted(np.concatenate([train, val]).ravel()) == list(range(20))
    with pytest.raises(ValueError, match="at least 2 images"):
        split_validation(x[:1])
    with pytest.raises(ValueError, match="`val_split` must be a number in"):
        split_validation(x, 1.5)


# ---------------------------------------------------------- genae finetune
def write_pngs(folder, images):
    os.makedirs(folder, exist_ok=True)
    for i, img in enumerate(images):
        array = np.round(img[..., 0] * 255).astype(np.uint8)
        Image.fromarray(array).save(os.path.join(folder, f"{i:03d}.png"))
    return str(folder)


def test_genae_finetune_end_to_end(tmp_path, capsys):
    x, _ = load_test_images("fashion_mnist", 40)
    folder = write_pngs(tmp_path / "imgs", x)
    out = str(tmp_path / "my_ae")
    assert main(["finetune", "ae_mnist", "--images", folder, "--out", out, "--epochs", "2",
                 "--val-split", "0.2", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "on 32 images (8 held out for validation)" in text
    assert "Held-out PSNR on 8 validation images:" in text and "dB before" in text
    model = keras_genae.load(out)
    assert model.finetuning == keras_genae.load("ae_mnist").finetuning
    meta = json.loads((tmp_path / "my_ae" / "metadata.json").read_text())
    assert meta["metrics"]["val_psnr"] >= meta["metrics"]["val_psnr_before"]


def test_genae_finetune_refuses_bad_input_before_training(tmp_path, capsys):
    x, _ = load_test_images("mnist", 4)
    good = write_pngs(tmp_path / "good", x)
    os.makedirs(tmp_path / "empty")
    small = tmp_path / "small"
    os.makedirs(small)
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(small / "tiny.png")
    (tmp_path / "exists").mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "bad.png").write_bytes(b"not a png at all")
    cases = [
        (["ae_mnist", "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "o1")], "No image files"),
        (["ae_mnist", "--images", str(small), "--out", str(tmp_path / "o2")], "is 12x10 pixels, smaller than"),
        (["ae_mnist", "--images", good, "--out", str(tmp_path / "exists")], "already exists"),
        (["dcgan_mnist", "--images", good, "--out", str(tmp_path / "o3")], "does not reconstruct"),
        (["ae_mnist", "--images", str(corrupt), "--out", str(tmp_path / "o5")], "bad.png"),
        (["ae_mnist", "--images", good, "--out", str(tmp_path / "o4"), "--val-split", "1.5"],
         "argument --val-split: must be a number between 0 and 1"),  # a usage error: one line too
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(["finetune"] + argv) == 1
        captured = capsys.readouterr()
        assert message in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
        assert "Fine-tuning" not in captured.out  # nothing trained
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 6))


def test_genae_finetune_refuses_an_out_another_run_is_writing(tmp_path, capsys):
    x, _ = load_test_images("fashion_mnist", 8)
    folder = write_pngs(tmp_path / "imgs", x)
    out = tmp_path / "busy"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, run_lock.__file__, str(tmp_path), "busy"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["finetune", "ae_mnist", "--images", folder, "--out", str(out), "--epochs", "1"]) == 1
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        holder.stdout.close()
