"""Keras callbacks: per-epoch resumable checkpoints."""

import json
import os
import time

import keras

from keras_genae.utils.io import atomic_path
from keras_genae.utils.io import write_json


class EpochCheckpoint(keras.callbacks.Callback):
    """Save the whole training state at the end of every epoch, atomically.

    The model is saved as `<directory>/last.keras` (weights, config,
    compile config and optimizer state) and `<directory>/state.json` records
    the number of finished epochs, the history and the time spent. A crash
    mid-save leaves the previous epoch's files intact. `EpochCheckpoint.
    restore(directory)` returns the model and the epoch to resume from.

    Args:
        directory: str. Folder of the training state.

    Example:
    >>> ckpt = EpochCheckpoint("runs/vae")
    >>> model, initial_epoch = EpochCheckpoint.restore("runs/vae")  # (None, 0) at first
    """

    MODEL_FILE = "last.keras"
    STATE_FILE = "state.json"

    def __init__(self, directory):
        super().__init__()
        self.directory = directory
        self._state = self.read_state(directory) or {"epochs": 0, "history": {}, "train_seconds": 0.0}
        self._epoch_start = None

    @classmethod
    def read_state(cls, directory):
        path = os.path.join(directory, cls.STATE_FILE)
        if not os.path.exists(path) or not os.path.exists(os.path.join(directory, cls.MODEL_FILE)):
            return None
        with open(path) as f:
            return json.load(f)

    @classmethod
    def restore(cls, directory):
        """Return `(model, finished_epochs)`, or `(None, 0)` if there is no state."""
        state = cls.read_state(directory)
        if state is None:
            return None, 0
        model = keras.saving.load_model(os.path.join(directory, cls.MODEL_FILE), safe_mode=True)
        return model, int(state["epochs"])

    @property
    def state(self):
        return dict(self._state)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        with atomic_path(os.path.join(self.directory, self.MODEL_FILE)) as tmp:
            self.model.save(tmp)
        for key, value in (logs or {}).items():
            self._state["history"].setdefault(key, []).append(float(value))
        self._state["epochs"] = epoch + 1
        self._state["train_seconds"] += time.perf_counter() - self._epoch_start
        write_json(os.path.join(self.directory, self.STATE_FILE), self._state)
