"""Exceptions raised by keras_genae."""


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite during training.

    Attributes:
        term: str. Name of the loss term that was not finite.
    """

    def __init__(self, message, term=None):
        super().__init__(message)
        self.term = term


class UnsupportedBackendError(RuntimeError):
    """Raised when training on a Keras backend that keras_genae has no
    trainer for (it has TensorFlow, JAX and PyTorch)."""


class ChecksumError(ValueError):
    """A downloaded or cached file does not match its manifest hash."""


class DownloadError(OSError):
    """A checkpoint file could not be downloaded (and is not cached), or the
    server broke a rule that `keras_genae.load` enforces (see docs/security.md)."""


from keras_genae.utils.run_lock import RunLockedError  # noqa: E402,F401 (public name)
