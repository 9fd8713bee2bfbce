"""`keras_genae.load`, `save_pretrained` and `push_to_hub`, over a loopback Hub."""

import json
import shutil
import sys
import types
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_genae
from keras_genae.hub import api as hub
from keras_genae.hub import manifest
from keras_genae.hub import manifest_writer
from keras_genae.hub import DownloadError
from tests.hub_fixtures import blob_files
from tests.hub_fixtures import cache_problems
from tests.hub_fixtures import fake_hub  # noqa: F401 (fixture)
from tests.hub_fixtures import hf_home  # noqa: F401 (fixture)
from tests.hub_fixtures import no_retry_sleep  # noqa: F401 (fixture)

REPO = "genae-test/tiny_ae"
WEIGHTS = "model.weights.h5"


def tiny_autoencoder(seed=None):
    return keras_genae.Autoencoder(image_shape=(8, 8, 1), latent_dim=4, encoder_filters=(4, 8), seed=seed)


def outputs(model, x):
    return np.asarray(model.reconstruct(x))


def flip_last_byte(path):
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))


def weights_equal(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)


@pytest.fixture(scope="module")
def model():
    return tiny_autoencoder()


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt") / "tiny_ae"
    keras_genae.save_pretrained(
        model, directory, verbose=False, dataset="synthetic", data_license="CC0-1.0",
        metrics={"mse": 0.0123}, description="Tiny test autoencoder.", repo_id=REPO,
    )
    return directory


@pytest.fixture
def served(fake_hub, saved):  # noqa: F811
    """The saved checkpoint, committed to REPO on the fake Hub."""
    fake_hub.sha = fake_hub.commit_dir(REPO, saved)
    return fake_hub


def use_manifest(monkeypatch, tmp_path, models):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema_version": 1, "models": models}))
    monkeypatch.setenv(manifest.MANIFEST_ENV_VAR, str(path))
    return path


# ---------------------------------------------------------- local checkpoints
def test_save_pretrained_then_load_dir_reproduces_outputs(model, saved, images, capsys):
    assert sorted(p.name for p in saved.iterdir()) == [
        "README.md", "config.json", "metadata.json", WEIGHTS]
    config = json.loads((saved / "config.json").read_text())
    assert config["class_name"] == "Autoencoder"
    assert config["registered_name"] == "keras_genae>Autoencoder"
    assert config["config"]["latent_dim"] == 4
    metadata = json.loads((saved / "metadata.json").read_text())
    assert metadata["keras_version"] == keras.__version__
    assert metadata["keras_genae_version"] == keras_genae.__version__
    assert metadata["parameter_count"] == model.count_params()
    assert metadata["dataset"] == "synthetic" and metadata["metrics"] == {"mse": 0.0123}
    assert metadata["date_saved"]
    card = (saved / "README.md").read_text()
    assert f'keras_genae.load("hf://{REPO}")' in card
    assert "| mse | 0.0123 |" in card and "CC0-1.0" in card

    restored = keras_genae.load(saved)
    assert type(restored) is keras_genae.Autoencoder
    assert weights_equal(restored, model)
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    # Compiled with Adam, so fine-tuning works straight away.
    assert isinstance(restored.optimizer, keras.optimizers.Adam)
    history = restored.fit(images, epochs=1, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert getattr(keras_genae.load(str(saved), compile=False), "optimizer", None) is None


def test_save_pretrained_prints_the_manifest_entry_on_request_and_is_atomic(model, tmp_path, capsys):
    entry = keras_genae.save_pretrained(model, tmp_path / "ae", dataset="synthetic")
    assert capsys.readouterr().out == f"Saved {str(tmp_path / 'ae')!r}.\n"  # no manifest JSON
    assert entry["files"][WEIGHTS]["sha256"] == manifest.file_digest(tmp_path / "ae" / WEIGHTS)[0]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        keras_genae.save_pretrained(model, tmp_path / "ae", verbose=False)
    keras_genae.save_pretrained(model, tmp_path / "ae", overwrite=True, verbose=False)
    assert capsys.readouterr().out == ""
    entry = keras_genae.save_pretrained(model, tmp_path / "ae", overwrite=True, verbose=False,
                                        print_manifest=True, dataset="synthetic")
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index("{"):]) == {"ae": entry}
    # Nothing but the final directory is left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["ae"]
    with pytest.raises(ValueError, match="Unknown model card fields"):
        keras_genae.save_pretrained(model, tmp_path / "other", datset="typo", verbose=False)
    assert not (tmp_path / "other").exists()


def test_optimizer_state_is_not_saved(tmp_path, images):
    trained = tiny_autoencoder()
    trained.compile()
    trained.optimizer.build(trained.trainable_variables)  # As after `fit`.
    keras_genae.save_pretrained(trained, tmp_path / "ae", verbose=False)
    import h5py

    with h5py.File(tmp_path / "ae" / WEIGHTS) as f:
        assert "optimizer" not in f
    restored = keras_genae.load(tmp_path / "ae")
    np.testing.assert_array_equal(outputs(restored, images), outputs(trained, images))


def test_keras_load_model_reads_checkpoint_dir(model, saved, images):
    restored = keras.saving.load_model(saved)
    assert type(restored) is keras_genae.Autoencoder
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))


def test_pretrained_false_same_architecture_fresh_weights(model, saved):
    fresh = keras_genae.load(saved, pretrained=False)
    assert type(fresh) is type(model)
    assert fresh.get_config() == model.get_config()
    assert [w.shape for w in fresh.weights] == [w.shape for w in model.weights]
    assert not weights_equal(fresh, model)
    assert fresh.optimizer is not None


def test_config_overrides(model, saved, images):
    seeded = keras_genae.load(saved, seed=7)
    assert seeded.seed == 7 and weights_equal(seeded, model)
    wider = keras_genae.load(saved, pretrained=False, latent_dim=6)
    assert wider.latent_dim == 6
    with pytest.raises(ValueError, match="pretrained=False"):
        keras_genae.load(saved, latent_dim=6)
    with pytest.raises(ValueError, match="not config arguments of Autoencoder"):
        keras_genae.load(saved, latent_dimension=6)


def test_load_keras_archive(model, tmp_path, images):
    path = tmp_path / "tiny.keras"
    model.save(path)
    restored = keras_genae.load(path)
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    assert restored.optimizer is not None


@pytest.mark.parametrize("where", ["directory", "keras_archive"])
@pytest.mark.parametrize("bad", ["class", "registered_name", "nested"])
def test_config_naming_a_class_outside_the_registry_is_refused(saved, tmp_path, where, bad):
    config = json.loads((saved / "config.json").read_text())
    module = "genae_evil_module_that_must_not_be_imported"
    if bad == "class":
        config.update(module=module, class_name="EvilModel", registered_name="evil>EvilModel")
    elif bad == "registered_name":
        config["registered_name"] = "evil>Autoencoder"
    else:
        config["config"]["dtype"] = {"module": module, "class_name": "Evil", "config": {}, "registered_name": None}
    bad_dir = tmp_path / "bad"
    shutil.copytree(saved, bad_dir)
    (bad_dir / "config.json").write_text(json.dumps(config))
    handle = bad_dir
    if where == "keras_archive":
        handle = tmp_path / "bad.keras"
        with zipfile.ZipFile(handle, "w") as zf:
            for p in bad_dir.iterdir():
                zf.write(p, p.name)
    with pytest.raises(ValueError, match="Refusing to load"):
        keras_genae.load(handle)
    with pytest.raises(ValueError, match="Refusing to load"):
        keras_genae.load(handle, pretrained=False)
    assert module not in sys.modules


def test_local_handle_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such .keras file"):
        keras_genae.load(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError, match="hf://some/dir"):
        keras_genae.load("some/dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        keras_genae.load(tmp_path / "empty")
    with pytest.raises(ValueError, match="Received: handle=3"):
        keras_genae.load(3)
    with pytest.raises(ValueError, match="hf://namespace/name@revision"):
        keras_genae.load("hf://")


# ------------------------------------------------------------------- hub
def test_load_hf_downloads_verifies_and_reproduces_outputs(served, model, images):
    restored = keras_genae.load(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    assert served.count("GET", WEIGHTS) == 1 and served.count("GET", "config.json") == 1
    # Both files come from the commit that `main` resolved to.
    assert any(f"/resolve/{served.sha}/{WEIGHTS}" in p for _, p, _ in served.requests)
    blobs = {p.name for p in blob_files(served.cache_dir)}
    snapshot = served.cache_dir / "models--genae-test--tiny_ae" / "snapshots" / served.sha
    assert manifest.file_digest(snapshot / WEIGHTS)[0] in blobs
    assert cache_problems(served.cache_dir) == []


def test_second_load_works_with_server_stopped_and_offline(served, model, images, monkeypatch):
    keras_genae.load(f"hf://{REPO}")
    served.stop()
    again = keras_genae.load(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(again, images), outputs(model, images))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = keras_genae.load(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(offline, images), outputs(model, images))
    # Offline with nothing cached: a clear error.
    with pytest.raises(DownloadError, match=r"`genae-test/other`.*offline mode is on"):
        keras_genae.load("hf://genae-test/other")


def test_load_hf_at_revision(served, saved, tmp_path, images):
    first_sha = served.sha
    other = tiny_autoencoder()
    keras_genae.save_pretrained(other, tmp_path / "v2", verbose=False)
    served.commit_dir(REPO, tmp_path / "v2", tags=("v2",))
    latest = keras_genae.load(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(latest, images), outputs(other, images))
    tagged = keras_genae.load(f"hf://{REPO}@v2")
    np.testing.assert_array_equal(outputs(tagged, images), outputs(other, images))
    pinned = keras_genae.load(f"hf://{REPO}@{first_sha}")
    assert weights_equal(pinned, keras_genae.load(saved))
    with pytest.raises(DownloadError, match="Revision `nope` does not exist"):
        keras_genae.load(f"hf://{REPO}@nope")


def test_tampered_download_is_refused_and_not_cached(served, model, images):
    served.faults[WEIGHTS] = "tamper"
    with pytest.raises(keras_genae.ChecksumError) as info:
        keras_genae.load(f"hf://{REPO}")
    message = str(info.value)
    assert WEIGHTS in message and info.value.expected in message and info.value.actual in message
    assert info.value.expected != info.value.actual
    assert served.count("GET", WEIGHTS) == 2  # Evicted, fetched once more, refused again.
    assert cache_problems(served.cache_dir) == []
    assert not list(served.cache_dir.rglob(f"snapshots/*/{WEIGHTS}"))
    served.faults.clear()
    restored = keras_genae.load(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))


def test_corrupted_cache_file_is_deleted_then_refetched(served, model, images, monkeypatch):
    keras_genae.load(f"hf://{REPO}")
    (blob,) = [p for p in blob_files(served.cache_dir) if p.stat().st_size > 10_000]
    flip_last_byte(blob)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(keras_genae.ChecksumError, match=WEIGHTS):
        keras_genae.load(f"hf://{REPO}")
    assert not blob.exists() and cache_problems(served.cache_dir) == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    restored = keras_genae.load(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    assert served.count("GET", WEIGHTS) == 2
    # Online, a corrupted cache file is replaced transparently.
    blob.write_bytes(b"garbage")
    restored = keras_genae.load(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    assert served.count("GET", WEIGHTS) == 3


@pytest.mark.parametrize(
    "fault, handle, match",
    [
        (None, "hf://genae-test/missing", r"Repository `genae-test/missing` was not found .*HTTP 404"),
        ("500", f"hf://{REPO}", r"Could not download `model.weights.h5` of `genae-test/tiny_ae`.*500"),
        ("500-get", f"hf://{REPO}", r"`model.weights.h5` of `genae-test/tiny_ae`.*failed with HTTP 500"),
        ("short", f"hf://{REPO}", r"`model.weights.h5` of `genae-test/tiny_ae`.*cut short.*Consistency"),
        ("drop", f"hf://{REPO}", r"`model.weights.h5` of `genae-test/tiny_ae`.*cut short"),
    ],
)
def test_failing_download_gives_clear_error_and_caches_nothing(served, no_retry_sleep, fault, handle, match):  # noqa: F811
    if fault:
        served.faults[WEIGHTS] = fault
    with pytest.raises(DownloadError, match=match):
        keras_genae.load(handle)
    assert cache_problems(served.cache_dir) == []
    assert all(p.stat().st_size < 10_000 for p in blob_files(served.cache_dir))  # No weights blob.


def test_repo_without_weights_is_not_a_checkpoint(served, saved):
    served.commit("genae-test/config_only", {"config.json": (saved / "config.json").read_bytes()})
    with pytest.raises(DownloadError, match=r"has no file `model.weights.h5`.*not a keras_genae checkpoint"):
        keras_genae.load("hf://genae-test/config_only")
    fresh = keras_genae.load("hf://genae-test/config_only", pretrained=False)
    assert type(fresh) is keras_genae.Autoencoder


def test_refused_class_over_the_hub(served, saved):
    config = json.loads((saved / "config.json").read_text())
    config.update(module="os", class_name="system", registered_name=None)
    served.commit("genae-test/evil", {"config.json": json.dumps(config).encode(),
                                      WEIGHTS: (saved / WEIGHTS).read_bytes()})
    with pytest.raises(ValueError, match="Refusing to load.*'system'"):
        keras_genae.load("hf://genae-test/evil")


def test_keras_load_model_hf(served, model, images):
    restored = keras.saving.load_model(f"hf://{REPO}")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))


# -------------------------------------------------------------- manifest
def manifest_entry(saved, sha):
    return manifest_writer.manifest_entry_from_checkpoint(saved, repo_id=REPO, revision=sha)


def test_manifest_name_downloads_pinned_revision_and_verifies(served, saved, model, images, monkeypatch, tmp_path):
    use_manifest(monkeypatch, tmp_path, {"tiny_ae": manifest_entry(saved, served.sha)})
    served.commit_dir(REPO, saved)  # `main` moves on; the manifest stays pinned.
    restored = keras_genae.load("tiny_ae")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    assert all(f"/resolve/{served.sha}/" in p for _, p, _ in served.requests)
    # An hf:// handle to the same repo uses the manifest's hashes too.
    keras_genae.load(f"hf://{REPO}")
    assert all(f"/resolve/{served.sha}/" in p for _, p, _ in served.requests)


def test_manifest_hash_mismatch_raises_checksum_error(served, saved, monkeypatch, tmp_path):
    entry = manifest_entry(saved, served.sha)
    good = entry["files"][WEIGHTS]["sha256"]
    entry["files"][WEIGHTS]["sha256"] = "0" * 64
    use_manifest(monkeypatch, tmp_path, {"tiny_ae": entry})
    with pytest.raises(keras_genae.ChecksumError) as info:
        keras_genae.load("tiny_ae")
    assert WEIGHTS in str(info.value) and "0" * 64 in str(info.value) and good in str(info.value)
    assert not list(served.cache_dir.rglob(f"snapshots/*/{WEIGHTS}"))
    assert not list(served.cache_dir.rglob(f"blobs/{good}"))


def test_bundled_copy_is_used_offline_and_ignored_when_corrupt(served, saved, model, images, monkeypatch, tmp_path):
    use_manifest(monkeypatch, tmp_path, {"tiny_ae": manifest_entry(saved, served.sha)})
    bundle = tmp_path / "checkpoints"
    shutil.copytree(saved, bundle / "tiny_ae")
    monkeypatch.setattr(hub, "BUNDLED_CHECKPOINTS_DIR", bundle)
    served.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    restored = keras_genae.load("tiny_ae")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    assert served.requests == []
    # A corrupt bundled copy is not used: load goes to the Hub, which is
    # unreachable offline.
    weights = bundle / "tiny_ae" / WEIGHTS
    flip_last_byte(weights)
    with pytest.warns(UserWarning, match="does not match the manifest"):
        with pytest.raises(DownloadError, match="offline mode is on"):
            keras_genae.load("tiny_ae")


def test_unknown_name_suggests_close_matches(saved, monkeypatch, tmp_path, hf_home):  # noqa: F811
    entry = manifest_entry(saved, "a" * 40)
    use_manifest(monkeypatch, tmp_path, {"vqvae_cifar10": entry, "vae_mnist": entry})
    with pytest.raises(manifest.UnknownModelError, match="Did you mean 'vqvae_cifar10'") as info:
        keras_genae.load("vqvae_cifar1")
    assert info.value.suggestions == ["vqvae_cifar10"]
    with pytest.raises(manifest.UnknownModelError, match="Known models: \\['vae_mnist', 'vqvae_cifar10'\\]"):
        keras_genae.load("gan")


# ------------------------------------------------------------------ push
def test_push_to_hub_uploads_the_checkpoint_folder(served, model, images, monkeypatch, capsys):
    calls = []

    class FakeApi:
        def __init__(self, endpoint=None, token=None, **kwargs):
            calls.append(("init", endpoint))

        def create_repo(self, repo_id, private=None, exist_ok=False):
            calls.append(("create_repo", repo_id, exist_ok))

        def upload_folder(self, repo_id, folder_path, revision=None, commit_message=None):
            sha = served.commit_dir(repo_id, folder_path)
            calls.append(("upload_folder", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))
            return types.SimpleNamespace(oid=sha, commit_url=f"{served.url}/{repo_id}/commit/{sha}")

    monkeypatch.setattr(hub.huggingface_hub, "HfApi", FakeApi)
    entry = keras_genae.push_to_hub(model, "genae-test/pushed", dataset="synthetic")
    assert calls[0] == ("init", served.url)
    assert calls[1] == ("create_repo", "genae-test/pushed", True)
    assert calls[2] == ("upload_folder", "genae-test/pushed",
                        ["README.md", "config.json", "metadata.json", WEIGHTS])
    assert entry["hub"] == {"repo_id": "genae-test/pushed", "revision": served.repos["genae-test/pushed"]["refs"]["main"]}
    manifest.validate_entry("pushed", entry)
    assert entry["hub"]["revision"] in capsys.readouterr().out
    restored = keras_genae.load("hf://genae-test/pushed")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))


def test_push_to_hub_over_http_then_load_the_pinned_commit(fake_hub, saved, model, images):  # noqa: F811
    # The real HfApi: create_repo, preupload and an NDJSON commit to the fake Hub.
    entry = keras_genae.push_to_hub(saved, "genae-test/uploaded", verbose=False)
    commit = entry["hub"]["revision"]
    stored = fake_hub.files("genae-test/uploaded", commit)
    assert sorted(stored) == ["README.md", "config.json", "metadata.json", WEIGHTS]
    assert stored[WEIGHTS] == (saved / WEIGHTS).read_bytes()
    assert fake_hub.count("POST", "create") == 1
    manifest.validate_entry("uploaded", entry)
    restored = keras_genae.load(f"hf://genae-test/uploaded@{commit}")
    np.testing.assert_array_equal(outputs(restored, images), outputs(model, images))
    # A second push to the same repo (it exists: 409, accepted) is a new commit on main.
    again = keras_genae.push_to_hub(saved, "genae-test/uploaded", verbose=False)
    assert again["hub"]["revision"] != commit
    assert fake_hub.repos["genae-test/uploaded"]["refs"]["main"] == again["hub"]["revision"]
