"""Exceptions raised by keras_genae."""


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite during training.

    Attributes:
        term: str. Name of the loss term that was not finite.
    """

    def __init__(self, message, term=None):
        super().__init__(message)
        self.term = term


class ChecksumError(ValueError):
    """A downloaded or cached file does not match its manifest hash."""
