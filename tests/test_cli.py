"""The `genae` command line: every subcommand, in-process through
`keras_genae.cli.main`, against tiny checkpoints built here (by directory,
and by name through a temporary manifest and an offline Hub cache)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_genae.hub.manifest_writer import manifest_entry_from_checkpoint
from keras_genae.cli import main
from keras_genae.hub import save_pretrained
from keras_genae.models import DCGAN
from keras_genae.models import VAE
from keras_genae.models import VQVAE
from keras_genae.models import DenoisingAutoencoder
from tests.helpers import tiny_model
from tests.helpers import write_npz_dir

ROOT = Path(__file__).resolve().parents[1]
REVISION = "v0.1.0"
COMMIT = "c" * 40


def grid_size(n, ncols, h, w, scale=2, padding=2):
    """(width, height) of a `make_grid` PNG."""
    ncols = min(ncols, n)
    rows = -(-n // ncols)
    return ncols * (w * scale + padding) + padding, rows * (h * scale + padding) + padding


def png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Tiny checkpoints as directories, and as manifest names served from
    an offline Hugging Face cache (the way `load(name)` finds a download)."""
    root = tmp_path_factory.mktemp("zoo")
    specs = {
        "tiny_vae": (VAE, "mnist"),
        "tiny_vqvae": (VQVAE, "cifar10"),
        "tiny_gan": (DCGAN, "mnist"),
        "tiny_dae": (DenoisingAutoencoder, "mnist"),
        "tiny_vqvae_plain": (VQVAE, "cifar10", {"prior": None}),  # no prior: no sampling
    }
    models = {}
    for name, (cls, dataset, *overrides) in specs.items():
        directory = root / "ckpt" / name
        model = tiny_model(cls, dataset, **(overrides[0] if overrides else {}))
        save_pretrained(model, directory, verbose=False, name=name, dataset=dataset,
                        description=f"Tiny {cls.__name__} for the CLI tests.", metrics={"psnr": 12.5})
        snapshot = root / "hf" / f"models--test--{name}"
        (snapshot / "refs").mkdir(parents=True)
        (snapshot / "refs" / REVISION).write_text(COMMIT)
        shutil.copytree(directory, snapshot / "snapshots" / COMMIT)
        models[name] = manifest_entry_from_checkpoint(
            directory, repo_id=f"test/{name}", revision=REVISION)
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": models}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_GENAE_MANIFEST", str(manifest))
        mp.setenv("HF_HUB_CACHE", str(root / "hf"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_console_script_is_declared():
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["scripts"]["genae"] == "keras_genae.cli:main"


def test_list_and_info(zoo, capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "architecture", "dataset", "params", "key", "metric", "offline"]
    assert [line.split()[0] for line in lines[1:]] == ["tiny_dae", "tiny_gan", "tiny_vae", "tiny_vqvae",
                                                      "tiny_vqvae_plain"]
    assert re.search(r"^tiny_vqvae +VQVAE", out, re.M) and "psnr 12.5" in out
    code, out, _ = run(capsys, "list", "tiny_v*")
    assert code == 0 and "tiny_gan" not in out and "tiny_vae" in out
    code, out, _ = run(capsys, "list", "nothing*")
    assert code == 0 and "No checkpoint matches" in out

    code, out, _ = run(capsys, "info", zoo / "ckpt" / "tiny_vae")  # the directory's README.md
    assert code == 0 and out.startswith("---") and "# tiny_vae" in out and "| psnr | 12.5 |" in out
    code, out, _ = run(capsys, "info", "tiny_vqvae")  # no local copy: a card from the manifest
    assert code == 0 and "# tiny_vqvae" in out and "hf://test/tiny_vqvae@v0.1.0" in out


def test_reconstruct_sample_images_by_name(zoo, capsys, tmp_path):
    out_png = tmp_path / "sub" / "grid.png"
    code, out, _ = run(capsys, "reconstruct", "tiny_vqvae", "--out", out_png)
    assert code == 0 and "16 inputs" in out and "PSNR" in out
    # 16 shipped CIFAR-10 images, each joined to its reconstruction, 4 pairs a row.
    assert png_size(out_png) == grid_size(16, 4, 32, 2 * 32 + 1, padding=6)


def test_reconstruct_own_images(zoo, capsys, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    Image.new("RGB", (50, 40), (255, 0, 0)).save(folder / "a.png")  # resized, made grey
    Image.new("L", (28, 28), 200).save(folder / "b.jpg")
    Image.new("RGBA", (10, 10)).save(folder / "c.webp")
    (folder / "notes.txt").write_text("not an image")
    out_png = tmp_path / "rec.png"
    code, out, _ = run(capsys, "reconstruct", zoo / "ckpt" / "tiny_dae", "--images", folder,
                       "--n", 2, "--noise", 0.3, "--scale", 1, "--out", out_png)
    assert code == 0 and "2 inputs" in out and "noisy input" in out
    assert png_size(out_png) == grid_size(2, 2, 28, 57, scale=1, padding=6)


def test_sample_is_seeded(zoo, capsys, tmp_path):
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for path, seed in zip(paths, (1, 1, 2)):
        code, out, _ = run(capsys, "sample", "tiny_vae", "-n", 10, "--seed", seed, "--out", path)
        assert code == 0 and "10 samples" in out
    assert png_size(paths[0]) == grid_size(10, 4, 28, 28)
    pixels = [np.asarray(Image.open(p)) for p in paths]
    np.testing.assert_array_equal(pixels[0], pixels[1])
    assert not np.array_equal(pixels[0], pixels[2])
    code, _, _ = run(capsys, "sample", zoo / "ckpt" / "tiny_gan", "-n", 3, "--cols", 3, "--out", paths[2])
    assert code == 0 and png_size(paths[2]) == grid_size(3, 3, 28, 28)


def test_sample_a_class_at_a_temperature(zoo, capsys, tmp_path):
    paths = [tmp_path / f"{i}.png" for i in range(4)]
    for path, extra in zip(paths, (["--label", 3], ["--label", 3], ["--label", 4, "--temperature", 0.5],
                                   ["--label", 4, "--guidance", 2])):
        code, out, err = run(capsys, "sample", "tiny_vqvae", "-n", 6, "--out", path, *extra)
        assert code == 0, err
        assert "6 samples (seed 0, label" in out
    assert "guidance 2" in out
    pixels = [np.asarray(Image.open(p)) for p in paths]
    np.testing.assert_array_equal(pixels[0], pixels[1])


@pytest.mark.parametrize(
    "name, extra, rows, shape",
    [
        ("tiny_vae", [], 1, (28, 28)),  # two shipped MNIST images, encoded
        ("tiny_vae", ["--prior", "--method", "slerp", "--rows", 2], 2, (28, 28)),
        ("tiny_vqvae", ["--rows", 3], 3, (32, 32)),  # quantized along the path
        ("tiny_vqvae", ["--prior", "--rows", 2], 2, (32, 32)),  # between PixelCNN draws, snapped to codes
        ("tiny_gan", [], 1, (28, 28)),  # no encoder: prior draws
    ],
)
def test_interpolate(zoo, capsys, tmp_path, name, extra, rows, shape):
    out_png = tmp_path / "strip.png"
    code, out, _ = run(capsys, "interpolate", name, "--steps", 7, "--out", out_png, *extra)
    assert code == 0, out
    assert png_size(out_png) == grid_size(7 * rows, 7, *shape)


def test_interpolate_between_two_files(zoo, capsys, tmp_path):
    for i in range(2):
        Image.new("L", (28, 28), 60 + 100 * i).save(tmp_path / f"{i}.png")
    out_png = tmp_path / "strip.png"
    code, out, _ = run(capsys, "interpolate", "tiny_vae", "--images", tmp_path / "0.png",
                       tmp_path / "1.png", "--steps", 5, "--scale", 1, "--out", out_png)
    assert code == 0 and "between encoded images" in out
    assert png_size(out_png) == grid_size(5, 5, 28, 28, scale=1)


def test_evaluate(zoo, capsys, tmp_path):
    data_dir = write_npz_dir(tmp_path / "data", names=("mnist",))
    code, out, _ = run(capsys, "evaluate", zoo / "ckpt" / "tiny_vae", "--data-dir", data_dir,
                       "--limit", 32, "--num-samples", 0, "--json")
    assert code == 0
    metrics = json.loads(out)
    assert metrics["num_images"] == 32 and {"psnr", "ssim", "neg_elbo"} <= set(metrics)
    code, out, _ = run(capsys, "evaluate", "tiny_dae", "--images", tmp_path / "data", "--json")
    assert code == 1  # the npz folder holds no images
    Image.new("L", (28, 28), 128).save(tmp_path / "one.png")
    code, out, _ = run(capsys, "evaluate", "tiny_dae", "--images", tmp_path / "one.png", "--json")
    assert code == 0 and "psnr_gain" in json.loads(out)


def test_train_a_recipe_and_an_architecture(zoo, capsys, tmp_path):
    data_dir = write_npz_dir(tmp_path / "data", names=("mnist",), n_train=64, n_test=32)
    out_dir = tmp_path / "ckpt"
    code, out, _ = run(capsys, "train", "dae", "--dataset", "mnist", "--name", "my_dae",
                       "--data-dir", data_dir, "--out", out_dir, "--epochs", 1, "--quiet")
    assert code == 0, out
    assert (out_dir / "my_dae" / "config.json").is_file()
    assert f"Checkpoint: {out_dir / 'my_dae'}" in out and "psnr_gain" in out
    assert f"Try: genae reconstruct {out_dir / 'my_dae'} --out reconstructions.png" in out
    assert "Manifest entry" not in out and "sha256" not in out  # only with --print-manifest
    card = json.loads((out_dir / "my_dae" / "metadata.json").read_text())
    assert card["architecture"] == "DenoisingAutoencoder" and card["metrics"]["epochs"] == 1
    code, _, err = run(capsys, "train", "vae_mnst", "--out", out_dir)
    assert code == 1 and "Unknown recipe or family 'vae_mnst'. Did you mean 'vae_mnist'" in err
    code, _, err = run(capsys, "train", "vae", "--out", out_dir)
    assert code == 1 and "Training the family 'vae' needs --dataset (cifar10, fashion_mnist, mnist)" in err


def test_train_a_recipe(zoo, capsys, tmp_path):
    data_dir = write_npz_dir(tmp_path / "data", names=("mnist",), n_train=64, n_test=32)
    code, out, _ = run(capsys, "train", "ae_mnist", "--data-dir", data_dir, "--out", tmp_path,
                       "--epochs", 1, "--eval-limit", 32, "--print-manifest")
    assert code == 0 and (tmp_path / "ae_mnist" / "model.weights.h5").is_file()
    entry = json.loads(out[out.index("{"):out.index("\n}\n") + 2])["ae_mnist"]
    assert entry["architecture"] == "Autoencoder" and entry["hub"]["repo_id"] == "keras-genae/ae_mnist"


def test_push_to_a_local_hub(zoo, capsys, tmp_path, monkeypatch):
    from tools.fakehub import FakeHub

    hub = FakeHub().start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.delenv("HF_HUB_OFFLINE")
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("HF_TOKEN", "hf_local_test_token")
        code, out, err = run(capsys, "push", zoo / "ckpt" / "tiny_vae", "--repo-id", "me/tiny-vae")
        assert code == 0, err
        assert out.count("\n") == 1 and "Load it with keras_genae.load('hf://me/tiny-vae@" in out
        code, out, err = run(capsys, "push", zoo / "ckpt" / "tiny_vae", "--repo-id", "me/tiny-vae",
                             "--print-manifest")
        assert code == 0, err
        commit = json.loads(out[out.index("{"):])["tiny_vae"]["hub"]["revision"]
        assert f"hf://me/tiny-vae@{commit}" in out
        assert "model.weights.h5" in hub.files("me/tiny-vae", commit)
        code, out, _ = run(capsys, "sample", f"hf://me/tiny-vae@{commit}", "-n", 4, "--out", tmp_path / "s.png")
        assert code == 0 and png_size(tmp_path / "s.png") == grid_size(4, 2, 28, 28)
    finally:
        hub.stop()


def test_reconstruct_skips_an_unreadable_file_like_from_directory(zoo, capsys, tmp_path, caplog):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.new("L", (28, 28), 200).save(folder / "good.png")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    os.mkfifo(folder / "pipe.png")
    with caplog.at_level("WARNING"):
        code, out, err = run(capsys, "reconstruct", zoo / "ckpt" / "tiny_dae", "--images", folder,
                             "--out", tmp_path / "rec.png")
    assert code == 0, err
    assert "1 inputs" in out
    assert "Skipping unreadable image file" in caplog.text
    assert "corrupt.png" in caplog.text and "pipe.png" in caplog.text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "tiny_vea", "--out", "x.png"], "Unknown model 'tiny_vea'. Did you mean 'tiny_vae'"),
        (["info", "nope"], "Unknown model 'nope'"),
        (["sample", "./no/such/dir", "--out", "x.png"], "No checkpoint directory or .keras file"),
        (["reconstruct", "tiny_vae", "--images", "/no/such.png", "--out", "x.png"],
         "No such image file or folder: '/no/such.png'"),
        (["reconstruct", "tiny_vae", "--images", "{bad}", "--out", "x.png"], "Cannot read the image file"),
        (["sample", "tiny_vqvae_plain", "--out", "x.png"], "'tiny_vqvae_plain' (VQVAE) cannot sample: its "
         "capabilities are ['decode', 'encode', 'reconstruct']. Try `genae reconstruct tiny_vqvae_plain`"),
        (["reconstruct", "tiny_gan", "--out", "x.png"], "(DCGAN) cannot reconstruct"),
        (["interpolate", "tiny_vqvae_plain", "--prior", "--out", "x.png"], "(VQVAE) cannot sample"),
        (["sample", "tiny_vae", "--label", "3", "--out", "x.png"], "takes no --label"),
        (["sample", "tiny_gan", "--temperature", "0.5", "--out", "x.png"], "takes no --temperature"),
        (["sample", "tiny_gan", "--label", "2", "--out", "x.png"], "this DCGAN is unconditional"),
        (["sample", "tiny_vqvae", "--guidance", "-1", "--out", "x.png"], "`guidance` must be a non-negative"),
        (["sample", "tiny_vqvae", "--label", "10", "--out", "x.png"], "--label must be one int"),
        (["sample", "tiny_vqvae", "--temperature", "0", "--out", "x.png"], "`temperature` must be a positive"),
        (["push", "/no/such/dir", "--repo-id", "me/x"], "No checkpoint directory at '/no/such/dir'"),
        # Bad command lines: one line and status 1 too, not argparse's usage and 2.
        (["smaple", "tiny_vae"], "invalid choice: 'smaple' (choose from 'list', 'info', "),
        (["smaple", "tiny_vae"], "Did you mean 'sample'?"),
        (["sample", "tiny_vae"], "the following arguments are required: --out (see `genae sample --help`)"),
        (["sample", "tiny_vae", "-n", "two", "--out", "x.png"], "argument -n/--n: must be a positive integer"),
        (["interpolate", "tiny_vae", "--method", "cubic", "--out", "x.png"], "argument --method: invalid choice"),
        (["--nope"], "unrecognized arguments: --nope"),
    ],
)
def test_errors_are_one_line_without_traceback(zoo, capsys, tmp_path, argv, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    argv = [a.replace("{bad}", str(bad)).replace("x.png", str(tmp_path / "x.png")) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith("genae: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_verbose_shows_the_traceback(zoo, capsys):
    code, _, err = run(capsys, "--verbose", "info", "nope")
    assert code == 1 and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("genae: error:")
    code, _, err = run(capsys, "info", "nope", "-v")
    assert code == 1 and "Traceback" in err


def test_help_and_no_command(capsys):
    for argv in (["--help"], ["sample", "--help"], []):
        code, out, err = run(capsys, *argv)
        assert code == 0 and out.startswith("usage: genae") and err == ""
    assert "--out OUT" in run(capsys, "sample", "-h")[1]


def test_each_command_has_a_module():
    from keras_genae.cli import parser

    commands = parser.build_parser()._subparsers._group_actions[0].choices
    assert tuple(commands) == parser.COMMANDS
    for name in parser.COMMANDS:
        assert (ROOT / "keras_genae" / "cli" / "commands" / f"{name}.py").is_file(), name


def test_train_hint_follows_the_capabilities():
    from keras_genae.cli.commands.train import next_step

    assert next_step(VAE, "d") == "genae sample d --out samples.png"
    # A VQ-VAE samples only with a prior: its instances say which.
    assert next_step(tiny_model(VQVAE, prior=None), "d") == "genae reconstruct d --out reconstructions.png"
    assert next_step(tiny_model(VQVAE), "d") == "genae sample d --out samples.png"
    assert next_step(DCGAN, "d") == "genae sample d --out samples.png"
    from keras_genae.models import FeatureClassifier

    assert next_step(FeatureClassifier, "d") == "genae evaluate d"


def test_native_start_up_lines_are_dropped():
    from keras_genae.cli.quiet import drop_native_lines

    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796182535.453885   27079 cudart_stub.cc:31] Could not find cuda drivers on your "
        "machine, GPU will not be used.\n"
        "I0000 00:00:1796182535.627278   27079 cpu_feature_guard.cc:227] This TensorFlow binary is "
        "optimized to use available CPU instructions in performance-critical operations.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with "
        "the appropriate compiler flags.\n"
        "E0000 00:00:1796182818.282697   32095 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
        "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
        "2025-09-17 14:44:05.176998: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] "
        "Unable to register cuFFT factory\n"
        "/x/y.py:3: UserWarning: something the user should see\n"
        "To enable the following instructions: (not after a dropped line: kept)\n"
    )
    assert drop_native_lines(text, 3) == (
        "/x/y.py:3: UserWarning: something the user should see\n"
        "To enable the following instructions: (not after a dropped line: kept)\n")
    errors_only = drop_native_lines(text, 2)  # TF_CPP_MIN_LOG_LEVEL=2 keeps the errors
    assert errors_only.count("cuda_platform.cc") == 1 and "cuda_fft.cc" in errors_only
    assert "cudart_stub" not in errors_only and "InitializeLog" not in errors_only
    assert drop_native_lines(text, 0) == text


def _default_env():
    """The environment of a user who set no TensorFlow log level."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    env["PYTHONPATH"] = str(ROOT)
    return env


# What the console script `genae` runs, then whether TensorFlow was imported.
CONSOLE = ("import sys; from keras_genae.cli import main\n"
           "for argv in (['list'], ['info', 'tiny_vae'], ['sample', 'tiny_vea', '--out', 'x.png']):\n"
           "    print('status', main(argv), 'tensorflow' in sys.modules, flush=True)\n")


def test_console_commands_print_nothing_else(zoo, tmp_path):
    result = subprocess.run([sys.executable, "-c", CONSOLE], capture_output=True, text=True,
                            env=_default_env(), cwd=tmp_path)
    statuses = [line.split() for line in result.stdout.splitlines() if line.startswith("status ")]
    assert [s[1] for s in statuses] == ["0", "0", "1"], result.stdout + result.stderr
    assert re.search(r"^tiny_vqvae +VQVAE", result.stdout, re.M) and "# tiny_vae" in result.stdout
    # No TensorFlow, XLA or absl line: only the error of the third command.
    assert result.stderr.startswith("genae: error: Unknown model 'tiny_vea'. Did you mean 'tiny_vae'")
    assert result.stderr.count("\n") == 1, result.stderr
    # `genae list` still imports TensorFlow (keras_genae.hub.manifest checks
    # architecture names against the model registry, which imports Keras):
    # quietly, as the stderr above shows.


def test_python_m_sample_prints_nothing_else(zoo, tmp_path):
    out = tmp_path / "x.png"
    result = subprocess.run([sys.executable, "-m", "keras_genae.cli", "sample", "tiny_vae", "-n", "4",
                             "--out", str(out)], capture_output=True, text=True, env=_default_env(), cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    width, height = grid_size(4, 2, 28, 28)
    assert result.stdout == f"Wrote {out} ({width}x{height}): 4 samples (seed 0).\n"
    assert png_size(out) == (width, height)


def test_image_helpers():
    from keras_genae.data import grids as images
    from keras_genae.data.samples import sample_images
    from keras_genae.utils.interpolation import interpolate

    a, b = np.array([3.0, 0.0]), np.array([0.0, 1.0])
    for method in ("lerp", "slerp"):
        path = interpolate(a, b, 5, method)
        assert path.shape == (5, 2)
        np.testing.assert_allclose(path[[0, -1]], [a, b], atol=1e-6)
    slerp = interpolate(a, b, 5, "slerp")
    np.testing.assert_allclose(np.linalg.norm(slerp, axis=1), np.linspace(3, 1, 5), rtol=1e-5)
    with pytest.raises(ValueError, match="`steps` must be an integer >= 2"):
        interpolate(a, b, 1)
    assert images.make_grid(np.zeros((10, 28, 28)), ncols=5).shape == (62, 152, 1)
    with pytest.raises(ValueError, match="`images` must be a non-empty batch"):
        images.make_grid(np.zeros((2, 8, 8, 2)))
    x, y = sample_images("cifar10", n=8)
    assert x.shape == (8, 32, 32, 3) and y.tolist() == list(range(8)) and 0 <= x.min() < x.max() <= 1
