"""Throughput, memory and load-time benchmark of every keras_genae family.

Usage:
    python benchmarks/benchmark.py [--out benchmarks/results] [--only VAE VQVAE]
        [--inputs mnist cifar10] [--batch-sizes 32 128 512] [--budget 1.5]
    python benchmarks/benchmark.py --xla      # XLA on/off comparison only

For every registered architecture with its default configuration, on
MNIST-shaped (28x28x1) and CIFAR-shaped (32x32x3) random images, at each
batch size, it measures:

- training images/s: `fit` on a `tf.data` pipeline built like
  `keras_genae.data` (uint8 images cached in memory, batched, cast to float
  after batching, prefetched; no Python per element). One warm-up epoch of
  one step traces the train function; the timed epoch then runs steps until
  `--budget` seconds have passed (at least 2 steps, at most 50), timed from
  the start of its first batch to the end of its last one.
- encode and decode images/s: `model.encode` / `model.decode` compiled with
  `tf.function` (the fast path for bulk inference; the first, tracing call
  is excluded), and the same methods called eagerly on NumPy arrays, the
  plain API, which includes its input checks (`eager_*` in the JSON).
  `decode` is given `encode`'s output (the VQ-VAE's code indices); the GAN
  has no encoder and decodes N(0, I) draws.
- peak resident memory: `ru_maxrss` of the process that ran the
  configuration (one process per configuration, so the peak is that of the
  configuration alone; it includes TensorFlow's own memory, which
  `tracemalloc` cannot see).
- cold load time, per family and input: a fresh process that has imported
  TensorFlow and Keras (not timed) times `import keras_genae` and then
  `keras_genae.load(<checkpoint dir>)` of a checkpoint saved with
  `keras_genae.save_pretrained`.

Processes: the parent imports TensorFlow once and forks one child per
configuration (and per load measurement) before any TensorFlow op has run,
so no child pays for the TensorFlow import. `--no-fork` starts fresh
interpreters instead (slower; for platforms without `fork`).

`--xla` measures training images/s at batch 128 with `jit_compile=False`
and `True` (after the warm-up, so compile time is excluded and reported
apart) and writes xla.json and xla.md.

Results depend on the machine and on what else runs on it: the JSON and
the markdown record the CPU count, the load average and versions. On a
shared CPU, compare figures from the same run.
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Imported (not used) before any fork: the children inherit the modules.
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
BATCH_SIZES = (32, 128, 512)
MAX_STEPS = 50


# ------------------------------------------------------------ child work
def _pipeline(shape, batch_size, n_distinct):
    """Random uint8 images through a keras_genae.data-style pipeline."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_distinct,) + shape, dtype=np.uint8)
    ds = tf.data.Dataset.from_tensor_slices(images).cache().repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(lambda x: tf.cast(x, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class StepTimer(keras.callbacks.Callback):
    """Time from the first batch's start to the last batch's end; stop the
    epoch once `budget` seconds have passed and `min_steps` steps ran."""

    def __init__(self, budget, min_steps=2):
        super().__init__()
        self.budget, self.min_steps = budget, min_steps
        self.start = self.end = None
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.end = time.perf_counter()
        if self.steps >= self.min_steps and self.end - self.start >= self.budget:
            self.model.stop_training = True

    @property
    def seconds(self):
        return self.end - self.start


def _time_calls(fn, arg, budget, min_calls=2, max_calls=MAX_STEPS):
    """Calls per second of `fn(arg)`, each call's result read back."""
    n, start = 0, time.perf_counter()
    while n < min_calls or (time.perf_counter() - start < budget and n < max_calls):
        keras.ops.convert_to_numpy(fn(arg))
        n += 1
    return n / (time.perf_counter() - start)


def measure_config(name, input_name, batch_size, budget, jit_compile=None, save_to=None,
                   inference=True, package_root=None):
    """Train, encode and decode one configuration; returns a result dict.
    `package_root`: import keras_genae from this folder (for comparisons)."""
    if package_root:
        sys.path.insert(0, package_root)
    import keras_genae
    from keras_genae.models import ARCHITECTURES

    shape = SHAPES[input_name]
    keras.utils.set_random_seed(0)
    model = ARCHITECTURES[name](image_shape=shape, seed=0)
    if jit_compile is None:
        model.compile()
    else:
        model.compile(jit_compile=jit_compile)
    ds = _pipeline(shape, batch_size, n_distinct=min(4 * batch_size, 1024))

    t0 = time.perf_counter()
    model.fit(ds, steps_per_epoch=1, epochs=1, verbose=0)
    warmup_s = time.perf_counter() - t0
    timer = StepTimer(budget)
    model.fit(ds, steps_per_epoch=MAX_STEPS, epochs=1, verbose=0, callbacks=[timer])
    row = {
        "architecture": name,
        "input": input_name,
        "batch_size": batch_size,
        "params": model.count_params(),
        "jit_compile": bool(model.jit_compile),
        "first_step_s": round(warmup_s, 3),
        "train_steps": timer.steps,
        "train_images_per_s": round(timer.steps * batch_size / timer.seconds, 1),
    }

    if not inference:
        return row
    x = next(iter(ds.take(1))).numpy()
    half = budget / 2
    if "encode" in model.capabilities:
        encode = tf.function(model.encode, reduce_retracing=True)
        encode(tf.constant(x))
        row["encode_images_per_s"] = round(batch_size * _time_calls(encode, tf.constant(x), half), 1)
        z = model.encode(x)
        row["eager_encode_images_per_s"] = round(
            batch_size * _time_calls(model.encode, x, half, min_calls=1), 1
        )
    else:
        z = keras.random.normal((batch_size, model.latent_dim), seed=0)
        row["encode_images_per_s"] = row["eager_encode_images_per_s"] = None
    z = tf.constant(keras.ops.convert_to_numpy(z))
    decode = tf.function(model.decode, reduce_retracing=True)
    decode(z)
    row["decode_images_per_s"] = round(batch_size * _time_calls(decode, z, half), 1)
    row["eager_decode_images_per_s"] = round(
        batch_size * _time_calls(model.decode, z, half, min_calls=1), 1
    )
    if save_to:
        keras_genae.save_pretrained(model, save_to, overwrite=True, verbose=False)
    row["peak_rss_mb"] = round(_maxrss_mb(), 1)
    return row


def measure_quantizer(batch_size, use_ema, budget, package_root=None):
    """Images/s of a `VectorQuantizer(512 codes, dim 64)` training call
    (nearest code, EMA/usage update, straight-through output) on a CIFAR-sized
    8x8 latent grid, compiled with `tf.function`."""
    if package_root:
        sys.path.insert(0, package_root)
    from keras_genae.layers import VectorQuantizer

    vq = VectorQuantizer(num_embeddings=512, embedding_dim=64, use_ema=use_ema, seed=0)
    z = tf.random.stateless_normal((batch_size, 8, 8, 64), seed=(0, 0))
    vq.build(z.shape)
    step = tf.function(lambda z: vq(z, training=True)[0])
    step(z)
    return {"quantizer_images_per_s": round(batch_size * _time_calls(step, z, budget, max_calls=200), 1),
            "peak_rss_mb": round(_maxrss_mb(), 1)}


def measure_load(directory):
    """Cold load: `import keras_genae`, then `keras_genae.load(directory)`."""
    t0 = time.perf_counter()
    import keras_genae

    t1 = time.perf_counter()
    model = keras_genae.load(directory)
    t2 = time.perf_counter()
    assert model.built
    return {"import_s": round(t1 - t0, 3), "load_s": round(t2 - t1, 3),
            "load_peak_rss_mb": round(_maxrss_mb(), 1)}


def _maxrss_mb():
    # Linux reports kilobytes, macOS bytes.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


# ------------------------------------------------------------ processes
def _run_child(fn, kwargs, use_fork):
    """Run `fn(**kwargs)` in a new process and return its result."""
    if use_fork:
        return _run_forked(fn, kwargs)
    import subprocess

    code = (  # importing this module imports TensorFlow and Keras
        "import json, sys; sys.path.insert(0, {root!r}); import benchmark as b; "
        "print('RESULT' + json.dumps(getattr(b, {fn!r})(**json.loads(sys.argv[1]))))"
    ).format(root=os.path.dirname(os.path.abspath(__file__)), fn=fn.__name__)
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True
    )
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT")]
    if out.returncode or not lines:
        raise RuntimeError(f"{fn.__name__}({kwargs}) failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT"):])


def _run_forked(fn, kwargs):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        status = 0
        try:
            payload = {"ok": fn(**kwargs)}
        except BaseException as e:  # report, never return into the parent's loop
            import traceback

            payload = {"error": f"{type(e).__name__}: {e}\n{traceback.format_exc()[-3000:]}"}
            status = 1
        with os.fdopen(write_end, "w") as f:
            f.write(json.dumps(payload))
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        data = f.read()
    os.waitpid(pid, 0)
    payload = json.loads(data) if data else {"error": "the child process died"}
    if "error" in payload:
        raise RuntimeError(f"{fn.__name__}({kwargs}) failed: {payload['error']}")
    return payload["ok"]


# ------------------------------------------------------------ reports
def _fresh_import_rss_mb():
    """Peak RSS of a fresh interpreter that imports TensorFlow and Keras."""
    import subprocess

    code = ("import resource, sys, tensorflow, keras; r = resource.getrusage("
            "resource.RUSAGE_SELF).ru_maxrss; print(r / 1048576 if sys.platform == 'darwin' "
            "else r / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        return round(float(out.stdout.strip().splitlines()[-1]), 1)
    except (ValueError, IndexError):
        return None


def _environment():
    return {
        "fresh_import_peak_rss_mb": _fresh_import_rss_mb(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
    }


def _fmt(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def markdown(report):
    env = report["environment"]
    lines = [
        f"# keras_genae benchmark\n",
        f"{env['date']}; {env['cpus']} CPUs ({env['machine']}), TensorFlow "
        f"{env['tensorflow']}, Keras {env['keras']}; load average "
        f"{env['load_average_start']} at the start, {env.get('load_average_end')} at the end"
        f" ({report['note']}). Default config of each family; `--budget "
        f"{report['budget_s']}` s of timed training per row; total run time "
        f"{report.get('total_s', '?')} s.\n",
        "Train: `fit` on a cached, prefetched `tf.data` pipeline. Encode/decode: "
        "`tf.function`-compiled `model.encode`/`model.decode` (eager API in "
        "parentheses). Peak RSS: `ru_maxrss` of the process that ran the row, "
        + ("forked from a parent that had imported TensorFlow, so it counts the "
           "memory the row touched" if report.get("fork") else "a fresh interpreter")
        + f" (for reference, a fresh interpreter peaks at "
        f"{env.get('fresh_import_peak_rss_mb')} MB while importing TensorFlow "
        "and Keras alone).\n",
        "| family | input | batch | train img/s | encode img/s | decode img/s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        enc = "—" if r["encode_images_per_s"] is None else (
            f"{_fmt(r['encode_images_per_s'])} ({_fmt(r['eager_encode_images_per_s'])})"
        )
        dec = f"{_fmt(r['decode_images_per_s'])} ({_fmt(r['eager_decode_images_per_s'])})"
        lines.append(
            f"| {r['architecture']} | {r['input']} | {r['batch_size']} | "
            f"{_fmt(r['train_images_per_s'])} | {enc} | {dec} | {_fmt(r['peak_rss_mb'])} |"
        )
    if report.get("loads"):
        lines += [
            "",
            "Cold load: a fresh process that has imported TensorFlow and Keras "
            "(not timed) runs `import keras_genae`, then `keras_genae.load(dir)` "
            "of a `save_pretrained` checkpoint.\n",
            "| family | input | parameters | import keras_genae s | load() s | peak RSS MB |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in report["loads"]:
            lines.append(
                f"| {r['architecture']} | {r['input']} | {r['params']:,} | "
                f"{r['import_s']:.2f} | {r['load_s']:.2f} | {_fmt(r['load_peak_rss_mb'])} |"
            )
    if report.get("errors"):
        lines += ["", "Errors:", ""] + [f"- {e}" for e in report["errors"]]
    return "\n".join(lines) + "\n"


def _best(rows):
    """Best of several runs of a row: highest throughputs, lowest first-step
    time and memory (the others ran while something else used the CPU)."""
    best = dict(rows[0])
    for key in best:
        values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        if not values or isinstance(best[key], bool):
            continue
        best[key] = max(values) if key.endswith("per_s") else min(values)
    return best


def compare_markdown(report):
    env = report["environment"]
    lines = [
        "# keras_genae benchmark: before and after\n",
        f"{env['date']}; {env['cpus']} CPUs ({env['machine']}), TensorFlow "
        f"{env['tensorflow']}, Keras {env['keras']}; load average "
        f"{env['load_average_start']} at the start, {env.get('load_average_end')} at the end"
        f" ({report['note']}). Before: the package in `{report['baseline']}`; after: "
        f"this tree. Each row ran alternately with both, {report['rounds']} times; "
        "best of each (highest img/s, lowest first-step time and peak RSS). First step: "
        "trace + one train step. Encode/decode: `tf.function`-compiled.\n",
        "| family | input | batch | train img/s | first step s | encode img/s | decode img/s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]

    def pair(row, key, digits=0):
        a, b = row["before"].get(key), row["after"].get(key)
        if a is None or b is None:
            return "—"
        ratio = (b / a) if key.endswith("per_s") else (a / b)
        return f"{_fmt(a, digits)} → {_fmt(b, digits)} ({ratio:.2f}x)"

    for r in report["rows"]:
        lines.append(
            f"| {r['architecture']} | {r['input']} | {r['batch_size']} | "
            f"{pair(r, 'train_images_per_s')} | {pair(r, 'first_step_s', 1)} | "
            f"{pair(r, 'encode_images_per_s')} | {pair(r, 'decode_images_per_s')} | "
            f"{pair(r, 'peak_rss_mb')} |"
        )
    if report.get("quantizer"):
        lines += [
            "",
            "`VectorQuantizer(num_embeddings=512, embedding_dim=64)` alone, training "
            "call on an 8x8x64 latent grid per image (`tf.function`):\n",
            "| codebook learning | batch | images/s | peak RSS MB |",
            "|---|---:|---:|---:|",
        ]
        for r in report["quantizer"]:
            lines.append(
                f"| {'EMA' if r['use_ema'] else 'gradient'} | {r['batch_size']} | "
                f"{pair(r, 'quantizer_images_per_s')} | {pair(r, 'peak_rss_mb')} |"
            )
    lines.append("\n(x): after/before for img/s, before/after for seconds and MB: > 1 is better.")
    return "\n".join(lines) + "\n"


def xla_markdown(report):
    env = report["environment"]
    lines = [
        "# XLA (`jit_compile`) on this machine\n",
        f"{env['date']}; {env['cpus']} CPUs ({env['machine']}), TensorFlow "
        f"{env['tensorflow']}, Keras {env['keras']}; load average "
        f"{env['load_average_start']} at the start ({report['note']}). Batch "
        f"{report['batch_size']}, default configs; first step = trace (+ XLA "
        f"compile) + one step. Each row ran {report.get('rounds', 1)} times with and "
        "without XLA, alternately; best of each.\n",
        "| family | input | train img/s, no XLA | train img/s, XLA | XLA speedup | first step s, no XLA | first step s, XLA |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['architecture']} | {r['input']} | {_fmt(r['no_xla'])} | {_fmt(r['xla'])} | "
            f"{r['xla'] / r['no_xla']:.2f}x | {r['first_step_no_xla']:.1f} | {r['first_step_xla']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--name", default="benchmark", help="file stem of the outputs")
    parser.add_argument("--only", nargs="*", default=None, help="architecture names")
    parser.add_argument("--inputs", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=list(BATCH_SIZES))
    parser.add_argument("--budget", type=float, default=1.5,
                        help="seconds of timed training per row (encode/decode: half)")
    parser.add_argument("--no-load", action="store_true", help="skip the cold-load rows")
    parser.add_argument("--xla", action="store_true", help="only compare jit_compile off/on")
    parser.add_argument("--note", default="a model training job shared the 2 CPUs",
                        help="what else ran on the machine")
    parser.add_argument("--no-fork", action="store_true")
    parser.add_argument("--baseline", default=None, metavar="DIR",
                        help="compare with the keras_genae package in DIR (e.g. from "
                        "`git archive <rev> keras_genae | tar -x -C DIR`): every row runs "
                        "alternately with both, --rounds times; best of each is kept")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quantizer", action="store_true",
                        help="with --baseline: also compare the VectorQuantizer alone")
    args = parser.parse_args(argv)
    use_fork = hasattr(os, "fork") and not args.no_fork

    start = time.perf_counter()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    names = args.only if args.only is not None else _architecture_names(use_fork)
    report = {"environment": _environment(), "budget_s": args.budget,
              "note": args.note, "fork": use_fork, "rows": [], "loads": [], "errors": []}
    os.makedirs(args.out, exist_ok=True)

    if args.baseline:
        current = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        report["baseline"], report["rounds"] = os.path.abspath(args.baseline), args.rounds
        for name in names:
            for input_name in args.inputs:
                for batch_size in sorted(args.batch_sizes):
                    runs = {"before": [], "after": []}
                    for _ in range(args.rounds):
                        for key, root in (("before", report["baseline"]), ("after", current)):
                            runs[key].append(_run_child(measure_config, dict(
                                name=name, input_name=input_name, batch_size=batch_size,
                                budget=args.budget, package_root=root), use_fork))
                    row = {"architecture": name, "input": input_name, "batch_size": batch_size}
                    for key, rows in runs.items():
                        row[key] = _best(rows)
                    report["rows"].append(row)
                    print(json.dumps(row), flush=True)
        for use_ema in (False, True) if args.quantizer else ():
            for batch_size in sorted(args.batch_sizes):
                runs = {"before": [], "after": []}
                for _ in range(args.rounds):
                    for key, root in (("before", report["baseline"]), ("after", current)):
                        runs[key].append(_run_child(measure_quantizer, dict(
                            batch_size=batch_size, use_ema=use_ema, budget=args.budget,
                            package_root=root), use_fork))
                row = {"use_ema": use_ema, "batch_size": batch_size,
                       "before": _best(runs["before"]), "after": _best(runs["after"])}
                report.setdefault("quantizer", []).append(row)
                print(json.dumps(row), flush=True)
        _write(args.out, args.name, report, compare_markdown, start)
        return report

    if args.xla:
        report["batch_size"], report["rounds"] = 128, args.rounds
        for name in names:
            for input_name in args.inputs:
                r = {"architecture": name, "input": input_name}
                for _ in range(args.rounds):  # alternate, keep the best of each
                    for jit, key in ((False, "no_xla"), (True, "xla")):
                        row = _run_child(measure_config, dict(
                            name=name, input_name=input_name, batch_size=128,
                            budget=args.budget, jit_compile=jit, inference=False), use_fork)
                        r[key] = max(r.get(key, 0.0), row["train_images_per_s"])
                        r[f"first_step_{key}"] = min(
                            r.get(f"first_step_{key}", math.inf), row["first_step_s"])
                report["rows"].append(r)
                print(json.dumps(r), flush=True)
        _write(args.out, "xla", report, xla_markdown, start)
        return report

    checkpoints = tempfile.mkdtemp(prefix="genae_bench_")
    try:
        for name in names:
            for input_name in args.inputs:
                ckpt = os.path.join(checkpoints, f"{name}_{input_name}")
                for i, batch_size in enumerate(sorted(args.batch_sizes)):
                    kwargs = dict(name=name, input_name=input_name, batch_size=batch_size,
                                  budget=args.budget, save_to=None if i or args.no_load else ckpt)
                    try:
                        row = _run_child(measure_config, kwargs, use_fork)
                    except RuntimeError as e:
                        report["errors"].append(str(e)[:2000])
                        print(e, file=sys.stderr, flush=True)
                        continue
                    report["rows"].append(row)
                    print(json.dumps(row), flush=True)
                if not args.no_load and os.path.isdir(ckpt):
                    load = _run_child(measure_load, {"directory": ckpt}, use_fork)
                    params = next(r["params"] for r in report["rows"]
                                  if r["architecture"] == name and r["input"] == input_name)
                    load.update(architecture=name, input=input_name, params=params)
                    report["loads"].append(load)
                    print(json.dumps(load), flush=True)
    finally:
        shutil.rmtree(checkpoints, ignore_errors=True)
    _write(args.out, args.name, report, markdown, start)
    return report


def _architecture_names(use_fork):
    # The registry is read in a child so the parent imports no keras_genae.
    def names():
        from keras_genae.models import ARCHITECTURES

        return sorted(ARCHITECTURES)

    if use_fork:
        return _run_forked(names, {})
    from keras_genae.models import ARCHITECTURES

    return sorted(ARCHITECTURES)


def _write(out, stem, report, render, start):
    report["environment"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    report["total_s"] = round(time.perf_counter() - start, 1)
    md = render(report)
    with open(os.path.join(out, f"{stem}.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(out, f"{stem}.md"), "w") as f:
        f.write(md)
    print(md)
    print(f"Wrote {os.path.join(out, stem)}.json and .md in {report['total_s']} s.")


if __name__ == "__main__":
    main()
