"""Keras callbacks: per-epoch resumable checkpoints."""

import json
import os
import time
import zipfile

import keras

from keras_genae.utils.io import atomic_path
from keras_genae.utils.io import write_json


class EpochCheckpoint(keras.callbacks.Callback):
    """Save the whole training state at the end of every epoch, atomically.

    The model is saved as `<directory>/last.keras` (weights, config,
    compile config and optimizer state) with the training state (the number
    of finished epochs, the history and the time spent) inside the same
    archive, as `keras_genae_state.json`: one file, renamed into place in
    one step, so the model and its epoch count can never disagree. A copy
    of the state is also written to `<directory>/state.json` for reading;
    `restore` trusts the archive. A crash mid-save leaves the previous
    epoch's files intact. `EpochCheckpoint.restore(directory)` returns the
    model and the epoch to resume from.

    Args:
        directory: str. Folder of the training state.
        resume: bool. Continue the state found in `directory` (its history
            and time). Defaults to `True`.

    Example:
    >>> ckpt = EpochCheckpoint("runs/vae")
    >>> model, initial_epoch = EpochCheckpoint.restore("runs/vae")  # (None, 0) at first
    """

    MODEL_FILE = "last.keras"
    STATE_FILE = "state.json"
    STATE_MEMBER = "keras_genae_state.json"

    def __init__(self, directory, resume=True):
        super().__init__()
        self.directory = directory
        state = self.read_state(directory) if resume else None
        self._state = state or {"epochs": 0, "history": {}, "train_seconds": 0.0}
        self._epoch_start = None

    @classmethod
    def read_state(cls, directory):
        """The training state saved in `directory`, or None if there is none.

        Raises:
            ValueError: `last.keras` is damaged (truncated, not an archive).
        """
        path = os.path.join(directory, cls.MODEL_FILE)
        if not os.path.exists(path):
            return None
        try:
            with zipfile.ZipFile(path) as zf:
                if cls.STATE_MEMBER in zf.namelist():
                    return json.loads(zf.read(cls.STATE_MEMBER))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise damaged_state_error(path, e) from e
        # Written before the state moved into the archive: use state.json.
        state_path = os.path.join(directory, cls.STATE_FILE)
        if not os.path.exists(state_path):
            return None
        with open(state_path) as f:
            return json.load(f)

    @classmethod
    def restore(cls, directory):
        """Return `(model, finished_epochs)`, or `(None, 0)` if there is no state.

        Raises:
            ValueError: the state is damaged; the message names the file
                and the `--restart` flag that starts over.
        """
        state = cls.read_state(directory)
        if state is None:
            return None, 0
        path = os.path.join(directory, cls.MODEL_FILE)
        try:
            model = keras.saving.load_model(path, safe_mode=True)
        except Exception as e:  # Keras raises many types on a damaged archive.
            raise damaged_state_error(path, e) from e
        return model, int(state["epochs"])

    @classmethod
    def clean(cls, directory):
        """Delete the temporary files a killed save left in `directory`."""
        return remove_leftovers(directory)

    @property
    def state(self):
        return dict(self._state)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        state = json.loads(json.dumps(self._state))
        for key, value in (logs or {}).items():
            state["history"].setdefault(key, []).append(float(value))
        state["epochs"] = epoch + 1
        state["train_seconds"] += time.perf_counter() - self._epoch_start
        with atomic_path(os.path.join(self.directory, self.MODEL_FILE)) as tmp:
            self.model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(self.STATE_MEMBER, json.dumps(state, indent=2))
        self._state = state
        write_json(os.path.join(self.directory, self.STATE_FILE), state)


def damaged_state_error(path, cause):
    """The error for a `last.keras` that cannot be read."""
    return ValueError(
        f"The training state {path!r} is damaged and cannot be resumed ({type(cause).__name__}: "
        f"{cause}). Rerun with `--restart` (or `restart=True`) to delete the state and train from "
        "the first epoch, or put back a good copy of the file."
    )


def remove_leftovers(directory):
    """Delete what a killed atomic write leaves in `directory`: `.*.partial*`
    files and `.*.tmp` / `.*.old` folders (see `keras_genae.utils.io` and
    `save_pretrained`). Returns the paths removed. Only call it while
    holding the run lock: another live writer's files look the same."""
    import re
    import shutil

    removed = []
    if not os.path.isdir(directory):
        return removed
    pattern = re.compile(r"^\..+\.(partial[^/]*|tmp|old)$")
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if not pattern.match(name):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
        removed.append(path)
    return removed


class ImageGrid(keras.callbacks.Callback):
    """Save a grid of reconstructions and/or samples every `every` epochs.

    The inputs and the latents are fixed when training starts (the latents
    are drawn once from the model's prior with `seed`), so the grids of
    different epochs show the same images and the same latents and can be
    compared side by side. Each grid is a PNG in `directory`; with
    `log_dir` (or `writer`) it is also logged to TensorBoard as an image
    summary at the epoch number.

    - Reconstructions (`images=`): each input on the left of its
      reconstruction, written as `reconstructions_epoch_<E>.png`.
    - Samples (`num_samples=`): the decoded fixed latents, written as
      `samples_epoch_<E>.png`. The model must have a prior (`"sample"` in
      `model.capabilities`): VAEs, adversarial autoencoders and GANs.

    `E` is the number of finished epochs (1-based, as Keras prints them);
    with `on_train_begin=True` the grids of the untrained model are written
    too, as epoch 0.

    Args:
        directory: str. Folder of the PNGs (created).
        images: float array `(n, H, W, C)` in [0, 1] or None. Inputs to
            reconstruct. Defaults to `None`.
        num_samples: int. Number of fixed latents to decode. Defaults to `0`.
        every: int. Save after every `every`-th epoch. Defaults to `1`.
        seed: int. Seed of the fixed latents. Defaults to `0`.
        ncols: int or None. Images (or input/reconstruction pairs) per row.
        scale: int. Integer upscaling of the images. Defaults to `2`.
        on_train_begin: bool. Also save the grids before training.
            Defaults to `False`.
        log_dir: str or None. TensorBoard log folder; a writer is created
            in it. Defaults to `None`.
        writer: a `tf.summary` writer, used instead of `log_dir`.

    Attributes:
        paths: list of the PNG files written, in order.
        latents: the fixed latents (a NumPy array), once training started.

    Example:
    >>> x, _ = keras_genae.data.sample_images("mnist")
    >>> grid = ImageGrid("runs/vae/grids", images=x[:8], num_samples=16,
    ...                  every=5, log_dir="runs/vae/logs")
    >>> vae.fit(train_ds, epochs=20, callbacks=[grid])
    """

    def __init__(self, directory, images=None, num_samples=0, every=1, seed=0, ncols=None,
                 scale=2, on_train_begin=False, log_dir=None, writer=None):
        super().__init__()
        import numpy as np

        if images is None and not num_samples:
            raise ValueError("Pass `images` to reconstruct and/or `num_samples` > 0 to sample. "
                             f"Received: images=None, num_samples={num_samples!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be a positive integer. Received: every={every!r}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
            raise ValueError(
                f"`num_samples` must be a non-negative integer. Received: num_samples={num_samples!r}"
            )
        self.directory = os.fspath(directory)
        self.images = None if images is None else np.asarray(images, dtype="float32")
        self.num_samples = num_samples
        self.every = every
        self.seed = seed
        self.ncols = ncols
        self.scale = scale
        self.save_initial = on_train_begin
        self.log_dir = log_dir
        self.writer = writer
        self.latents = None
        self.paths = []

    def on_train_begin(self, logs=None):
        from keras import ops

        capabilities = getattr(self.model, "capabilities", frozenset())
        if self.images is not None and "reconstruct" not in capabilities:
            raise ValueError(
                f"ImageGrid(images=...) shows reconstructions, but {type(self.model).__name__} "
                "has no encoder (`model.capabilities` lacks \"reconstruct\"). Pass "
                "`num_samples=` to show samples instead."
            )
        if self.num_samples and self.latents is None:
            if "sample" not in capabilities:
                raise ValueError(
                    f"ImageGrid(num_samples={self.num_samples}) needs a model with a prior; "
                    f"{type(self.model).__name__} has none. Pass `images=` to show "
                    "reconstructions instead."
                )
            latents = self.model.sample_latents(self.num_samples, seed=self.seed)
            self.latents = ops.convert_to_numpy(latents).astype("float32")
        if self.writer is None and self.log_dir is not None:
            import tensorflow as tf

            self.writer = tf.summary.create_file_writer(self.log_dir)
        if self.save_initial:
            self.save(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.save(epoch + 1)

    def grids(self):
        """The current grids: a dict of name to uint8 `(h, w, c)` array."""
        from keras import ops

        from keras_genae.data import grids as images_lib

        grids = {}
        if self.images is not None:
            outputs = ops.convert_to_numpy(self.model.reconstruct(self.images))
            pairs = images_lib.side_by_side(self.images, outputs)
            grids["reconstructions"] = images_lib.make_grid(pairs, self.ncols, padding=6, scale=self.scale)
        if self.latents is not None:
            samples = ops.convert_to_numpy(self.model.decode(ops.convert_to_tensor(self.latents)))
            grids["samples"] = images_lib.make_grid(samples, self.ncols, scale=self.scale)
        return grids

    def save(self, epoch):
        """Write (and log) the grids as those of epoch `epoch`."""
        from keras_genae.data import grids as images_lib

        for name, grid in self.grids().items():
            path = os.path.join(self.directory, f"{name}_epoch_{epoch:03d}.png")
            with atomic_path(path) as tmp:
                images_lib.save_image(grid, tmp)
            self.paths.append(path)
            if self.writer is not None:
                self._log_image(name, grid, epoch)

    def _log_image(self, name, grid, step):
        """Write an image summary in TensorBoard's format (that of
        `tf.summary.image`, which needs the tensorboard package; this does not)."""
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        metadata = summary_pb2.SummaryMetadata()
        metadata.plugin_data.plugin_name = "images"
        height, width = grid.shape[:2]
        tensor = tf.stack([tf.as_string(width), tf.as_string(height), tf.image.encode_png(grid)])
        with self.writer.as_default():
            tf.summary.write(name, tensor, step=step, metadata=metadata.SerializeToString())
        self.writer.flush()
