"""The README.md and endpoints.json written beside an export."""

import keras

from keras_genae.utils.io import write_json

USAGE = {
    "tf_saved_model": (
        "```python\nimport tensorflow as tf\nreloaded = tf.saved_model.load(\"{path}\")\n"
        "y = reloaded.{first}({args})\n```"),
    "onnx": (
        "```python\nimport onnxruntime as ort\nsession = ort.InferenceSession(\"{path}/{first}.onnx\")\n"
        "y = session.run(None, {{{feeds}}})[0]\n```"),
    "litert": (
        "```python\nfrom ai_edge_litert.interpreter import Interpreter\n"
        "runner = Interpreter(model_path=\"{path}/{first}.tflite\").get_signature_runner()\n"
        "y = next(iter(runner({kwargs}).values()))\n```"),
}


def _where(format, name, extension):
    return f"signature `{name}`" if extension is None else f"`{name}{extension}`"


def describe(model, endpoints, format, extension, serve, source=None, skipped=None):
    """The README text of an export: each endpoint with its inputs, output
    and file; how to run it; what is not exported."""
    title = source or type(model).__name__
    lines = [f"# {title}: exported as `{format}`", "",
             f"`{type(model).__name__}` (capabilities {sorted(model.capabilities)}), exported by "
             f"keras_genae on the {keras.backend.backend()} backend (keras {keras.__version__}). "
             "Images are float32 NHWC in [0, 1]; `n` is any batch size. The graphs hold no "
             "random op: `sample` takes the noise, drawn by the caller.", "",
             "| endpoint | where | inputs | output | what it does |", "|---|---|---|---|---|"]
    for name, endpoint in endpoints.items():
        inputs = "<br>".join(i.describe() for i in endpoint.inputs)
        alias = f" (= `{serve}`)" if name == "serve" else ""
        lines.append(f"| `{name}`{alias} | {_where(format, name, extension)} | {inputs} | "
                     f"{endpoint.output.describe()} | {endpoint.doc} |")
    if format in USAGE:
        first = next(iter(endpoints))
        feeds = ", ".join(f'"{i.name}": {i.name}' for i in endpoints[first].inputs)
        lines += ["", "Run it:", "", USAGE[format].format(
            path=".", first=first, feeds=feeds, args=", ".join(i.name for i in endpoints[first].inputs),
            kwargs=", ".join(f"{i.name}={i.name}" for i in endpoints[first].inputs))]
    for name, reason in (skipped or {}).items():
        lines += ["", f"`{name}` is not in this export: {reason}."]
    return "\n".join(lines) + "\n"


def manifest(model, endpoints, format, extension, serve, skipped=None):
    """The JSON twin of the README: endpoint -> file, inputs, output."""
    def info(i):
        return {"name": i.name, "shape": list(i.shape), "dtype": i.dtype}

    return {
        "format": format, "backend": keras.backend.backend(), "keras": keras.__version__,
        "model": type(model).__name__, "serve": serve,
        "endpoints": {name: {"file": None if extension is None else f"{name}{extension}",
                             "inputs": [info(i) for i in e.inputs], "output": info(e.output),
                             "doc": e.doc} for name, e in endpoints.items()},
        "not_exported": dict(skipped or {}),
    }


def write_readme(directory, model, endpoints, format, extension, serve, source=None, skipped=None):
    """Write README.md and endpoints.json into `directory`; `skipped`:
    endpoint -> why it is not exported."""
    (directory / "README.md").write_text(
        describe(model, endpoints, format, extension, serve, source, skipped), encoding="utf-8")
    write_json(directory / "endpoints.json",
               manifest(model, endpoints, format, extension, serve, skipped))
