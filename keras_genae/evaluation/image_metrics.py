"""Image-quality metrics in `keras.ops`: SSIM, and the per-image MSE and
PSNR of `keras_genae.metrics` (which the training logs use too)."""

import numpy as np
from keras import ops

from keras_genae.metrics import mse_per_image  # noqa: F401 (public name)
from keras_genae.metrics import psnr  # noqa: F401 (public name)


def _gaussian_window(size, sigma):
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (coords / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g).astype("float32")


def ssim(x, y, data_range=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """Structural similarity of each image pair, `(batch,)` float32.

    Computed exactly as `tf.image.ssim` does (Wang et al. 2004: Gaussian
    window, the same constants, "valid" windows averaged over windows and
    channels), in `keras.ops` so that it runs on every backend.

    Args:
        x, y: images `(batch, H, W, C)` with `H, W >= filter_size`.
        data_range: float. Defaults to `1.0`.
        filter_size: int. Side of the Gaussian window. Defaults to `11`.
        filter_sigma: float. Defaults to `1.5`.
        k1, k2: floats. Stabilizing constants. Default to `0.01`, `0.03`.

    References:
        - [Wang et al., 2004](https://doi.org/10.1109/TIP.2003.819861)

    Example:
    >>> ssim(x, x)  # 1.0 for every image
    """
    x, y = ops.cast(x, "float32"), ops.cast(y, "float32")
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    if min(height, width) < filter_size:
        raise ValueError(
            f"SSIM needs images of at least {filter_size}x{filter_size} pixels "
            f"(`filter_size`). Received shape {tuple(x.shape)}."
        )
    window = _gaussian_window(filter_size, filter_sigma)
    kernel = ops.convert_to_tensor(np.tile(window[:, :, None, None], (1, 1, channels, 1)))

    def blur(t):
        return ops.depthwise_conv(t, kernel, strides=1, padding="valid")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    return ops.mean(luminance * contrast_structure, axis=(1, 2, 3))
