"""Every registered layer of `keras_genae.layers`, on its own: symbolic and
eager calls, weights, and serialization (`from_config`, JSON, `dir()`)."""

import json

import keras
import numpy as np
import pytest

from keras_genae import layers as genae_layers
from tests.helpers import run_layer_test
from tests.helpers import run_serialization_test

#: id -> (layer class, constructor arguments, input shape, expected output
#: shape, call arguments, trainable weights, non-trainable weights).
LAYERS = {
    "ConvEncoder": (
        genae_layers.ConvEncoder, dict(filters=(4, 8)), (2, 8, 8, 1), (2, 2, 2, 8), {}, 4, 0),
    "ConvEncoder-res-bn": (
        genae_layers.ConvEncoder, dict(filters=(4, 8), num_res_blocks=1, use_batchnorm=True, kernel_size=3),
        (2, 8, 8, 1), (2, 2, 2, 8), {"training": False}, 12, 4),
    "ConvDecoder": (
        genae_layers.ConvDecoder, dict(channels=1, filters=(8, 4)), (2, 2, 2, 8), (2, 8, 8, 1), {}, 6, 0),
    "ConvDecoder-res": (
        genae_layers.ConvDecoder, dict(channels=3, filters=(8, 4), num_res_blocks=2, activation="elu"),
        (2, 2, 2, 8), (2, 8, 8, 3), {}, 16, 0),
    "DenseBottleneck-flatten": (
        genae_layers.DenseBottleneck, dict(units=5), (2, 2, 2, 3), (2, 5), {}, 2, 0),
    "DenseBottleneck-unflatten": (
        genae_layers.DenseBottleneck, dict(target_shape=(2, 2, 3), mode="unflatten"), (2, 5), (2, 2, 2, 3),
        {}, 2, 0),
    "ResidualBlock": (
        genae_layers.ResidualBlock, dict(filters=4, hidden_filters=2), (2, 4, 4, 4), (2, 4, 4, 4), {}, 4, 0),
    "VectorQuantizer": (
        genae_layers.VectorQuantizer, dict(num_embeddings=8, embedding_dim=3, seed=1),
        (2, 2, 2, 3), ((2, 2, 2, 3), (2, 2, 2), (2, 2, 2, 3)), {}, 1, 1),
    "VectorQuantizer-ema": (
        genae_layers.VectorQuantizer,
        dict(num_embeddings=8, embedding_dim=3, use_ema=True, ema_decay=0.9, dead_code_threshold=0.5, seed=1),
        (2, 2, 2, 3), ((2, 2, 2, 3), (2, 2, 2), (2, 2, 2, 3)), {"training": False}, 0, 4),
    "GatedPixelCNN": (
        genae_layers.GatedPixelCNN, dict(num_codes=6, filters=4, num_layers=2), (2, 3, 4),
        (2, 3, 4, 6), {}, 21, 0),
    "GatedPixelCNN-conditional": (
        genae_layers.GatedPixelCNN, dict(num_codes=6, filters=4, num_layers=2, num_classes=3, seed=1),
        (2, 3, 4), (2, 3, 4, 6), {"labels": np.array([0, 2])}, 23, 0),
    "SpectralConv2D": (
        genae_layers.SpectralConv2D, dict(filters=4, kernel_size=(3, 3), strides=(2, 2), padding="same", seed=1),
        (2, 8, 8, 3), (2, 4, 4, 4), {}, 2, 1),
    "SpectralDense": (
        genae_layers.SpectralDense, dict(units=5, seed=1), (2, 7), (2, 5), {}, 2, 1),
    "ClassGaussians": (
        genae_layers.ClassGaussians, dict(num_classes=3, dim=4), (2, 4), (2, 4),
        {"classes": np.array([0, 2])}, 0, 3),
}
#: Inputs of the layers that take other than floats in [0, 1).
INPUT_DATA = {name: np.random.RandomState(0).randint(0, 6, (2, 3, 4)).astype("int32")
              for name in ("GatedPixelCNN", "GatedPixelCNN-conditional")}


def test_the_table_covers_every_registered_layer():
    registered = {
        name for name, obj in vars(genae_layers).items()
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer)
        and keras.saving.get_registered_name(obj) == f"keras_genae>{name}"
    }
    assert registered == {"ConvEncoder", "ConvDecoder", "DenseBottleneck", "ResidualBlock", "VectorQuantizer",
                          "GatedPixelCNN", "SpectralConv2D", "SpectralDense", "ClassGaussians"}
    assert registered == {case[0].__name__ for case in LAYERS.values()}


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer(case):
    cls, kwargs, input_shape, output_shape, call_kwargs, trainable, non_trainable = LAYERS[case]
    run_layer_test(
        cls, kwargs, input_shape, output_shape, call_kwargs=call_kwargs,
        expected_num_trainable_weights=trainable, expected_num_non_trainable_weights=non_trainable,
        input_data=INPUT_DATA.get(case),
    )


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_every_constructor_argument_is_in_the_config(case):
    cls, kwargs = LAYERS[case][:2]
    config = json.loads(json.dumps(cls(**kwargs).get_config()))
    for key, value in kwargs.items():
        expected = list(value) if isinstance(value, tuple) else value
        assert config[key] == expected, (key, config[key], value)


def test_serialization_test_catches_a_config_that_is_not_json():
    class Opaque(keras.layers.Layer):
        def __init__(self, thing=None, **kwargs):
            super().__init__(**kwargs)
            self.thing = thing

        def get_config(self):
            return {**super().get_config(), "thing": self.thing}

    with pytest.raises(TypeError, match="not JSON serializable"):
        run_serialization_test(Opaque(thing=np.float32))


def test_serialization_test_catches_a_lost_argument():
    @keras.saving.register_keras_serializable(package="keras_genae_tests")
    class Forgetful(keras.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            if units != 3:
                self.extra = None  # An attribute only some configs create.

        def get_config(self):
            return super().get_config()  # `units` is not saved.

    run_serialization_test(Forgetful())
    with pytest.raises(AssertionError, match="extra"):
        run_serialization_test(Forgetful(units=5))


@pytest.mark.parametrize("cls, shape", [(genae_layers.SpectralDense, (3, 7)),
                                        (genae_layers.SpectralConv2D, (3, 6, 6, 2))],
                         ids=["dense", "conv"])
def test_spectral_norm_divides_the_kernel_by_its_largest_singular_value(cls, shape):
    kwargs = dict(units=5) if cls is genae_layers.SpectralDense else dict(filters=5, kernel_size=3)
    layer = cls(seed=0, use_bias=False, **kwargs)
    x = np.random.RandomState(0).rand(*shape).astype("float32")
    layer(x)
    # A kernel with known, well-separated singular values (3, 1.5, ...).
    rng = np.random.RandomState(0)
    shape = tuple(layer.kernel.shape)
    u, _ = np.linalg.qr(rng.randn(int(np.prod(shape[:-1])), shape[-1]))
    v, _ = np.linalg.qr(rng.randn(shape[-1], shape[-1]))
    singular = np.array([3.0, 1.5, 1.0, 0.5, 0.2])
    layer.kernel.assign(((u * singular) @ v.T).reshape(shape).astype("float32"))
    u_before = np.array(layer.u)
    eval_out = np.asarray(layer(x))
    np.testing.assert_array_equal(np.asarray(layer.u), u_before)  # inference: u is left as it is
    for _ in range(30):  # power iterations, one per training call
        layer(x, training=True)
    assert not np.allclose(np.asarray(layer.u), u_before)
    kernel = np.asarray(layer.kernel)
    sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
    np.testing.assert_allclose(sigma, 3.0, rtol=1e-5)
    normalized = np.asarray(layer.normalized_kernel(False))
    np.testing.assert_allclose(normalized, kernel / sigma, rtol=1e-4, atol=1e-6)
    # The kernel variable itself is never overwritten.
    assert np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0] > 2.0
    out = np.asarray(layer(x))
    plain = (x.reshape(-1, x.shape[-1]) @ (kernel / sigma)).reshape(out.shape) if cls is \
        genae_layers.SpectralDense else None
    if plain is not None:
        np.testing.assert_allclose(out, plain, rtol=1e-4, atol=1e-5)
    assert not np.allclose(out, eval_out)  # the estimate of sigma converged since


def test_class_gaussians_fit_each_class_and_draw_from_it():
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0, 0.0], [5.0, -2.0, 1.0]])
    mixing = np.array([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 2.0]],
                       [[0.3, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.0, 0.1]]])
    labels = np.arange(4000) % 2
    codes = means[labels] + np.einsum("nij,nj->ni", mixing[labels], rng.normal(size=(4000, 3)))
    density = genae_layers.ClassGaussians(num_classes=2, dim=3)
    assert not density.is_fitted
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(density(np.ones((2, 3), "float32"))), 1.0)
    density.fit(codes.astype("float32"), labels)
    assert density.is_fitted
    for k in range(2):  # each class's mean and covariance, from its codes only
        np.testing.assert_allclose(keras.ops.convert_to_numpy(density.means)[k], means[k], atol=0.1)
        tril = keras.ops.convert_to_numpy(density.scale_trils)[k]
        np.testing.assert_allclose(tril @ tril.T, mixing[k] @ mixing[k].T, atol=0.15)
        assert np.allclose(tril, np.tril(tril))
    noise = rng.normal(size=(6000, 3)).astype("float32")
    drawn = keras.ops.convert_to_numpy(density.draw(np.ones(6000, "int32"), noise))
    np.testing.assert_allclose(drawn.mean(axis=0), means[1], atol=0.05)
    np.testing.assert_allclose(np.cov(drawn, rowvar=False), mixing[1] @ mixing[1].T, atol=0.05)
    cold = keras.ops.convert_to_numpy(density.draw(np.ones(6000, "int32"), noise, temperature=0.5))
    fitted = keras.ops.convert_to_numpy(density.means)[1]
    np.testing.assert_allclose(cold - fitted, 0.5 * (drawn - fitted), atol=1e-4)
    with pytest.raises(ValueError, match=r"`codes` must have shape \(N, 3\)"):
        density.fit(codes[:, :2], labels)
    with pytest.raises(ValueError, match="needs the codes' `labels`"):
        density.fit(codes)
    with pytest.raises(ValueError, match="Class 1 has 3 codes; a 3-d covariance needs at least 4"):
        density.fit(codes[:8], np.array([0, 0, 0, 0, 0, 1, 1, 1]))
