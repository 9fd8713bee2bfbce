"""Compiled, batched inference for keras_genae models on every backend.

`inference_method` wraps a model method (`encode`, `decode`, `reconstruct`,
`sample`, `sample_latents`, a classifier's `features`) so that a call on concrete inputs
(numpy arrays, lists, the active backend's eager tensors) runs compiled:

- TensorFlow: a `tf.function`, traced once per input shape (not relaxed
  to an unknown shape: a method's own shape checks need the rank);
- JAX: a `jax.jit` of a pure function of the variable values and the
  batch, run under `keras.StatelessScope`. The weights are arguments, not
  constants baked into the trace, so results follow `set_weights`,
  `load_weights` and `fit`; variables the call assigns (the model's
  `SeedGenerator` state) are written back afterwards;
- PyTorch: the Keras ops under `torch.no_grad()` (measured faster than
  `torch.compile` on CPU once its compile time is counted; see
  benchmarks/inference.py).

Traces are cached per model, method and static arguments; each backend
caches them per input shape. Inputs larger than `batch_size` (default
`DEFAULT_BATCH_SIZE`) run batch by batch. Inside a traced context (a
`KerasTensor`, a JAX tracer, a TF graph, a stateless scope such as a train
step) the raw method runs, so the methods stay usable in `compute_losses`,
`build` and `predict`. The result is the active backend's tensor.
"""

import contextlib
import functools
import threading

import keras
import numpy as np
from keras import ops

#: Images (or latents) per compiled call when `batch_size` is not given.
DEFAULT_BATCH_SIZE = 256

#: Methods that take a count and a seed, `fn(self, n, seed=None)`, rather
#: than a batch of data.
SAMPLER_METHODS = ("sample", "sample_latents")

_local = threading.local()


# ----------------------------------------------------- backend-specific parts
def _backend():
    return keras.backend.backend()


def _tracing():
    """Whether a backend trace or a Keras symbolic/stateless scope is active."""
    from keras.src.backend.common.stateless_scope import in_stateless_scope
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope

    if in_stateless_scope() or in_symbolic_scope():
        return True
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "jax":
        from jax._src import core

        return not core.trace_state_clean()
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return True  # an unknown backend: never compile


def _is_traced_tensor(x):
    """Whether backend tensor `x` is symbolic (a tracer, a graph tensor)."""
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return isinstance(x, tf.Tensor) and tf.is_symbolic_tensor(x)
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "torch":
        return x.device.type == "meta"
    return True


def _compile_tf(model, fn, static):
    import tensorflow as tf

    function = tf.function(lambda *data: fn(model, *data, **static))
    # One tf.function per model, method and static arguments, all from the
    # same lambda: TF would count their first traces as retracing.
    function._omit_frequent_tracing_warning = True
    return function


def _compile_jax(model, fn, static, extra_variables):
    import jax

    trainable = list(model.trainable_variables)
    others = list(model.non_trainable_variables) + list(extra_variables)

    def pure(trainable_values, other_values, *data):
        mapping = list(zip(trainable, trainable_values)) + list(zip(others, other_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            before = [scope.get_current_value(v) for v in others]
            out = fn(model, *data, **static)
            after = [scope.get_current_value(v) for v in others]
        # Only what the call assigned (e.g. the seed state) is returned.
        updates = {i: a for i, (b, a) in enumerate(zip(before, after)) if a is not b}
        return out, updates

    jitted = jax.jit(pure)

    def run(*data):
        out, updates = jitted([v.value for v in trainable], [v.value for v in others], *data)
        for i, value in updates.items():
            others[i].assign(value)
        return out

    return run


def _compile_torch(model, fn, static):
    import torch

    def run(*data):
        with torch.no_grad():
            return fn(model, *data, **static)

    return run


def _compile(model, fn, static, extra_variables):
    backend = _backend()
    if backend == "tensorflow":
        return _compile_tf(model, fn, static)
    if backend == "jax":
        return _compile_jax(model, fn, static, extra_variables)
    return _compile_torch(model, fn, static)


# ------------------------------------------------------------ backend-neutral
def is_concrete(x):
    """Whether `x` holds values that can be read now: a numpy array or an
    eager tensor of the active backend (not a `KerasTensor`, a JAX tracer
    or a TF graph tensor)."""
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, keras.KerasTensor) or not ops.is_tensor(x):
        return False
    return not _is_traced_tensor(x)


def in_compiled_call():
    """Whether a compiled inference call is running (its inputs were
    checked already, and nested inference methods run raw)."""
    return getattr(_local, "depth", 0) > 0


@contextlib.contextmanager
def _raised(flag):
    setattr(_local, flag, getattr(_local, flag, 0) + 1)
    try:
        yield
    finally:
        setattr(_local, flag, getattr(_local, flag) - 1)


def uncompiled():
    """Run every inference method as plain Keras ops, op by op, inside
    this context (to debug, or to compare with the compiled path).

    Example:
    >>> with keras_genae.inference.uncompiled():
    ...     y = model.reconstruct(x)
    """
    return _raised("off")


def _compiled_call():
    return _raised("depth")


class _Runner:
    """The compiled functions of one model, by method and static arguments."""

    def __init__(self, model):
        self.model = model
        self.functions = {}
        self.call_seed = None  # the SeedGenerator of int-seeded calls

    #: How many times a compiled function was traced (TF and JAX; the
    #: PyTorch path has no trace). Read by the tests.
    traces = 0

    def function(self, name, fn, static):
        # The variable count is in the key: a model that gained variables
        # (or a JAX trace made before it did) is traced again. PyTorch's
        # path traces nothing, and counting costs ~45 us (a batch-1 call's 3%).
        count = 0 if _backend() == "torch" else len(self.model.variables)
        key = (name, tuple(sorted(static.items(), key=str)), count)
        if key not in self.functions:
            extra = [self.call_seed.state] if self.call_seed is not None else []
            self.functions[key] = _compile(self.model, self._counted(fn), static, extra)
        return self.functions[key]

    def _counted(self, fn):
        def traced(*args, **kwargs):
            self.traces += 1
            return fn(*args, **kwargs)

        return traced

    def seed_for(self, seed):
        """The seed a compiled call draws with: the model's generator for
        None, else a generator started at the int seed. An int seed's first
        draw is `[seed, 0]`, the same as `keras.random`'s with `seed=seed`."""
        if seed is None:
            return None
        if self.call_seed is None:
            with keras.name_scope("keras_genae_inference"):
                self.call_seed = keras.random.SeedGenerator(0, name="call_seed")
        dtype = self.call_seed.state.dtype
        self.call_seed.state.assign(ops.convert_to_tensor(np.array([seed, 0]), dtype=dtype))
        return self.call_seed


def _runner(model):
    runner = model.__dict__.get("_genae_inference")
    if runner is None:
        runner = _Runner(model)
        model.__dict__["_genae_inference"] = runner  # untracked by Keras
    return runner


def _concatenate(parts):
    if len(parts) == 1:
        return parts[0]
    return keras.tree.map_structure(lambda *xs: ops.concatenate(xs, axis=0), *parts)


def _check_batch_size(batch_size):
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(
            f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def _run_on_data(model, name, fn, x, batch_size, check):
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if check is not None:
        check(model, x)
    run = _runner(model).function(name, fn, {})
    n = int(x.shape[0]) if len(x.shape) else 0
    with _compiled_call():
        parts = []
        for start in range(0, max(n, 1), batch_size):
            chunk = x[start:start + batch_size] if n > batch_size else x
            parts.append(run(ops.convert_to_tensor(chunk)))
    return _concatenate(parts)


def _run_sample(model, name, fn, n, seed, batch_size, options=None):
    """Run a sampler batch by batch. `options` holds the method's other
    arguments: numpy arrays of `n` rows (one per sample, e.g. labels) are
    split into the batches and passed as data; the rest (None, numbers,
    strings) are static arguments of the trace."""
    runner = _runner(model)
    generator = runner.seed_for(seed)
    options = options or {}
    per_sample = {k: v for k, v in options.items() if isinstance(v, np.ndarray)}
    static_options = {k: v for k, v in options.items() if k not in per_sample}
    parts = []
    with _compiled_call():
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            static = {"seed": generator} if generator is not None else {}
            key = f"{name}[{','.join(per_sample)}]" if per_sample else name
            run = runner.function(key, _with_arrays(fn, tuple(per_sample)),
                                  {"n_static": size, **static, **static_options})
            parts.append(run(*[ops.convert_to_tensor(v[start:start + size]) for v in per_sample.values()]))
    return _concatenate(parts)


def _with_arrays(fn, names):
    """`fn` taking the per-sample arrays `names` positionally (as data)."""
    if not names:
        return fn

    def body(model, *arrays, **static):
        return fn(model, **static, **dict(zip(names, arrays)))

    body.__name__ = getattr(fn, "__name__", "body")
    return body


def inference_method(fn=None, *, check=None):
    """Decorate a model method to run compiled and batched on concrete input.

    The method gains a `batch_size=None` keyword argument. Calls with
    `training=True`, on symbolic inputs, inside a trace or inside another
    compiled call run `fn` as it is.

    Args:
        fn: the method, `fn(self, x, training=False)`, or for a method named
            in `SAMPLER_METHODS`, `fn(self, n, seed=None, **options)`; its
            `n` is checked first (a positive int, else a `ValueError`), and
            its `options` by `model.sampler_options(n, **options)`, which
            returns them normalized: numpy arrays of `n` rows are split
            into the batches, other values are static.
        check: None, or `check(model, x)` that validates the whole concrete
            input once, before it is split into batches.

    Example:
    >>> class MyModel(keras.Model):
    ...     @inference_method
    ...     def embed(self, x, training=False):
    ...         return self.dense(x, training=training)
    """
    if fn is None:
        return functools.partial(inference_method, check=check)
    if getattr(fn, "_genae_raw", None) is not None:
        return fn
    name = fn.__name__
    sampler = name in SAMPLER_METHODS

    @functools.wraps(fn)
    def wrapper(self, *args, batch_size=None, **kwargs):
        batch_size = _check_batch_size(batch_size)
        if sampler:
            _check_count_argument(args, kwargs)
        if in_compiled_call() or getattr(_local, "off", 0) or kwargs.get("training") or _tracing():
            return fn(self, *args, **kwargs)
        if sampler:
            call = dict(zip(("n", "seed"), args), **kwargs)
            n, seed = call.pop("n", None), call.pop("seed", None)
            if not _is_count(n) or not (seed is None or _is_count(seed, 0)) \
                    or "sample" not in self.capabilities:
                return fn(self, *args, **kwargs)  # let the method raise or handle it
            # The method's own options (a VQ-VAE's labels and temperature),
            # checked and normalized by the model before anything is traced;
            # also when none is given, so that a default the model reads
            # from its attributes (an AAE's temperature) keys the trace.
            options = self.sampler_options(int(n), **call)
            return _run_sample(self, name, _sample_body(fn), int(n), seed, batch_size, options)
        if len(args) != 1 or set(kwargs) - {"training"}:
            return fn(self, *args, **kwargs)
        x = args[0]
        if not (is_concrete(x) or isinstance(x, (list, tuple))):
            return fn(self, *args, **kwargs)
        return _run_on_data(self, name, fn, x, batch_size, check)

    wrapper._genae_raw = fn
    return wrapper


def _check_count_argument(args, kwargs):
    """Raise unless the `n` of a sampler call is a positive int (a numpy
    int too). A symbolic `n` (a traced batch size) is left to the method."""
    if args:
        n = args[0]
    elif "n" in kwargs:
        n = kwargs["n"]
    else:
        return  # the method raises its own TypeError
    if _is_count(n) or (_tracing() and ops.is_tensor(n)):
        return
    raise ValueError(f"`n` must be a positive integer. Received: n={n!r}")


def _is_count(value, minimum=1):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= minimum


def _sample_body(fn):
    def body(model, n_static, seed=None, **options):
        return fn(model, n_static, seed=seed, **options)

    return body

