"""Deployment: `model.export` and `genae export` (keras_genae.export).

Every family exports with no arguments; each exported endpoint, run in
its own runtime (TensorFlow for a SavedModel, onnxruntime for ONNX, the
LiteRT interpreter for LiteRT), matches the Keras model within 1e-4 on
real test images. The default run covers SavedModel and ONNX on every
family with tiny models, LiteRT on two, and one shipped checkpoint in
each format; `-m slow` runs every format on every zoo checkpoint, and
the JAX and PyTorch backends in subprocesses.
"""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_genae
from keras_genae.cli import main
from keras_genae.export import FORMATS
from keras_genae.export import check_format
from keras_genae.export import model_endpoints
from keras_genae.hub import save_pretrained
from keras_genae.hub.manifest import get_manifest
from keras_genae.models import ARCHITECTURES
from keras_genae.models import FeatureClassifier
from tests.helpers import TINY_CONFIGS
from tests.helpers import load_test_images
from tests.helpers import tiny_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATOL = 1e-4
numpy = keras.ops.convert_to_numpy
FAMILIES = sorted(ARCHITECTURES) + ["FeatureClassifier"]
DATASET = {"VQVAE": "cifar10"}  # the others on MNIST
ZOO = sorted(get_manifest())


def family_model(name):
    if name == "FeatureClassifier":
        return FeatureClassifier(image_shape=(28, 28, 1), **TINY_CONFIGS[name])
    return tiny_model(ARCHITECTURES[name], dataset=DATASET.get(name, "mnist"))


def dataset_of(model):
    return "cifar10" if tuple(model.image_shape) == (32, 32, 3) else "mnist"


# ------------------------------------------------------------- references
def endpoint_inputs(model, endpoint, n=8, seed=0):
    """Real inputs of `endpoint`: test images, their latents, prior noise."""
    rng = np.random.default_rng(seed)
    x, y = load_test_images(dataset_of(model), n)
    if endpoint.name == "decode":
        if "encode" in model.capabilities:
            return [numpy(model.encode(x))]
        return [rng.standard_normal((n,) + endpoint.inputs[0].shape[1:]).astype("float32")]
    if endpoint.name == "sample":
        noise_shape = (n,) + endpoint.inputs[0].shape[1:]
        uniform = len(noise_shape) == 4  # a PixelCNN's Gumbel noise
        noise = (rng.uniform(1e-6, 1 - 1e-6, noise_shape) if uniform
                 else rng.standard_normal(noise_shape)).astype("float32")
        if len(endpoint.inputs) == 2:
            return [noise, (y % 10).astype("int32")]
        return [noise]
    return [x]


def keras_reference(model, endpoint, inputs):
    """What the Keras model gives for the same inputs, through its methods."""
    name = endpoint.name
    if name in ("reconstruct", "encode", "features"):
        return numpy(getattr(model, name)(inputs[0]))
    if name == "classify":
        return model.predict(inputs[0], verbose=0)
    if name == "decode":
        return numpy(model.decode(inputs[0]))
    return numpy(endpoint.fn(*[keras.ops.convert_to_tensor(v) for v in inputs]))


def run_exported(format, directory, name, inputs, endpoint):
    """Run one exported endpoint in the format's own runtime."""
    names = [i.name for i in endpoint.inputs]
    if format == "tf_saved_model":
        import tensorflow as tf

        reloaded = tf.saved_model.load(str(directory))  # held: its variables live with it
        return np.asarray(getattr(reloaded, name)(*inputs))
    if format == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(directory / f"{name}.onnx"))
        assert [i.name for i in session.get_inputs()] == names
        return session.run(None, dict(zip(names, inputs)))[0]
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(directory / f"{name}.tflite")).get_signature_runner()
    (output,) = runner(**dict(zip(names, inputs))).values()
    return output


def assert_parity(model, directory, format, endpoints=None):
    """Every endpoint of the export at `directory` against Keras: max abs
    difference <= ATOL (equal code indices). Returns {endpoint: diff}."""
    found = model_endpoints(model)
    exported = json.loads((directory / "endpoints.json").read_text())["endpoints"]
    diffs = {}
    for name in endpoints or [n for n in exported if n != "serve"]:
        endpoint = found[name]
        inputs = endpoint_inputs(model, endpoint)
        expected = keras_reference(model, endpoint, inputs)
        got = run_exported(format, directory, name, inputs, endpoint)
        assert got.shape == expected.shape and str(got.dtype) == endpoint.output.dtype, (name, got.dtype)
        if "int" in endpoint.output.dtype:
            np.testing.assert_array_equal(got, expected, err_msg=name)
            diffs[name] = 0.0
        else:
            diffs[name] = float(np.max(np.abs(got - expected)))
            assert diffs[name] <= ATOL, (name, diffs[name])
    return diffs


# ----------------------------------------------------------------- parity
@pytest.mark.parametrize("format", ["tf_saved_model", "onnx"])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_exports_with_no_arguments_and_matches_keras(family, format, tmp_path):
    model = family_model(family)
    out = tmp_path / "export"
    if format == "tf_saved_model":
        model.export(out)  # Keras' default format, no input_signature
    else:
        model.export(out, format=format)
    endpoints = model_endpoints(model)
    manifest = json.loads((out / "endpoints.json").read_text())
    expected = (["serve"] if format == "tf_saved_model" else []) + list(endpoints)
    assert list(manifest["endpoints"]) == expected
    readme = (out / "README.md").read_text()
    for name, endpoint in endpoints.items():
        assert f"| `{name}`" in readme and endpoint.output.describe() in readme
    if format == "onnx":
        assert sorted(os.listdir(out)) == sorted(["README.md", "endpoints.json"] +
                                                 [f"{n}.onnx" for n in endpoints])
    assert_parity(model, out, format)
    if format == "tf_saved_model":  # `serve` is the model's call: predict's output
        import tensorflow as tf

        x = endpoint_inputs(model, endpoints[manifest["serve"]])
        reloaded = tf.saved_model.load(str(out))
        np.testing.assert_allclose(np.asarray(reloaded.serve(*x)), model.predict(*x, verbose=0),
                                   atol=ATOL)


@pytest.mark.parametrize("family", ["VQVAE", "FeatureClassifier"])
def test_litert_endpoints_match_keras(family, tmp_path):
    model = family_model(family)
    model.export(tmp_path / "lite", format="litert")
    assert_parity(model, tmp_path / "lite", "litert")


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(set(FAMILIES) - {"VQVAE", "FeatureClassifier"}))
def test_litert_endpoints_match_keras_every_family(family, tmp_path):
    test_litert_endpoints_match_keras(family, tmp_path)


def assert_sample_is_the_models(model, labels=(0, 3, 7)):
    """The `sample` endpoint, given the noise `model.sample(n, seed=s,
    labels=...)` draws, returns its images. Returns (noise, labels, images)."""
    h, w = model.latent_shape
    noise = keras.random.uniform((len(labels), h, w, model.num_embeddings), 1e-6, 1 - 1e-6,
                                 seed=keras.random.SeedGenerator(5))
    labels = np.asarray(labels, "int32")
    got = numpy(model_endpoints(model)["sample"].fn(noise, labels))
    np.testing.assert_allclose(got, numpy(model.sample(len(labels), seed=5, labels=labels)), atol=1e-5)
    return noise, labels, got


def test_vqvae_endpoints_speak_codes_and_sample_as_the_model_does(tmp_path):
    """`encode` gives int32 code grids, `decode` takes them, and `sample`
    given the noise `model.sample(n, seed=s, labels=...)` draws returns its images."""
    model = family_model("VQVAE")
    endpoints = model_endpoints(model)
    h, w = model.latent_shape
    assert endpoints["encode"].output.dtype == "int32" and endpoints["encode"].output.shape == (None, h, w)
    assert [(i.name, i.dtype) for i in endpoints["decode"].inputs] == [("codes", "int32")]
    assert [(i.name, i.shape) for i in endpoints["sample"].inputs] == [
        ("noise", (None, h, w, model.num_embeddings)), ("labels", (None,))]
    noise, labels, got = assert_sample_is_the_models(model)
    model.export(tmp_path / "sm", endpoints=["encode", "sample"])
    import tensorflow as tf

    reloaded = tf.saved_model.load(str(tmp_path / "sm"))
    np.testing.assert_allclose(np.asarray(reloaded.sample(noise, labels)), got, atol=ATOL)
    x, _ = load_test_images("cifar10", 4)
    assert str(reloaded.encode(x).dtype) == "<dtype: 'int32'>"
    assert not hasattr(reloaded, "decode")  # only the endpoints asked for


def test_single_file_and_endpoint_choice(tmp_path):
    model = family_model("VAE")
    path = model.export(tmp_path / "vae.onnx", format="onnx")  # Keras' way: one file, `serve`
    assert path.is_file() and sorted(os.listdir(tmp_path)) == ["vae.onnx"]
    import onnxruntime as ort

    x, _ = load_test_images("mnist", 4)
    got = ort.InferenceSession(str(path)).run(None, {"images": x})[0]
    np.testing.assert_allclose(got, numpy(model.reconstruct(x)), atol=ATOL)
    model.export(tmp_path / "enc.onnx", format="onnx", endpoints=["encode"])
    out = model.export(tmp_path / "two", format="onnx", endpoints=["serve", "sample"], batch_size=4)
    assert sorted(os.listdir(out)) == ["README.md", "endpoints.json", "sample.onnx", "serve.onnx"]
    manifest = json.loads((out / "endpoints.json").read_text())
    assert manifest["endpoints"]["sample"]["inputs"] == [
        {"name": "noise", "shape": [4, model.latent_dim], "dtype": "float32"}]


@pytest.mark.parametrize("call, error", [
    (dict(format="keras"), r"`format` must be one of \['tf_saved_model', 'onnx', 'litert', "
                           r"'openvino', 'torch'\]\. Received: format='keras'"),
    (dict(format="torch"), r"Keras exports format='torch' only on the torch backend, not on "
                           r"'tensorflow'\. Set KERAS_BACKEND=torch"),
    (dict(endpoints=["encode"]), r"Unknown endpoint 'encode' for DCGAN\. It has: \['serve', "
                                 r"'decode', 'sample'\] \(`serve` is `decode`\)"),
    (dict(endpoints=[]), r"`endpoints` must name each endpoint once"),
    (dict(input_signature=[keras.InputSpec(shape=(None, 8))]), r"know their input specs"),
    (dict(batch_size=0), r"`batch_size` must be a positive integer or None\. Received: batch_size=0"),
])
def test_bad_arguments_raise_one_clear_error(call, error, tmp_path):
    model = family_model("DCGAN")
    with pytest.raises(ValueError, match=error):
        model.export(tmp_path / "out", **call)
    assert not (tmp_path / "out").exists()


def test_existing_paths_and_files_of_one_endpoint(tmp_path):
    model = family_model("DCGAN")
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match=r"already exists: choose a new path, or pass `overwrite=True`"):
        model.export(tmp_path / "out", format="onnx")
    model.export(tmp_path / "out", format="onnx", overwrite=True)
    assert sorted(os.listdir(tmp_path / "out")) == ["README.md", "decode.onnx", "endpoints.json",
                                                    "sample.onnx"]
    with pytest.raises(ValueError, match=r"holds one endpoint; name one"):
        model.export(tmp_path / "g.onnx", format="onnx", endpoints=["decode", "sample"])


def test_a_graph_onnx_cannot_hold_is_refused(tmp_path, monkeypatch):
    """Without `portable_ops`, tf2onnx leaves Keras' float `argmin` (a
    bitcast) unconverted and writes the file anyway: the check refuses it."""
    import contextlib

    from keras_genae.export import formats

    monkeypatch.setattr(formats, "portable_ops", contextlib.nullcontext)
    with pytest.raises(ValueError, match=r"The `encode` endpoint did not convert to a valid ONNX graph"):
        family_model("VQVAE").export(tmp_path / "out", format="onnx", endpoints=["encode"])
    assert not (tmp_path / "out").exists()


def test_format_table_names_the_backends_that_can():
    assert FORMATS["tf_saved_model"].backends == ("tensorflow", "jax")
    assert FORMATS["litert"].backends == ("tensorflow", "torch")
    with pytest.raises(ValueError, match=r"only on the tensorflow or torch backend, not on 'jax'"):
        check_format("litert", backend="jax")
    with pytest.raises(ValueError, match=r"only on the tensorflow or jax backend, not on 'torch'"):
        check_format("tf_saved_model", backend="torch")
    assert check_format("onnx", backend="tensorflow").extension == ".onnx"


# ------------------------------------------------------------ zoo checkpoints
@pytest.mark.parametrize("format", ["tf_saved_model", "onnx", "litert"])
def test_a_shipped_checkpoint_exports_with_no_arguments(format, tmp_path):
    model = keras_genae.load("vae_mnist", compile=False)
    model.export(tmp_path / "out", format=format)
    diffs = assert_parity(model, tmp_path / "out", format)
    assert set(diffs) == {"reconstruct", "encode", "decode", "sample"}


@pytest.mark.slow
@pytest.mark.parametrize("format", ["tf_saved_model", "onnx", "litert"])
@pytest.mark.parametrize("name", ZOO)
def test_every_shipped_checkpoint_exports_and_matches_keras(name, format, tmp_path):
    model = keras_genae.load(name, compile=False)
    model.export(tmp_path / "out", format=format)
    diffs = assert_parity(model, tmp_path / "out", format)
    print(f"PARITY {name} {format} {json.dumps(diffs)}")
    if format == "onnx" and isinstance(model, keras_genae.VQVAE):
        assert_sample_is_the_models(model)


# ---------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt") / "tiny_gan"
    save_pretrained(family_model("DCGAN"), directory)
    return directory


def test_cli_export_writes_the_files_and_a_readme(checkpoint, tmp_path, capsys):
    out = tmp_path / "onnx"
    assert main(["export", str(checkpoint), "--format", "onnx", "--out", str(out),
                 "--endpoints", "sample"]) == 0
    assert sorted(os.listdir(out)) == ["README.md", "endpoints.json", "sample.onnx"]
    readme = (out / "README.md").read_text()
    assert "`sample.onnx`" in readme and "`noise` (n, 8) float32" in readme
    assert "Wrote" in capsys.readouterr().out


@pytest.mark.parametrize("argv, error", [
    (["--format", "onnx", "--endpoints", "encode"], r"Unknown endpoint 'encode' for DCGAN\. It has"),
    (["--format", "onnx", "--endpoints", "sampel"], r"Did you mean 'sample'\? It has"),
    (["--format", "onnx", "--out", "EXISTING"], r"already exists"),
    (["--format", "pickle"], r"invalid choice: 'pickle'"),
])
def test_cli_export_refuses_bad_input_with_one_line(checkpoint, tmp_path, capsys, argv, error):
    (tmp_path / "EXISTING").mkdir()
    argv = [str(tmp_path / a) if a == "EXISTING" else a for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "new")]
    assert main(["export", str(checkpoint)] + argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(error, err), err
    assert not (tmp_path / "new").exists()


def test_cli_export_names_close_checkpoints(tmp_path, capsys):
    assert main(["export", "vqvae_cifar1", "--format", "onnx", "--out", str(tmp_path / "o")]) == 1
    assert "Did you mean 'vqvae_cifar10'" in capsys.readouterr().err


# ------------------------------------------------------------ other backends
BACKEND_SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
import keras
import pytest
from keras_genae.export import NotExportableError
from tests.test_export import assert_parity, family_model
work, backend = Path(sys.argv[1]), keras.backend.backend()
result = {{}}
if backend == "jax":  # SavedModel through jax2tf, the PixelCNN's loop included
    model = family_model("VQVAE")
    model.export(work / "sm")
    result["VQVAE tf_saved_model"] = assert_parity(model, work / "sm", "tf_saved_model")
    with pytest.raises(ValueError, match="only on the tensorflow or torch backend, not on 'jax'"):
        model.export(work / "lite", format="litert")
    model = family_model("VAE")  # ONNX through jax2onnx
    model.export(work / "vae", format="onnx")
    result["VAE onnx"] = assert_parity(model, work / "vae", "onnx")
else:  # ONNX through torch.onnx
    model = family_model("VAE")
    model.export(work / "vae", format="onnx")
    result["VAE onnx"] = assert_parity(model, work / "vae", "onnx")
    model = family_model("VQVAE")
    model.export(work / "vq", format="onnx")  # no `sample` here: the README says why
    result["VQVAE onnx"] = assert_parity(model, work / "vq", "onnx")
    assert "`sample` is not in this export: the PixelCNN prior" in (work / "vq" / "README.md").read_text()
    with pytest.raises(NotExportableError, match="on the tensorflow backend"):
        model.export(work / "vq2", format="onnx", endpoints=["sample"])
print(json.dumps(result))
"""


@pytest.mark.parametrize("backend, expected", [
    ("jax", {"VQVAE tf_saved_model": ["reconstruct", "encode", "decode", "sample"],
             "VAE onnx": ["reconstruct", "encode", "decode", "sample"]}),
    ("torch", {"VAE onnx": ["reconstruct", "encode", "decode", "sample"],
               "VQVAE onnx": ["reconstruct", "encode", "decode"]}),
])
def test_other_backends_export(backend, expected, tmp_path):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    script = tmp_path / "run.py"
    script.write_text(BACKEND_SCRIPT.format(root=ROOT))
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    diffs = json.loads(done.stdout.strip().splitlines()[-1])
    assert {case: list(d) for case, d in diffs.items()} == expected
