"""`TensorInfo` and `Endpoint`: what an exported function takes and returns."""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """Name, shape (None: any size) and dtype of an endpoint's input or output."""

    name: str
    shape: tuple
    dtype: str

    def spec(self):
        """The `keras.InputSpec` Keras' exporters take."""
        return keras.InputSpec(shape=self.shape, dtype=self.dtype, name=self.name)

    def describe(self):
        dims = ", ".join("n" if d is None else str(d) for d in self.shape)
        return f"`{self.name}` ({dims}{',' if len(self.shape) == 1 else ''}) {self.dtype}"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One exported function.

    Args:
        name: str. The endpoint's name (`reconstruct`, `encode`, ...).
        fn: callable taking the input tensors positionally, returning one tensor.
        inputs: tuple of `TensorInfo`.
        output: `TensorInfo`.
        doc: str. One line for the README.
        not_on: dict of backend -> why the endpoint cannot be exported
            there. Defaults to `{}`.
    """

    name: str
    fn: object
    inputs: tuple
    output: TensorInfo
    doc: str
    not_on: dict = dataclasses.field(default_factory=dict)

    def specs(self):
        return [info.spec() for info in self.inputs]
