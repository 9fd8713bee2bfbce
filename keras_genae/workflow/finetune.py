"""`finetune(model, images)`: fine-tune a pretrained model on your images,
measured on images held out from the training.

`keras_genae.load(name)` returns a model compiled with its checkpoint's
fine-tuning settings (`keras_genae.models.finetuning.FineTuning`), so
`model.fit(images, epochs=...)` already fine-tunes at a safe learning
rate. `finetune` adds what a careful user would do around it: hold out a
validation split, report the held-out PSNR before and after, and keep the
epoch whose validation PSNR is best, the pretrained weights included, so
that fine-tuning never ends worse on the validation images than it started.
`genae finetune` runs it on a folder of images.
"""

import dataclasses
import time

import keras
import numpy as np

from keras_genae.metrics import MAX_LOGGED_PSNR
from keras_genae.metrics import psnr as psnr_per_image
from keras_genae.utils.seeding import set_random_seed


@dataclasses.dataclass
class FineTuneReport:
    """What `finetune` did.

    Attributes:
        psnr_before: float. Mean PSNR (dB) of the validation images' reconstructions before fine-tuning.
        psnr_after: float. The same, with the weights `finetune` kept.
        best_epoch: int. The epoch whose weights were kept (0: the pretrained weights).
        epochs: int. Epochs run.
        steps: int. Optimizer steps run.
        num_train: int. Training images.
        num_val: int. Validation images.
        seconds: float. Wall time of the training, validation included.
        history: dict. `model.fit`'s history (`psnr`, `val_psnr`, the loss terms).
    """

    psnr_before: float
    psnr_after: float
    best_epoch: int
    epochs: int
    steps: int
    num_train: int
    num_val: int
    seconds: float
    history: dict


def reconstruction_psnr(model, images, batch_size=256):
    """Mean PSNR in dB of `model.reconstruct(images)` against `images`
    (each image's PSNR capped at `MAX_LOGGED_PSNR`), in batches."""
    values = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        recon = keras.ops.convert_to_numpy(model.reconstruct(x))
        values.append(np.minimum(keras.ops.convert_to_numpy(psnr_per_image(x, recon)), MAX_LOGGED_PSNR))
    return float(np.mean(np.concatenate(values)))


class KeepBestWeights(keras.callbacks.Callback):
    """Track the validation PSNR after each epoch and restore, at the end of
    training, the weights (trainable or not: codebooks, BatchNorm
    statistics) of the best epoch, or the starting weights if no epoch beat
    `baseline`.

    Args:
        val_images: float32 array of validation images in [0, 1].
        baseline: float. The validation PSNR of the starting weights.
        batch_size: int. Batch size of the validation reconstructions.
    """

    def __init__(self, val_images, baseline, batch_size=256):
        super().__init__()
        self.val_images = val_images
        self.best = baseline
        self.best_epoch = 0
        self.batch_size = batch_size
        self._best_weights = None

    def on_train_begin(self, logs=None):
        self._best_weights = [np.array(v) for v in self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        value = reconstruction_psnr(self.model, self.val_images, self.batch_size)
        if logs is not None:
            logs["val_psnr"] = value
        if value > self.best:
            self.best, self.best_epoch = value, epoch + 1
            self._best_weights = [np.array(v) for v in self.model.get_weights()]

    def on_train_end(self, logs=None):
        self.model.set_weights(self._best_weights)


def split_validation(images, val_split=0.1, seed=0):
    """Shuffle `images` with `seed`, then split off the last `val_split` of
    them (at least one image) for validation. Returns `(train, val)`."""
    if isinstance(val_split, bool) or not isinstance(val_split, (int, float)) or not 0 < val_split < 1:
        raise ValueError(f"`val_split` must be a number in (0, 1). Received: val_split={val_split!r}")
    if len(images) < 2:
        raise ValueError(
            "Fine-tuning with a validation split needs at least 2 images. "
            f"Received: {len(images)} image(s)."
        )
    order = np.random.default_rng(seed).permutation(len(images))
    num_val = min(len(images) - 1, max(1, int(round(val_split * len(images)))))
    return images[order[num_val:]], images[order[:num_val]]


def finetune(model, images, val_images=None, val_split=0.1, epochs=None, batch_size=None,
             steps=None, keep_best=True, seed=0, verbose=0, callbacks=None):
    """Fine-tune a reconstruction model on `images`, measured on held-out ones.

    The model trains with its compiled optimizer: `keras_genae.load`
    compiles a pretrained model with its checkpoint's fine-tuning settings;
    an uncompiled model is compiled with its family's `default_finetuning`.

    Args:
        model: a keras_genae model that reconstructs (`model.reports_psnr`).
        images: float32 array `(N, H, W, C)` in [0, 1], the model's image shape.
        val_images: float32 array of validation images, or None to split
            `val_split` of `images` off (shuffled with `seed`).
        val_split: float in (0, 1). Defaults to `0.1`.
        epochs: int or None. Defaults to enough epochs for the settings'
            `steps` optimizer steps (`FineTuning.epochs_for`).
        batch_size: int or None. Defaults to the settings' `batch_size`.
        steps: int or None. Overrides the settings' `steps` when `epochs`
            is None.
        keep_best: bool. Keep the weights of the epoch with the best
            validation PSNR, the starting weights included (so the result
            is never worse on the validation images). Defaults to `True`.
        seed: int. Seeds the split and the shuffling. Defaults to `0`.
        verbose: int. `fit`'s verbosity. Defaults to `0`.
        callbacks: list of extra Keras callbacks for `fit`.

    Returns:
        `FineTuneReport`.

    Example:
    >>> model = keras_genae.load("vqvae_cifar10")
    >>> report = keras_genae.finetune(model, my_images)  # float32 in [0, 1]
    >>> report.psnr_before, report.psnr_after
    """
    if not model.reports_psnr:
        raise ValueError(
            f"`finetune` measures reconstructions; {type(model).__name__} does not "
            "reconstruct. Use `model.fit(images)` to train it."
        )
    settings = model.finetuning or type(model).default_finetuning
    if not model.compiled:
        settings.compile(model)
    images = np.asarray(images)
    if val_images is None:
        images, val_images = split_validation(images, val_split, seed)
    batch_size = batch_size or settings.batch_size
    if epochs is None:
        settings = settings if steps is None else dataclasses.replace(settings, steps=steps)
        epochs = settings.epochs_for(len(images), batch_size)
    before = reconstruction_psnr(model, val_images)
    keeper = KeepBestWeights(val_images, before) if keep_best else None
    cbs = list(callbacks or []) + ([keeper] if keeper else [])
    set_random_seed(seed)
    start = time.perf_counter()
    history = model.fit(images, epochs=epochs, batch_size=batch_size, shuffle=True,
                        callbacks=cbs, verbose=verbose)
    seconds = time.perf_counter() - start
    after = keeper.best if keeper else reconstruction_psnr(model, val_images)
    return FineTuneReport(
        psnr_before=before,
        psnr_after=after,
        best_epoch=keeper.best_epoch if keeper else epochs,
        epochs=epochs,
        steps=epochs * -(-len(images) // batch_size),
        num_train=len(images),
        num_val=len(val_images),
        seconds=seconds,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
    )
