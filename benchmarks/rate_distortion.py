"""Compression: a VQ-VAE as an image codec, against JPEG and WebP.

Usage:
    python benchmarks/rate_distortion.py --data-dir ../shared/data [--names vqvae_cifar10] [--images 1000]

A VQ-VAE stores an image as its code grid; the decoder turns the grid back
into the image. The rate of a grid is

- `fixed`: `h * w * log2(K)` bits (9 bits per code for K = 512), the
  grid written as it is;
- `prior`: the grid's code length `-log2 p(codes)` under the model's
  PixelCNN prior, the "no label" class (so the decoder needs no side
  information): the size an arithmetic coder driven by the prior reaches,
  within a few bits per image. It is the ideal code length, not a written
  bitstream.

JPEG and WebP (Pillow, 4:2:0 chroma subsampling for JPEG, WebP's lossy
mode) are run at every quality setting; their rate is the size of the
whole file, headers included, as a user would store it. Their PSNR at the
VQ-VAE's rates is interpolated between the two quality settings whose mean
size brackets it. Every figure is the mean over the same test images (every
`10_000 / --images`-th of the CIFAR-10 test split, which is sorted by
class, so every class is in). PSNR is `10 log10(1 / MSE)` per image in
[0, 1], averaged over images. Writes `compression.md` and
`compression.json` to `--out`.
"""

import argparse
import io
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keras import ops  # noqa: E402
from PIL import Image  # noqa: E402

import keras_genae  # noqa: E402
from keras_genae.data import datasets  # noqa: E402

QUALITIES = tuple(range(1, 101))


def psnr(a, b):
    """Mean PSNR (dB) of images in [0, 1], per image then averaged."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def codec_curve(images_u8, fmt):
    """(mean bits per image, mean PSNR) of `fmt` at every quality."""
    curve = []
    for q in QUALITIES:
        bits, decoded = [], []
        for image in images_u8:
            buffer = io.BytesIO()
            options = {"quality": q}
            if fmt == "WEBP":
                options["method"] = 6
            Image.fromarray(image).save(buffer, format=fmt, **options)
            bits.append(8 * buffer.tell())
            buffer.seek(0)
            decoded.append(np.asarray(Image.open(buffer).convert("RGB")))
        curve.append((float(np.mean(bits)), psnr(np.stack(decoded) / 255.0, images_u8 / 255.0), q))
    return curve


def at_rate(curve, bits):
    """PSNR of a codec curve at `bits` per image (linear interpolation
    between the qualities that bracket it), or None outside the curve."""
    points = sorted(curve)
    for (b0, p0, _), (b1, p1, _) in zip(points, points[1:]):
        if b0 <= bits <= b1:
            return p0 + (p1 - p0) * (bits - b0) / max(b1 - b0, 1e-9)
    return None


def vq_rates(model, x, batch=250):
    """Reconstruction PSNR and the fixed and prior-coded bits per image."""
    h, w = model.latent_shape
    fixed = h * w * np.log2(model.num_embeddings)
    recon, prior_bits = [], []
    for i in range(0, len(x), batch):
        codes = model.encode(x[i:i + batch])
        recon.append(ops.convert_to_numpy(model.decode(codes)))
        nats = ops.convert_to_numpy(model.prior_nll(codes))  # "no label": no side information
        prior_bits.append(nats / np.log(2))
    recon = np.concatenate(recon)
    return psnr(recon, x), float(fixed), float(np.mean(np.concatenate(prior_bits)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("KERAS_GENAE_DATA"))
    parser.add_argument("--names", nargs="+", default=["vqvae_cifar10", "vqvae_cifar10_8x8"])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)

    x_all, _ = datasets.load_arrays("cifar10", "test", data_dir=args.data_dir, dtype="uint8")
    stride = max(1, len(x_all) // args.images)
    x_u8 = x_all[::stride][: args.images]
    x = x_u8.astype("float32") / 255.0
    curves = {fmt: codec_curve(x_u8, fmt) for fmt in ("JPEG", "WEBP")}
    rows = []
    for name in args.names:
        model = keras_genae.load(name, compile=False)
        quality, fixed, coded = vq_rates(model, x)
        for rate_name, bits in (("fixed", fixed), ("prior", coded)):
            rows.append({
                "model": name, "rate": rate_name, "bits_per_image": bits,
                "bits_per_pixel": bits / (32 * 32), "vqvae_psnr": quality,
                "jpeg_psnr": at_rate(curves["JPEG"], bits), "webp_psnr": at_rate(curves["WEBP"], bits),
            })
    smallest = {fmt: min(c)[0] for fmt, c in curves.items()}
    results = {"rows": rows, "images": len(x), "stride": stride, "smallest_file_bits": smallest,
               "curves": {fmt: [dict(bits=b, psnr=p, quality=q) for b, p, q in c] for fmt, c in curves.items()},
               "machine": platform.processor() or platform.machine()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compression.json").write_text(json.dumps(results, indent=2))

    def fmt(v):
        return "below its smallest file" if v is None else f"{v:.2f}"

    lines = [
        f"PSNR (dB) at the same bits per image, on {len(x)} CIFAR-10 test images "
        f"(`python benchmarks/rate_distortion.py`).", "",
        "| model | rate | bits/image | bits/pixel | VQ-VAE | JPEG | WebP |", "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| `{r['model']}` | {r['rate']} | {r['bits_per_image']:.0f} | {r['bits_per_pixel']:.2f} "
                     f"| {r['vqvae_psnr']:.2f} | {fmt(r['jpeg_psnr'])} | {fmt(r['webp_psnr'])} |")
    lines += ["", "Smallest file (quality 1), headers included: "
              + ", ".join(f"{k} {v:.0f} bits" for k, v in smallest.items()) + "."]
    (out / "compression.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
