"""Data-parallel training with `tf.distribute` (TensorFlow backend).

keras_genae models train under TensorFlow's own strategies through the
ordinary Keras workflow: build and compile the model in `strategy.scope()`,
then call `fit` with the *global* batch size.

    strategy = tf.distribute.MirroredStrategy()  # all local GPUs
    with strategy.scope():
        model = keras_genae.VQVAE(image_shape=(32, 32, 3), use_ema=True)
        model.compile()
    model.fit(keras_genae.data.load_dataset("cifar10", batch_size=256), epochs=10)

Each replica computes the losses on its shard of the global batch. What
keras_genae does so that a step under a strategy with `R` replicas equals a
step on one device with the same global batch:

- Losses: every loss term is a mean over the replica's shard. The trainer
  divides each phase's objective by `R` before the gradient (as Keras'
  `compute_loss` does); `optimizer.apply` then sums the gradients over the
  replicas (`ReplicaContext.all_reduce(SUM)`), which gives the gradient of
  the global-batch mean. The logged terms are not scaled.
- Random draws (the VAE's `eps`, the denoising noise, the AAE prior draws,
  the GAN's latents) go through `batch_random`: every replica draws the
  noise of the whole global batch with the same seed and keeps its own rows.
  Without it each replica would draw the *same* noise for its shard (the
  `SeedGenerator` state is mirrored), and e.g. a GAN would show its
  discriminator `R` copies of the same fakes.
- BatchNormalization: under a strategy with more than one replica the
  trainer switches every `BatchNormalization` layer of the model to
  `synchronized=True` (Keras' cross-replica batch statistics): the layer
  normalizes with the statistics of the global batch, and its moving
  averages, updated with the same values on every replica, stay in sync.
  Without it each replica would normalize with its own shard's statistics
  and update its own copy of the moving averages, which then diverge.
- VQ codebook: `VectorQuantizer` all-reduces (sums) the code counts and the
  per-code sums of encoder outputs across replicas before its EMA update,
  so that every replica applies the same update, that of the global batch.
  Dead-code restarts draw their replacement vectors from the encoder
  outputs of the global batch (all-gathered). We chose all-reduce in the
  replica context over SUM-aggregated sync-on-read variables because the
  codebook itself must be identical on every replica at every step (each
  replica quantizes with it): per-replica partial sums would need a sync
  before every use anyway.
- Metrics: Keras metric variables are SUM-aggregated sync-on-read
  variables. The loss means and the codebook histograms (usage,
  perplexity) of the epoch logs and of `History` are read across replicas,
  so they are those of the global batches. (The per-step values of the
  progress bar are the mean of the replicas' own running values.)
- XLA: Keras cannot compile a multi-device step with XLA; under a
  strategy with more than one replica `fit` turns `jit_compile` off, with a
  warning.

Caveat: Keras clips gradients (`clipnorm`, `clipvalue`,
`global_clipnorm`) per replica, before the cross-replica sum.

Multi-worker training (`tf.distribute.MultiWorkerMirroredStrategy`)
-------------------------------------------------------------------
Run the same script on every machine, with the environment variable
`TF_CONFIG` describing the cluster and this machine's place in it, e.g. on
the first of two workers:

    export TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                       "task": {"type": "worker", "index": 0}}'

and `"index": 1` on the second. Worker 0 is the chief. In the script,
create the strategy first, before any other TensorFlow op, and build and
compile the model in its scope:

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras_genae.VAE(image_shape=(28, 28, 1))
        model.compile()
    ds = keras_genae.data.load_dataset("mnist", batch_size=256, seed=0)
    model.fit(ds, epochs=10)

Everything above applies across workers. Also:

- The batch size of the dataset is the global one; Keras shards a
  `tf.data.Dataset` across workers (by files, or else by elements). Give
  every worker the same shuffle `seed`, so that the workers' shards of a
  batch are disjoint.
- Initial weights and RNG states are broadcast from the chief when the
  variables are created, so workers start identical even with `seed=None`.
- Keras 3.15's train function fails on scalar logs under this strategy
  (tensorflow/tensorflow#72388); the trainer works around it.
- Save from every worker (collective ops may run while saving), the chief
  to the real path and the others to temporary ones, e.g.
  `keras_genae.save_pretrained(model, out if is_chief else tempfile.mkdtemp())`
  with `is_chief = json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0`.
  For fault tolerance add `keras.callbacks.BackupAndRestore(backup_dir)`.

See `docs/distributed.md` for a worked example and the test that checks
the strategy against single-device training.
"""

import keras


def _tf():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf


def replica_context():
    """The current `tf.distribute.ReplicaContext` when a step runs on more
    than one replica, else None (one device, cross-replica context, or a
    backend other than TensorFlow)."""
    tf = _tf()
    if tf is None:
        return None
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync <= 1:
        return None
    return ctx


def num_replicas():
    """Number of replicas a step runs on (1 without a strategy)."""
    tf = _tf()
    if tf is None:
        return 1
    return tf.distribute.get_strategy().num_replicas_in_sync


def all_reduce_sum(x):
    """Sum `x` over the replicas (identity on one replica)."""
    ctx = replica_context()
    if ctx is None:
        return x
    tf = _tf()
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


def all_gather(x, axis=0):
    """Concatenate `x` over the replicas along `axis`, in replica order
    (identity on one replica). With a batched dataset, replica `i` holds the
    `i`-th consecutive slice of the global batch, so this rebuilds the
    global batch."""
    ctx = replica_context()
    if ctx is None:
        return x
    return ctx.all_gather(x, axis=axis)


def batch_random(fn, shape, **kwargs):
    """Draw a batch of random values, `fn(shape, **kwargs)`, as one device
    would for the global batch.

    `fn` is a `keras.random` function (`normal`, `uniform`, `randint`) and
    `shape[0]` the batch axis. Under a strategy with several replicas each
    replica draws the values of the whole global batch with the same seed
    (the seed state is mirrored) and returns its own consecutive rows, so
    the replicas get different noise, and the global step gets exactly the
    noise of a single-device step on the same global batch. On one replica
    it is `fn(shape, **kwargs)`.

    Example:
    >>> eps = batch_random(keras.random.normal, (8, 16), seed=seed_generator)
    """
    ctx = replica_context()
    if ctx is None:
        return fn(shape, **kwargs)
    tf = _tf()
    shape = tuple(shape)
    n = tf.cast(shape[0], tf.int32)
    sizes = ctx.all_gather(tf.reshape(n, [1]), axis=0)
    rank = ctx.replica_id_in_sync_group
    offset = tf.reduce_sum(sizes[:rank])
    values = fn((tf.reduce_sum(sizes),) + shape[1:], **kwargs)
    return values[offset : offset + n]


def sync_batchnorm(model):
    """Set `synchronized=True` on every `BatchNormalization` layer of
    `model` (cross-replica batch statistics). Returns the number of layers
    changed. Outside a strategy a synchronized layer computes the same
    statistics as before (up to float rounding: it uses
    `E[x^2] - E[x]^2`)."""
    changed = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            changed += 1
    return changed
