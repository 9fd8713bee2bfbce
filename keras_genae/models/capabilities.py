"""Declared model capabilities: what a model can do, as a class attribute.

Every model class declares `capabilities`, a frozenset of names from
`CAPABILITIES`, and code that handles several kinds of models reads it
(`"sample" in model.capabilities`) instead of probing for attributes. The
names are:

- `"encode"`: `encode(images)` returns latents (float32 vectors, or a
  VQ-VAE's int32 code indices);
- `"decode"`: `decode(latents)` returns images in [0, 1];
- `"reconstruct"`: `reconstruct(images)` returns images in [0, 1];
- `"sample"`: the model has a prior: `sample_latents(n, seed)` and
  `sample(n, seed)` work;
- `"classify"`: a feature classifier (`features(images)`, `predict`).

A class declares what its models can do; a model whose abilities depend
on its config narrows them on the instance (a `VQVAE` built without a
prior sets `self.capabilities` without `"sample"`), so read them from the
model, not from its class.
"""

#: What a model may declare in its `capabilities`.
CAPABILITIES = frozenset({"encode", "decode", "reconstruct", "sample", "classify"})


class HasPrior:
    """The `has_prior` attribute, `"sample" in capabilities`, read on the
    class and on its instances alike."""

    def __get__(self, obj, cls=None):
        return "sample" in (obj if obj is not None else cls).capabilities


def declare_capabilities(cls):
    """Check and normalize `cls.capabilities` (called on every subclass).

    A subclass that sets the older `has_prior = True` (or `False`) instead
    of `capabilities` gets `"sample"` added to (or removed from) those it
    inherits, and `has_prior` reads them from then on.

    Raises:
        TypeError: an unknown capability, or a `has_prior` that contradicts
            the class's own `capabilities`.
    """
    legacy = cls.__dict__.get("has_prior")
    if isinstance(legacy, bool):
        if "capabilities" in cls.__dict__ and legacy != ("sample" in cls.capabilities):
            raise TypeError(
                f"{cls.__name__} sets `has_prior={legacy}` but its `capabilities` are "
                f"{sorted(cls.capabilities)}; declare `capabilities` only."
            )
        sample = frozenset({"sample"})
        cls.capabilities = (cls.capabilities | sample) if legacy else (cls.capabilities - sample)
        delattr(cls, "has_prior")
    if isinstance(cls.capabilities, str) or not all(isinstance(c, str) for c in cls.capabilities):
        raise TypeError(
            f"{cls.__name__}.capabilities must be a set of strings from {sorted(CAPABILITIES)}. "
            f"Received: capabilities={cls.capabilities!r}"
        )
    cls.capabilities = frozenset(cls.capabilities)
    unknown = cls.capabilities - CAPABILITIES
    if unknown:
        raise TypeError(
            f"Unknown capabilities {sorted(unknown)} in {cls.__name__}.capabilities. "
            f"Known: {sorted(CAPABILITIES)}."
        )
