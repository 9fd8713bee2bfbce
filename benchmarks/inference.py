"""Inference throughput of one zoo checkpoint per family, on every backend.

Usage:
    python benchmarks/inference.py [--out benchmarks/results] [--readme README.md]
        [--backends tensorflow jax torch] [--models vae_mnist ...] [--seconds 0.5]

For each backend (each in its own subprocess: KERAS_BACKEND is fixed per
process) and each checkpoint, at batch 1 and batch 256, it times `encode`,
`decode`, `reconstruct` and `sample` in images per second two ways, side by
side in the same process:

- direct: the method's plain Keras ops, run op by op (what a call did
  before keras_genae compiled inference), under
  `keras_genae.inference.uncompiled()`;
- compiled: the method as it is called, `model.reconstruct(x)`
  (`tf.function`, `jax.jit` or PyTorch's no-grad path).

Each figure is the best of 5 timings of as many calls as fit in `--seconds`
(at least one), the two paths alternating, after one warm-up call of each
(the trace is excluded). It writes
`inference.json` and `inference.md` to `--out` (a run of some `--backends`
replaces their rows and keeps the others') and, with `--readme`, rewrites
the summary table between the `inference-table` markers.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

import numpy as np

# The repository, for its tools (the script's own folder is first on the path).
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.readme_tables import replace_section  # noqa: E402
from tools.timing import seconds_per_call as _time_once  # noqa: E402

MODELS = ("ae_mnist", "dae_mnist", "vae_mnist", "vqvae_cifar10", "aae_mnist", "dcgan_mnist")
BACKENDS = ("tensorflow", "jax", "torch")
BATCHES = (1, 256)
METHODS = ("encode", "decode", "reconstruct", "sample")


# --------------------------------------------------------------- the worker
def side_by_side(call, uncompiled, seconds, rounds=5):
    """Seconds per call (direct, compiled): the best of `rounds` timings of
    each, alternating, after one warm-up call of each (traces excluded)."""
    def direct():
        with uncompiled():
            call()

    direct(), call()
    times = {direct: float("inf"), call: float("inf")}
    for _ in range(rounds):
        for fn in times:
            times[fn] = min(times[fn], _time_once(fn, seconds))
    return times[direct], times[call]


def worker(models, seconds):
    import keras

    import keras_genae
    from keras_genae.inference import uncompiled

    numpy = keras.ops.convert_to_numpy
    rng = np.random.default_rng(0)
    for name in models:
        model = keras_genae.load(name, compile=False)
        for batch in BATCHES:
            x = rng.random((batch,) + tuple(model.image_shape), dtype=np.float32)
            calls = {}
            if "encode" in model.capabilities:
                z = numpy(model.encode(x))
                calls["encode"] = lambda: model.encode(x)
                calls["reconstruct"] = lambda: model.reconstruct(x)
            else:  # a GAN: latents from its own prior (a conditional one's carry the class)
                z = numpy(model.sample_latents(batch, seed=0))
            calls["decode"] = lambda: model.decode(z)
            if "sample" in model.capabilities:
                calls["sample"] = lambda: model.sample(batch)
            for method in METHODS:
                if method not in calls:
                    continue
                # Both paths end in numpy, so that lazy backends finish the work.
                call = calls[method]
                direct, compiled = side_by_side(lambda: numpy(call()), uncompiled, seconds)
                row = {"model": name, "backend": keras.backend.backend(), "batch": batch,
                       "method": method, "direct": round(batch / direct, 1),
                       "compiled": round(batch / compiled, 1)}
                print(json.dumps(row), flush=True)


# ----------------------------------------------------------------- the report
def run_backend(backend, models, seconds):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, __file__, "--worker", "--seconds", str(seconds), "--models", *models]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"the {backend} worker failed (status {done.returncode})")
    return rows


def _fmt(value):
    return f"{value:,.0f}"


def full_table(rows):
    lines = ["| checkpoint | backend | batch | method | direct img/s | compiled img/s | compiled / direct |",
             "|---|---|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r['model']}` | {r['backend']} | {r['batch']} | {r['method']} | "
                     f"{_fmt(r['direct'])} | {_fmt(r['compiled'])} | {r['compiled'] / r['direct']:.2f}x |")
    return "\n".join(lines)


def summary_table(rows, backends):
    """Compiled (direct) img/s of reconstruct, or sample for a GAN, per
    checkpoint, batch and backend."""
    lines = ["| checkpoint | method | batch | " + " | ".join(backends) + " |",
             "|---|---|---:|" + "---:|" * len(backends)]
    keyed = {(r["model"], r["batch"], r["method"], r["backend"]): r for r in rows}
    for model in dict.fromkeys(r["model"] for r in rows):
        method = "reconstruct" if (model, BATCHES[0], "reconstruct", backends[0]) in keyed else "sample"
        for batch in BATCHES:
            cells = []
            for backend in backends:
                r = keyed.get((model, batch, method, backend))
                cells.append(f"{_fmt(r['compiled'])} ({_fmt(r['direct'])})" if r else "-")
            lines.append(f"| `{model}` | {method} | {batch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fastest(rows, backends):
    """The backend with the highest compiled throughput at batch 256, as a
    geometric mean over every checkpoint and method."""
    def score(backend):
        values = [r["compiled"] for r in rows if r["backend"] == backend and r["batch"] == BATCHES[-1]]
        return float(np.exp(np.mean(np.log(values)))) if values else 0.0
    return max(backends, key=score), {b: round(score(b), 1) for b in backends}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seconds", type=float, default=0.5, help="time per timing")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--readme", default=None, help="README.md to update")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.models, args.seconds)
    rows = []
    for backend in args.backends:
        rows += run_backend(backend, args.models, args.seconds)
    previous = os.path.join(args.out, "inference.json")
    if set(args.backends) != set(BACKENDS) and os.path.exists(previous):
        # A rerun of some backends replaces their rows and keeps the others'.
        with open(previous) as f:
            kept = [r for r in json.load(f) if r["backend"] not in args.backends]
        rows = sorted(kept + rows, key=lambda r: BACKENDS.index(r["backend"]))
        args.backends = [b for b in BACKENDS if any(r["backend"] == b for r in rows)]
    best, scores = fastest(rows, args.backends)
    import keras

    header = (f"`python benchmarks/inference.py`: images/s on {os.cpu_count()} CPUs, "
              f"{platform.processor() or platform.machine()}, keras {keras.__version__}. "
              "Compiled is the method as called (`model.reconstruct(x)`); direct is its "
              "plain Keras ops run op by op. Fastest compiled backend at batch 256 "
              f"(geometric mean over checkpoints and methods, img/s): **{best}** "
              f"({', '.join(f'{b} {s:,.0f}' for b, s in scores.items())}).")
    summary = header + "\n\nCompiled (direct) img/s:\n\n" + summary_table(rows, args.backends)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "inference.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.out, "inference.md"), "w") as f:
        f.write(summary + "\n\nEvery method:\n\n" + full_table(rows) + "\n")
    print(summary)
    if args.readme:
        replace_section(args.readme, "inference-table", summary)


if __name__ == "__main__":
    main()
