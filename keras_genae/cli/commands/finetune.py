"""`genae finetune NAME --images DIR --out DIR`: fine-tune a checkpoint on
a folder of images with its fine-tuning settings, print the held-out PSNR
before and after, and save the result with `save_pretrained`.

Every check (the output folder, the model, the images and their sizes)
runs before any training starts.
"""

import os

from keras_genae.cli import common
from keras_genae.hub.api import load
from keras_genae.hub.api import save_pretrained
from keras_genae.models import family as families
from keras_genae.models.base import LOADABLE_MODELS
from keras_genae.utils.run_lock import run_lock
from keras_genae.workflow.finetune import finetune
from keras_genae.workflow.finetune import split_validation


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


def _reconstructing_families():
    return ", ".join(f.alias for f in families.list_families()
                     if "reconstruct" in LOADABLE_MODELS[f.architecture].capabilities)


def run(args):
    if os.path.exists(args.out) and not args.overwrite:
        raise FileExistsError(
            f"--out {args.out!r} already exists. Choose a new directory, or pass --overwrite "
            "to replace it."
        )
    model = load(args.name)  # with the checkpoint's fine-tuning settings
    if "reconstruct" not in model.capabilities:
        raise ValueError(
            f"{args.name!r} is a {type(model).__name__}, which does not reconstruct images; "
            f"`genae finetune` fine-tunes the models that do ({_reconstructing_families()})."
        )
    x, files = common.read_images(args.images, model, invert=args.invert)
    # read_images has already raised if no file was readable.
    check_image_sizes(files, model.image_shape)
    train, val = split_validation(x, args.val_split, args.seed)
    out = os.path.abspath(args.out)
    # One run at a time per --out: a second `genae finetune` into the same
    # folder refuses at once (a killed run leaves no stale lock).
    with run_lock(os.path.dirname(out), os.path.basename(out)):
        _finetune_and_save(args, model, train, val)
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
    save_pretrained(
        model, args.out, overwrite=args.overwrite, verbose=False,
        name=os.path.basename(os.path.normpath(args.out)),
        description=f"{args.name} fine-tuned with `genae finetune` on {len(train)} images.",
        metrics={"val_psnr_before": report.psnr_before, "val_psnr": report.psnr_after},
        load_handle=args.out,
    )
    return report
