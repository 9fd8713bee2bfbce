"""Deployment: file sizes and latency of exported zoo checkpoints.

Usage:
    python benchmarks/export.py [--out benchmarks/results] [--readme README.md]
        [--models vae_mnist ...] [--seconds 0.3]

For one zoo checkpoint per family, on the TensorFlow backend, it exports
the model with `model.export` as a SavedModel, ONNX and LiteRT, then, in
this one process and side by side, times the `serve` endpoint (what
`predict` returns: reconstructions, a GAN's images from latents, a
classifier's logits) at batch 1 and batch 64 on real test images:

- Keras: `model.predict(x, batch_size=len(x))`, and, beside it, the
  model's compiled method (`model.reconstruct(x)`, a GAN's `decode(z)`;
  `keras_genae.inference`), which skips `predict`'s per-call set-up;
- onnxruntime: `InferenceSession.run` of `serve.onnx`, its default
  threads with spin-waiting off (`session.intra_op.allow_spinning=0`): with
  it on, its threads fight other jobs for the CPUs (`vqvae_cifar10` at
  batch 64 took 546 ms instead of 196 ms on this loaded 2-core machine);
- LiteRT: the `ai_edge_litert` interpreter's signature runner of
  `serve.tflite` (XNNPACK, as many threads as CPUs).

Each latency is the median of 3 timings of as many calls as fit in
`--seconds` (after one warm-up call), the runtimes alternating. Sizes are
the SavedModel directory (every endpoint, the weights once) and the
`serve` file of ONNX and LiteRT. It writes `export.json` and `export.md`
to `--out` and, with `--readme`, the table between the `export-table`
markers. The machine's load average is in the header: other jobs share
its CPUs.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository

import numpy as np  # noqa: E402

from tools.readme_tables import replace_section  # noqa: E402
from tools.timing import seconds_per_call as _time_once  # noqa: E402

MODELS = ("ae_mnist", "dae_mnist", "vae_mnist", "vqvae_cifar10", "aae_mnist", "dcgan_mnist",
          "classifier_mnist")
FORMATS = ("tf_saved_model", "onnx", "litert")
RUNTIMES = ("keras", "method", "onnxruntime", "litert")
BATCHES = (1, 64)


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def side_by_side(calls, seconds, rounds=3):
    """Milliseconds per call of each of `calls` (name -> fn): the median of
    `rounds` timings, alternating, after one warm-up call of each."""
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            times[name].append(_time_once(call, seconds))
    return {name: round(1000 * float(np.median(t)), 3) for name, t in times.items()}


def serve_input(model, batch, rng):
    """A batch for `serve`: real test images, or a GAN's latents."""
    from keras_genae.data import samples
    from keras_genae.export import model_endpoints
    from keras_genae.export import serve_target

    endpoint = model_endpoints(model)[serve_target(model)]
    if endpoint.inputs[0].name == "images":
        x, _ = samples.sample_images("cifar10" if model.image_shape[-1] == 3 else "mnist")
        return np.resize(x, (batch,) + x.shape[1:]).astype("float32")
    return rng.standard_normal((batch,) + endpoint.inputs[0].shape[1:]).astype("float32")


def measure(name, work, seconds):
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    import keras

    import keras_genae
    from keras_genae.export import serve_target

    model = keras_genae.load(name, compile=False)
    method = serve_target(model)
    row = {"model": name, "family": type(model).__name__, "size": {}, "export_s": {}, "latency_ms": {}}
    for format in FORMATS:
        out = os.path.join(work, f"{name}-{format}")
        start = time.perf_counter()
        model.export(out, format=format, endpoints=None if format == "tf_saved_model" else ["serve"])
        row["export_s"][format] = round(time.perf_counter() - start, 1)
        single = {"onnx": "serve.onnx", "litert": "serve.tflite"}.get(format)
        row["size"][format] = _size(os.path.join(out, single) if single else out)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(os.path.join(work, f"{name}-onnx", "serve.onnx"), options)
    feed = session.get_inputs()[0].name
    runner = Interpreter(model_path=os.path.join(work, f"{name}-litert", "serve.tflite"),
                         num_threads=os.cpu_count()).get_signature_runner()
    rng = np.random.default_rng(0)
    for batch in BATCHES:
        x = serve_input(model, batch, rng)
        expected = model.predict(x, batch_size=batch, verbose=0)
        got = {"onnxruntime": session.run(None, {feed: x})[0],
               "litert": next(iter(runner(**{feed: x}).values()))}
        row.setdefault("max_abs_diff", {})[batch] = {k: float(np.max(np.abs(v - expected)))
                                                     for k, v in got.items()}
        calls = {"keras": lambda: model.predict(x, batch_size=batch, verbose=0),
                 "onnxruntime": lambda: session.run(None, {feed: x}),
                 "litert": lambda: runner(**{feed: x})}
        if method in ("reconstruct", "decode"):  # a classifier's logits have no compiled method
            calls["method"] = lambda: keras.ops.convert_to_numpy(getattr(model, method)(x))
        row["latency_ms"][batch] = side_by_side(calls, seconds)
    return row


def _mb(n):
    return f"{n / 1e6:.2f}"


def table(rows):
    lines = ["| checkpoint | family | SavedModel MB | ONNX MB | LiteRT MB | batch | Keras `predict` ms "
             "| compiled method ms | onnxruntime ms | LiteRT ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for i, batch in enumerate(BATCHES):
            t = r["latency_ms"][batch]
            sizes = [_mb(r["size"][f]) for f in FORMATS] if i == 0 else ["", "", ""]
            fastest = min(t, key=t.get)
            cells = ["-" if k not in t else f"**{t[k]:.2f}**" if k == fastest else f"{t[k]:.2f}"
                     for k in RUNTIMES]
            lines.append(f"| `{r['model']}` | {r['family'] if i == 0 else ''} | " + " | ".join(sizes)
                         + f" | {batch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seconds", type=float, default=0.3, help="time per timing")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--readme", default=None, help="README.md to update")
    args = parser.parse_args(argv)
    import keras

    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix="genae-export-bench-")
    try:
        rows = []
        for name in args.models:
            rows.append(measure(name, work, args.seconds))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    worst = max(max(d.values()) for r in rows for d in r["max_abs_diff"].values())
    header = (f"`python benchmarks/export.py`: the `serve` endpoint (what `predict` returns) of each "
              f"checkpoint, milliseconds per batch, median of 3; fastest in bold. "
              f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, keras "
              f"{keras.__version__}, TensorFlow backend; load average {load_before[0]:.1f} before and "
              f"{load_after[0]:.1f} after the run (1-minute averages, which count this run's own "
              f"work); onnxruntime without "
              f"spin-waiting. Sizes: the SavedModel "
              f"directory (every endpoint) and the `serve` file of ONNX and LiteRT. Largest "
              f"difference from `predict` over the timed batches: {worst:.1e}.")
    summary = header + "\n\n" + table(rows)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "export.json"), "w") as f:
        json.dump({"load_average": [load_before, load_after], "rows": rows}, f, indent=1)
    with open(os.path.join(args.out, "export.md"), "w") as f:
        f.write(summary + "\n")
    print(summary)
    if args.readme:
        replace_section(args.readme, "export-table", summary)


if __name__ == "__main__":
    main()
