"""Every tutorial runs end to end with `--fast` (as a subprocess, against
the shipped checkpoints) and writes its figures."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import keras_genae
from tests.helpers import write_npz_dir

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"

# Tutorial -> (pretrained checkpoints it loads, figures it must write).
EXPECTED = {
    "01_quickstart.py": (
        ["vqvae_cifar10", "vae_mnist"],
        ["vqvae_reconstructions.png", "vqvae_codes.png", "vae_samples.png", "vae_interpolation.png"],
    ),
    "02_finetune_on_your_images.py": (
        ["vae_mnist"], ["finetune_losses.png", "finetune_reconstructions.png"],
    ),
    "03_train_vqvae_from_scratch.py": (
        [],
        ["codebook_usage.png", "code_histogram.png", "grids_gradient/reconstructions_epoch_002.png",
         "grids_ema/reconstructions_epoch_000.png", "grids_ema/reconstructions_epoch_002.png"],
    ),
    "04_vae_latent_space.py": (
        ["vae_mnist"], ["latent_scatter.png", "latent_grid.png", "latent_grid_lda.png", "kl_per_dimension.png"],
    ),
    "05_denoising_and_inpainting.py": (
        ["dae_mnist"], ["denoising.png", "denoising_psnr.png", "inpainting.png"],
    ),
    "06_publish_your_model.py": (
        ["vae_mnist"],
        ["published_samples.png", "published_reconstructions.png", "vae_fashion_demo/README.md",
         "vae_fashion_demo/model.weights.h5"],
    ),
}


def test_every_tutorial_is_tested_and_in_keras_io_format():
    scripts = sorted(p.name for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
    assert scripts == sorted(EXPECTED)
    for name in scripts:
        text = (TUTORIALS / name).read_text()
        header = text.split('"""')[1]
        for field in ("Title:", "Author:", "Date created:", "Last modified:", "Description:"):
            assert re.search(rf"^{field} \S", header, re.M), (name, field)
        assert text.count('"""\n## ') >= 3, name
        assert "--fast" in text and "--out" in text


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_npz_dir(tmp_path_factory.mktemp("data"), names=("mnist",), n_train=256, n_test=64)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_tutorial_runs_fast(script, tmp_path, data_dir):
    needed, figures = EXPECTED[script]
    missing = [n for n in needed if n not in keras_genae.list_models()]
    assert not missing, f"{script} needs the pretrained checkpoints {missing}, which are not shipped yet"
    out = tmp_path / "out"
    command = [sys.executable, str(TUTORIALS / script), "--fast", "--out", str(out)]
    if "--data-dir" in (TUTORIALS / script).read_text():
        command += ["--data-dir", data_dir]
    env = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for figure in figures:
        path = out / figure
        assert path.is_file(), f"{script} did not write {figure}"
        if figure.endswith(".png"):
            with Image.open(path) as image:
                assert image.format == "PNG" and min(image.size) >= 50
                pixels = np.asarray(image.convert("L"))
            assert pixels.std() > 0, f"{figure} is blank"
