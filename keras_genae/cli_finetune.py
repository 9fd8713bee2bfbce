"""`genae finetune NAME --images DIR --out DIR`: fine-tune a checkpoint on a
folder of images with its fine-tuning settings, print the held-out PSNR
before and after, and save the result with `save_pretrained`.

Every check (the output folder, the model, the images and their sizes)
runs before any training starts.
"""

import os

from keras_genae import hub
from keras_genae.data import image_io
from keras_genae.finetuner import finetune
from keras_genae.finetuner import split_validation
from keras_genae.utils.run_lock import run_lock


def add_parser(sub, parents):
    """Add the `finetune` command to the `genae` subparsers `sub`."""
    p = sub.add_parser("finetune", parents=parents,
                       help="fine-tune a checkpoint on a folder of your images")
    p.add_argument("name", help="a checkpoint name, hf:// handle, checkpoint directory or .keras file")
    p.add_argument("--images", required=True, nargs="+", metavar="DIR|FILE",
                   help="image files or folders (PNG, JPEG, BMP, GIF, WebP), searched recursively")
    p.add_argument("--out", required=True, help="checkpoint directory to write (must not exist)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs (default: enough for the checkpoint's default number of steps)")
    p.add_argument("--val-split", type=_fraction, default=0.1,
                   help="share of the images held out for validation (default 0.1)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="batch size (default: the checkpoint's fine-tuning batch size)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the shuffling (default 0)")
    p.add_argument("--invert", action="store_true", help="invert the images (dark strokes on white)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_finetune)
    return p


def positive_int(value):
    """`argparse` type of every positive-int option of `genae`."""
    import argparse

    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return number


def _fraction(value):
    import argparse

    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 < number < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1 (exclusive), got {value!r}")
    return number


def check_image_sizes(files, image_shape):
    """Raise a `ValueError` naming the first image smaller than the model's
    input: upscaling it would fine-tune the model on blurred images."""
    from PIL import Image

    height, width = int(image_shape[0]), int(image_shape[1])
    for f in files:
        with Image.open(f) as image:  # reads the header only
            w, h = image.size
        if w < width or h < height:
            raise ValueError(
                f"The image {f!r} is {w}x{h} pixels, smaller than the model's {width}x{height} "
                "input; fine-tuning on upscaled images would teach the model blur. Use images of "
                f"at least {width}x{height} pixels (larger ones are resized down)."
            )


def cmd_finetune(args):
    if os.path.exists(args.out) and not args.overwrite:
        raise FileExistsError(
            f"--out {args.out!r} already exists. Choose a new directory, or pass --overwrite "
            "to replace it."
        )
    model = hub.load(args.name)
    if not model.reports_psnr:
        raise ValueError(
            f"{args.name!r} is a {type(model).__name__}, which does not reconstruct images; "
            "`genae finetune` fine-tunes the reconstruction models (ae, dae, vae, vqvae, aae)."
        )
    x, files = image_io.load_images(args.images, model.image_shape, invert=args.invert)
    # load_images has already raised if no file was readable.
    check_image_sizes(files, model.image_shape)
    train, val = split_validation(x, args.val_split, args.seed)
    out = os.path.abspath(args.out)
    # One run at a time per --out: a second `genae finetune` into the same
    # folder refuses at once (a killed run leaves no stale lock).
    with run_lock(os.path.dirname(out), os.path.basename(out)):
        report = _finetune_and_save(args, model, train, val)
    print(f"Saved {args.out}. Load it with keras_genae.load({args.out!r}), or try: "
          f"genae reconstruct {args.out} --images {args.images[0]} --out reconstructions.png")
    return 0


def _finetune_and_save(args, model, train, val):
    settings = model.finetuning
    print(f"Fine-tuning {args.name} on {len(train)} images ({len(val)} held out for validation); "
          f"{settings.describe()}.", flush=True)
    report = finetune(model, train, val_images=val, epochs=args.epochs, batch_size=args.batch_size,
                      seed=args.seed, verbose=0 if args.quiet else 2)
    kept = "the pretrained weights (no epoch improved)" if report.best_epoch == 0 else \
        f"epoch {report.best_epoch} of {report.epochs}"
    print(f"Held-out PSNR on {report.num_val} validation images: {report.psnr_before:.2f} dB before, "
          f"{report.psnr_after:.2f} dB after ({report.psnr_after - report.psnr_before:+.2f} dB); "
          f"kept {kept}. {report.steps} steps in {report.seconds:.0f} s.")
    hub.save_pretrained(
        model, args.out, overwrite=args.overwrite, verbose=False,
        name=os.path.basename(os.path.normpath(args.out)),
        description=f"{args.name} fine-tuned with `genae finetune` on {len(train)} images.",
        metrics={"val_psnr_before": report.psnr_before, "val_psnr": report.psnr_after},
        load_handle=args.out,
    )
    return report
