"""`genae interpolate NAME [--steps 10] [--rows 1] [--method lerp|slerp]
[--prior] --out strip.png`: strips of images decoded along latent paths,
between two encoded images (the default for a model that encodes) or
between two prior draws (`--prior`, and models that only sample)."""

import argparse

import numpy as np

from keras_genae.cli import common
from keras_genae.hub.api import load


def _image_pairs(args, model):
    """`(rows, 2, H, W, C)` images: the two `--images`, else distinct
    random pairs of the shipped sample images."""
    if args.images:
        x, files = common.read_images(args.images, model, invert=args.invert)
        common.require(len(x) == 2, f"--images must name exactly 2 images. Received {len(x)}: {files}")
        return x[None]
    pool = common.input_images(argparse.Namespace(images=None, n=None), model, args.name)
    rng = np.random.default_rng(args.seed)
    if 2 * args.rows <= len(pool):  # distinct images in every strip
        return pool[rng.permutation(len(pool))[:2 * args.rows]].reshape((args.rows, 2) + pool.shape[1:])
    return np.stack([pool[rng.choice(len(pool), 2, replace=False)] for _ in range(args.rows)])


def _encoded_ends(model, pairs):
    """The path ends of each pair, and the function that decodes a path.

    A model whose `encode` returns integer codes (a VQ-VAE's code indices)
    is interpolated between its continuous encodings, each point of the
    path snapped to its nearest code before decoding."""
    codes = [common.to_numpy(model.encode(p)) for p in pairs]
    if not np.issubdtype(codes[0].dtype, np.integer):
        return codes, lambda path: common.to_numpy(model.decode(path))
    ends = [common.to_numpy(model.encode_continuous(p)) for p in pairs]
    return ends, _snapped_decoder(model)


def _snapped_decoder(model):
    """Decode a path of code vectors, each point snapped to its nearest code."""
    return lambda path: common.to_numpy(model.decode(model.quantizer(path)[0]))


def _prior_ends(model, args):
    """The path ends between prior draws, and the function that decodes a
    path. Integer draws (a VQ-VAE's code grids, from its PixelCNN prior)
    are interpolated between their codebook vectors, snapped as above."""
    z = common.to_numpy(model.sample_latents(2 * args.rows, seed=args.seed))
    if np.issubdtype(z.dtype, np.integer):
        vectors = common.to_numpy(model.indices_to_vectors(z))
        return [vectors[2 * r:2 * r + 2] for r in range(args.rows)], _snapped_decoder(model)
    return [z[2 * r:2 * r + 2] for r in range(args.rows)], lambda path: common.to_numpy(model.decode(path))


def run(args):
    model = load(args.name, compile=False)
    capabilities = model.capabilities
    if args.images or ("encode" in capabilities and not args.prior):
        common.require_capability(model, args.name, "encode",
                                  "Drop --images to interpolate between prior draws."
                                  if "sample" in capabilities else "")
        ends, decode = _encoded_ends(model, _image_pairs(args, model))
        source = "encoded images"
    else:
        common.require_capability(model, args.name, "sample",
                                  "Interpolate between encoded images instead (drop --prior).")
        ends, decode = _prior_ends(model, args)
        source = "prior draws"

    strips = [decode(common.interpolate(a, b, args.steps, args.method)) for a, b in ends]
    where = common.write_grid(np.concatenate(strips), args.out, args.steps, args.scale)
    print(f"Wrote {where}: {len(strips)} x {args.steps} steps, {args.method} between {source}.")
    return 0
