"""PEP 562 lazy attributes for the package's `__init__` modules."""

import importlib


def lazy_attributes(package, table):
    """`__getattr__` and `__dir__` for a package whose public names import
    on first use.

    Args:
        package: str. The package's `__name__`.
        table: dict. Public name -> the module that defines it.

    Returns:
        `(__getattr__, __dir__)`, to assign in the package's namespace.

    Example:
    >>> __getattr__, __dir__ = lazy_attributes(__name__, {"load": "keras_genae.hub.api"})
    """

    def __getattr__(name):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(table[name]), name)

    def __dir__():
        return sorted(set(vars(importlib.import_module(package))) | set(table))

    return __getattr__, __dir__
