"""The weights manifest: schema, `list_models`, `model_info`, entries."""

import copy
import importlib.resources
import json
import tomllib
from pathlib import Path

import pytest

import keras_genae
from keras_genae.hub import manifest as registry
from keras_genae.hub import manifest_writer

ROOT = Path(__file__).resolve().parents[1]
SHA = "ab" * 32
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def entry(architecture="VQVAE", **changes):
    base = {
        "architecture": architecture,
        "description": "A test entry.",
        "dataset": "cifar10",
        "data_license": "unknown",
        "input": {"shape": [32, 32, 3], "dtype": "float32", "value_range": [0.0, 1.0],
                  "preprocessing": "uint8 RGB divided by 255"},
        "hub": {"repo_id": "keras-genae/test", "revision": COMMIT},
        "files": {"config.json": {"sha256": SHA, "size": 10},
                  "model.weights.h5": {"sha256": SHA, "size": 20}},
        "metrics": {"test_mse": 0.004},
    }
    base.update(changes)
    return base


MODELS = {
    "vqvae_cifar10": entry(),
    "vae_mnist": entry("VAE", dataset="mnist"),
    "vae_fashion_mnist": entry("VAE", dataset="fashion_mnist"),
    "ae_mnist": entry("Autoencoder", dataset="mnist"),
}


@pytest.fixture
def manifest_file(tmp_path, monkeypatch):
    path = tmp_path / "weights_manifest.json"
    path.write_text(json.dumps({"schema_version": 1, "models": MODELS}))
    monkeypatch.setenv(registry.MANIFEST_ENV_VAR, str(path))
    return path


# ------------------------------------------------------- shipped manifest
def test_shipped_manifest_is_valid_and_has_no_placeholder_entries(monkeypatch):
    monkeypatch.delenv(registry.MANIFEST_ENV_VAR, raising=False)
    path = registry.manifest_path()
    assert path == Path(keras_genae.__file__).parent / "weights_manifest.json"
    data = json.loads(path.read_text())
    registry.validate_manifest(data)
    # Every entry is a real checkpoint bundled in the package, whose files
    # match the manifest's hashes (validate_manifest already refuses
    # placeholder revisions and hashes).
    assert keras_genae.list_models() == sorted(data["models"])
    for name, entry in data["models"].items():
        bundled = path.parent / "checkpoints" / name
        for filename, info in entry["files"].items():
            assert registry.file_digest(bundled / filename) == (info["sha256"], info["size"]), (
                name, filename)


def test_one_source_of_truth_shipped_as_package_data():
    root_copy = ROOT / "weights_manifest.json"
    package_copy = importlib.resources.files("keras_genae") / "weights_manifest.json"
    assert root_copy.resolve() == Path(str(package_copy)).resolve()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "weights_manifest.json" in pyproject["tool"]["setuptools"]["package-data"]["keras_genae"]


# --------------------------------------------------------------- queries
def test_list_models_filters_with_fnmatch(manifest_file):
    assert keras_genae.list_models() == sorted(MODELS)
    assert keras_genae.list_models("vae_*") == ["vae_fashion_mnist", "vae_mnist"]
    assert keras_genae.list_models("*mnist") == ["ae_mnist", "vae_fashion_mnist", "vae_mnist"]
    assert keras_genae.list_models("gan_*") == []
    with pytest.raises(ValueError, match="`pattern` must be a string"):
        keras_genae.list_models(None)


def test_functions_take_a_manifest_argument(monkeypatch):
    monkeypatch.delenv(registry.MANIFEST_ENV_VAR, raising=False)
    assert registry.list_models("vae_*", manifest=MODELS) == ["vae_fashion_mnist", "vae_mnist"]
    full = {"schema_version": 1, "models": MODELS}
    assert registry.model_info("ae_mnist", manifest=full)["architecture"] == "Autoencoder"


def test_model_info(manifest_file):
    info = keras_genae.model_info("vqvae_cifar10")
    assert info["name"] == "vqvae_cifar10"
    assert info["architecture"] == "VQVAE"
    assert info["input"]["shape"] == [32, 32, 3]
    assert info["hub"] == {"repo_id": "keras-genae/test", "revision": COMMIT}
    info["metrics"]["test_mse"] = 99  # A copy: the manifest is not changed.
    assert keras_genae.model_info("vqvae_cifar10")["metrics"]["test_mse"] == 0.004


def test_unknown_name_suggests_close_matches(manifest_file):
    with pytest.raises(registry.UnknownModelError, match="Did you mean 'vqvae_cifar10'") as info:
        keras_genae.model_info("vqvae_cifar1")
    assert info.value.suggestions == ["vqvae_cifar10"]
    with pytest.raises(registry.UnknownModelError) as info:
        keras_genae.model_info("vae_mnst")
    assert info.value.suggestions[0] == "vae_mnist"
    with pytest.raises(registry.UnknownModelError, match="No pretrained checkpoints"):
        registry.model_info("vqvae_cifar10", manifest={})


def test_env_var_naming_a_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.MANIFEST_ENV_VAR, str(tmp_path / "nope.json"))
    with pytest.raises(FileNotFoundError, match="KERAS_GENAE_MANIFEST"):
        keras_genae.list_models()


# ------------------------------------------------------------- validation
def _set(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    if value is _DELETE:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


_DELETE = object()


@pytest.mark.parametrize(
    "path, value, match",
    [
        (("architecture",), "ResNet50", "registered architecture"),
        (("description",), "two\nlines", "one line"),
        (("dataset",), "", "non-empty string"),
        (("data_license",), _DELETE, "missing keys \\['data_license'\\]"),
        (("colour",), "blue", "unknown keys \\['colour'\\]"),
        (("input", "shape"), [32, 32], "height, width, channels"),
        (("input", "value_range"), [1.0, 0.0], "low < high"),
        (("input", "preprocessing"), _DELETE, "missing keys"),
        (("hub", "repo_id"), "no-namespace", "namespace/name"),
        (("hub", "revision"), "main", "not a branch"),
        (("hub", "revision"), "<commit hash printed by push_to_hub>", "placeholder"),
        (("files", "model.weights.h5"), _DELETE, "must list 'model.weights.h5'"),
        (("files", "config.json", "sha256"), "ABC", "64 lowercase hex"),
        (("files", "config.json", "size"), -1, "non-negative int"),
        (("files", "../evil.h5"), {"sha256": SHA, "size": 1}, "relative path"),
        (("metrics",), {"mse": "low"}, "finite numbers"),
        (("metrics",), {"mse": float("nan")}, "finite numbers"),
        (("references",), "https://x", "list of strings"),
    ],
)
def test_schema_violations_are_named(path, value, match):
    models = {"vqvae_cifar10": copy.deepcopy(entry())}
    _set(models["vqvae_cifar10"], path, value)
    with pytest.raises(ValueError, match=match):
        registry.validate_manifest({"schema_version": 1, "models": models})


def test_manifest_level_violations():
    with pytest.raises(ValueError, match="schema_version"):
        registry.validate_manifest({"schema_version": 2, "models": {}})
    with pytest.raises(ValueError, match="missing keys \\['models'\\]"):
        registry.validate_manifest({"schema_version": 1})
    with pytest.raises(ValueError, match="checkpoint name"):
        registry.validate_manifest({"schema_version": 1, "models": {"Bad Name": entry()}})
    registry.validate_manifest({"schema_version": 1, "models": {"ok": entry(references=["https://x"])}})


def test_invalid_manifest_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    path.write_text("{not json")
    monkeypatch.setenv(registry.MANIFEST_ENV_VAR, str(path))
    with pytest.raises(ValueError, match="not valid JSON"):
        keras_genae.list_models()
    path.write_text(json.dumps({"schema_version": 1, "models": {"x": entry(architecture="Nope")}}))
    with pytest.raises(ValueError, match="registered architecture"):
        keras_genae.list_models()


# -------------------------------------------------------- building entries
def test_entry_from_checkpoint_then_add_to_manifest(tmp_path, monkeypatch, capsys):
    model = keras_genae.VAE(image_shape=(8, 8, 1), latent_dim=2, encoder_filters=(4,))
    directory = tmp_path / "vae_tiny"
    printed_entry = keras_genae.save_pretrained(
        model, directory, dataset="synthetic", data_license="CC0-1.0", metrics={"elbo": 12.5},
        description="A tiny VAE.", preprocessing="none, already in [0, 1]", print_manifest=True,
    )
    assert '"vae_tiny"' in capsys.readouterr().out
    # Before the push the Hub location is a placeholder that validation rejects.
    with pytest.raises(ValueError, match="hub"):
        registry.validate_entry("vae_tiny", printed_entry)

    built = manifest_writer.manifest_entry_from_checkpoint(directory, repo_id="keras-genae/vae_tiny", revision=COMMIT)
    registry.validate_entry("vae_tiny", built)
    assert built["architecture"] == "VAE"
    assert built["dataset"] == "synthetic" and built["data_license"] == "CC0-1.0"
    assert built["metrics"] == {"elbo": 12.5}
    assert built["input"]["shape"] == [8, 8, 1]
    assert built["input"]["preprocessing"] == "none, already in [0, 1]"
    assert sorted(built["files"]) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    for name, info in built["files"].items():
        assert (info["sha256"], info["size"]) == registry.file_digest(directory / name)

    manifest = tmp_path / "weights_manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": {"vqvae_cifar10": entry()}}))
    manifest_writer.add_to_manifest("vae_tiny", built, path=manifest)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    monkeypatch.setenv(registry.MANIFEST_ENV_VAR, str(manifest))
    assert keras_genae.list_models() == ["vae_tiny", "vqvae_cifar10"]
    assert keras_genae.model_info("vae_tiny")["files"] == built["files"]
    with pytest.raises(ValueError, match=r"models\['vae_bad'\]\.hub"):
        manifest_writer.add_to_manifest("vae_bad", printed_entry, path=manifest)
    assert keras_genae.list_models() == ["vae_tiny", "vqvae_cifar10"]


def test_add_to_manifest_writes_only_the_file_it_is_given(tmp_path):
    shipped = registry.manifest_path()
    before = shipped.read_bytes()
    with pytest.raises(TypeError, match="path"):
        manifest_writer.add_to_manifest("x", entry())  # No default manifest.
    with pytest.raises(ValueError, match=r"`path` must name the manifest file.*Received: path=None"):
        manifest_writer.add_to_manifest("x", entry(), path=None)
    # A symlinked manifest (as at the repository root) rewrites its target.
    target = tmp_path / "real" / "weights_manifest.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"schema_version": 1, "models": {}}))
    link = tmp_path / "weights_manifest.json"
    link.symlink_to(target)
    manifest_writer.add_to_manifest("zz_new", entry(), path=link)
    manifest_writer.add_to_manifest("aa_new", entry(), path=link)
    assert link.is_symlink()
    data = json.loads(target.read_text())
    assert list(data["models"]) == ["aa_new", "zz_new"] and data["schema_version"] == 1
    assert shipped.read_bytes() == before
    # The read side has no authoring functions.
    assert not hasattr(registry, "add_to_manifest") and not hasattr(registry, "manifest_entry_from_checkpoint")
