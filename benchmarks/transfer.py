"""Transfer: does fine-tuning a pretrained checkpoint on a new domain help?

Usage:
    python benchmarks/transfer.py --data-dir ../shared/data [--names ...] [--sizes 64 256 1024]
    python benchmarks/transfer.py --data-dir ../shared/data --sweep   # choose the learning rates

Every pretrained reconstruction checkpoint (ae, dae, vae and vqvae on each
dataset) is tested on a domain it was not trained on:

- the MNIST models on Fashion-MNIST, the Fashion-MNIST models on MNIST
  (`<dataset>.npz` in `--data-dir`: N training images from the train split,
  1,000 held-out images from the test split);
- the CIFAR-10 models on natural photos that ship with scikit-image
  (`skimage/data`: astronaut, chelsea, coffee, hubble_deep_field, ihc,
  motorcycle_left, retina, rocket), resized to several scales and cut into
  32x32 crops. The left 65% of each photo gives the training crops, the
  right 35% the 1,000 held-out crops, so no held-out pixel is ever trained on.

For N = 64, 256 and 1024 training images it reports the held-out PSNR
(dB, mean over the 1,000 images of `model.reconstruct`):

- `zero_shot`: the pretrained model as it is;
- `finetuned`: `keras_genae.finetune(keras_genae.load(name), images)` with
  every default: the checkpoint's fine-tuning settings, 10% of the N images
  held out for validation, the best validation epoch kept;
- `scratch`: the same architecture from fresh weights
  (`load(name, pretrained=False)`, compiled with the from-scratch Adam
  1e-3), trained the same way for the same number of steps;

and the wall time of each run. `--sweep` fine-tunes each checkpoint at
N = 256 at several Adam learning rates (no best-epoch selection, to see each
rate's own effect); its table chose the recipes' `finetuning` settings.
`--steps 300 1200` compares fine-tuned and scratch at N = 256 for each run
length (transfer_steps.*). `--ceilings` scores, on the same held-out
images, the zoo checkpoint of the same architecture and configuration
trained on the target domain's whole train split (vae_fashion_mnist for
vae_mnist, ...): what the architecture reaches with 60,000 in-domain
images, a bound for both runs.
Writes `transfer.md` and `transfer.json` (or `transfer_sweep.*`) to `--out`.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_genae  # noqa: E402
from keras_genae import data as data_lib  # noqa: E402
from keras_genae.workflow.finetune import finetune  # noqa: E402
from keras_genae.workflow.finetune import reconstruction_psnr  # noqa: E402
from keras_genae.models.finetuning import FineTuning  # noqa: E402

CHECKPOINTS = ("ae_mnist", "dae_mnist", "vae_mnist", "vqvae_mnist", "vae_fashion_mnist",
               "vqvae_fashion_mnist", "vae_cifar10", "vqvae_cifar10", "vqvae_cifar10_8x8")
#: The domain each checkpoint is tested on.
TARGET = {"mnist": "fashion_mnist", "fashion_mnist": "mnist", "cifar10": "natural"}
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
          "motorcycle_left.png", "retina.jpg", "rocket.jpg")
NUM_HELD_OUT = 1000
SWEEP_RATES = (1e-3, 3e-4, 1e-4, 3e-5)
#: Multi-optimizer checkpoints of the sweep: every phase's from-scratch rate
#: is multiplied by each of SWEEP_SCALES. The AAE is measured by held-out
#: PSNR, the DCGAN by the Frechet distance of 1,000 samples to 1,000
#: held-out images of the new domain, in that domain's classifier features.
MULTI_PHASE = ("aae_mnist", "dcgan_mnist")
SWEEP_SCALES = (1.0, 0.3, 0.1)


# ------------------------------------------------------------------ data
def natural_crops(n, part, seed, size=32, short_sides=(40, 56, 80, 112)):
    """`n` random `size`x`size` RGB crops, float32 in [0, 1], of the
    scikit-image photos: `part="train"` from the left 65% of each photo,
    `"test"` from the right 35%. Each photo part is resized (Lanczos) so
    that its short side is one of `short_sides`, then cropped."""
    import skimage
    from PIL import Image

    folder = Path(skimage.__file__).parent / "data"
    rng = np.random.default_rng(seed)
    scaled = []
    for name in PHOTOS:
        img = Image.open(folder / name).convert("RGB")
        w, h = img.size
        cut = int(0.65 * w)
        img = img.crop((0, 0, cut, h) if part == "train" else (cut, 0, w, h))
        for short in short_sides:
            ratio = short / min(img.size)
            scaled.append(np.asarray(img.resize(
                (max(size, round(img.size[0] * ratio)), max(size, round(img.size[1] * ratio))),
                Image.LANCZOS)))
    crops = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        a = scaled[rng.integers(len(scaled))]
        y, x = rng.integers(a.shape[0] - size + 1), rng.integers(a.shape[1] - size + 1)
        crops[i] = a[y:y + size, x:x + size]
    return crops.astype("float32") / 255.0


def domain_data(domain, max_train, data_dir, seed=0):
    """`(train_pool, held_out)` of a target domain: `max_train` training
    images and `NUM_HELD_OUT` held-out images, float32 in [0, 1]."""
    if domain == "natural":
        return (natural_crops(max_train, "train", seed),
                natural_crops(NUM_HELD_OUT, "test", seed + 1))
    rng = np.random.default_rng(seed)
    x_train = data_lib.load_arrays(domain, "train", data_dir)[0]
    x_test = data_lib.load_arrays(domain, "test", data_dir)[0]
    return (x_train[rng.permutation(len(x_train))[:max_train]],
            x_test[rng.permutation(len(x_test))[:NUM_HELD_OUT]])


# ------------------------------------------------------------------ runs
def run_finetuned(name, train, held_out, seed=0, steps=None):
    model = keras_genae.load(name)
    start = time.perf_counter()
    report = finetune(model, train, seed=seed, steps=steps)
    seconds = time.perf_counter() - start
    return model, report, {"psnr": reconstruction_psnr(model, held_out), "seconds": seconds,
                           "epochs": report.epochs, "steps": report.steps,
                           "best_epoch": report.best_epoch}


def run_scratch(name, train, held_out, epochs, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras_genae.load(name, pretrained=False, seed=seed)
    start = time.perf_counter()
    report = finetune(model, train, epochs=epochs, seed=seed)
    return {"psnr": reconstruction_psnr(model, held_out), "seconds": time.perf_counter() - start,
            "epochs": report.epochs, "steps": report.steps, "best_epoch": report.best_epoch}


def finetuned_vs_scratch(name, train, held_out, seed=0, steps=None):
    """Fine-tune `name` on `train` with its defaults (`steps` overrides the
    run length), then train it from scratch for as many epochs. Returns the
    fine-tuned model and the row fields both tables share."""
    model, report, ft = run_finetuned(name, train, held_out, seed, steps=steps)
    sc = run_scratch(name, train, held_out, report.epochs, seed)
    return model, {"finetuned": round(ft["psnr"], 2), "scratch": round(sc["psnr"], 2),
                   "finetuned_seconds": round(ft["seconds"], 1), "scratch_seconds": round(sc["seconds"], 1),
                   "steps": ft["steps"], "best_epoch": ft["best_epoch"], "epochs": ft["epochs"]}


def sweep(names, data_dir, n=256, rates=SWEEP_RATES, seed=0):
    rows = []
    for name in names:
        dataset = keras_genae.model_info(name)["dataset"]
        train, held_out = domain_data(TARGET[dataset], n, data_dir, seed)
        zero = reconstruction_psnr(keras_genae.load(name, compile=False), held_out)
        for lr in rates:
            keras.utils.set_random_seed(seed)
            model = keras_genae.load(name, compile=False)
            FineTuning(learning_rate=lr).compile(model)
            start = time.perf_counter()
            report = finetune(model, train, keep_best=False, seed=seed)
            row = {"checkpoint": name, "target": TARGET[dataset], "n": n, "learning_rate": lr,
                   "zero_shot": round(zero, 2), "finetuned": round(reconstruction_psnr(model, held_out), 2),
                   "steps": report.steps, "seconds": round(time.perf_counter() - start, 1)}
            if isinstance(model, keras_genae.VQVAE):
                row["codebook_usage"], row["perplexity"] = codebook_stats(model, held_out)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def multi_phase_sweep(names, data_dir, n=1024, scales=SWEEP_SCALES, seed=0):
    """Fine-tune AAE/DCGAN checkpoints with every phase's rate scaled."""
    from keras_genae.evaluation.frechet import frechet_distance_between

    rows = []
    for name in names:
        dataset = keras_genae.model_info(name)["dataset"]
        train, held_out = domain_data(TARGET[dataset], n, data_dir, seed)
        base = keras_genae.load(name, compile=False)
        classifier = keras_genae.load(f"classifier_{TARGET[dataset]}") if not base.reports_psnr else None

        def score(model):
            if classifier is None:
                return reconstruction_psnr(model, held_out)
            samples = keras.ops.convert_to_numpy(model.sample(len(held_out), seed=seed))
            return frechet_distance_between(classifier, samples, held_out)

        zero = score(base)
        for scale in scales:
            keras.utils.set_random_seed(seed)
            model = keras_genae.load(name, compile=False)
            rates = {k: scale * float(keras.ops.convert_to_numpy(model.default_optimizer(k).learning_rate))
                     for k in model.optimizer_names}
            FineTuning(phase_learning_rates=tuple(sorted(rates.items()))).compile(model)
            start = time.perf_counter()
            model.fit(train, epochs=FineTuning().epochs_for(len(train)), batch_size=32, verbose=0)
            row = {"checkpoint": name, "target": TARGET[dataset], "n": n, "scale": scale,
                   "rates": {k: round(v, 8) for k, v in rates.items()},
                   "measure": "psnr" if classifier is None else "frechet_distance",
                   "zero_shot": round(zero, 2), "finetuned": round(score(model), 2),
                   "seconds": round(time.perf_counter() - start, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def readme_recipe(data_dir, names=("vqvae_cifar10", "vae_cifar10"), n=200, seed=0):
    """The README's short recipe, `load(name)` then `fit(x, epochs=5,
    batch_size=64)` on `n` images, with the compile `load` gives now and
    with the old from-scratch `Adam(1e-3)`: held-out PSNR before and after."""
    rows = []
    for name in names:
        dataset = keras_genae.model_info(name)["dataset"]
        train, held_out = domain_data(TARGET[dataset], n, data_dir, seed)
        for compile_with in ("load() default", "Adam(1e-3)"):
            keras.utils.set_random_seed(seed)
            model = keras_genae.load(name)
            if compile_with == "Adam(1e-3)":
                model.compile(optimizer=keras.optimizers.Adam(1e-3))
            before = reconstruction_psnr(model, held_out)
            model.fit(train, epochs=5, batch_size=64, verbose=0)
            row = {"checkpoint": name, "target": TARGET[dataset], "n": n, "compile": compile_with,
                   "before": round(before, 2), "after": round(reconstruction_psnr(model, held_out), 2)}
            if isinstance(model, keras_genae.VQVAE):
                row["perplexity_after"] = codebook_stats(model, held_out)[1]
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def recipe_markdown(rows, header):
    lines = [header, "", "`model = keras_genae.load(name)`, then `model.fit(x, epochs=5, batch_size=64)` on "
             f"{rows[0]['n']} images ({5 * -(-rows[0]['n'] // 64)} steps a run):", "",
             "| checkpoint | tested on | compiled with | before | after | perplexity after |",
             "|---|---|---|---:|---:|---:|"]
    lines += [f"| `{r['checkpoint']}` | {r['target']} | {r['compile']} | {r['before']:.2f} | {r['after']:.2f} | "
              f"{r.get('perplexity_after', '-')} |" for r in rows]
    return "\n".join(lines) + "\n"


def codebook_stats(model, images):
    """Share of codes used, and the perplexity, over `images`."""
    from keras_genae.metrics import codebook_perplexity

    idx = keras.ops.convert_to_numpy(model.encode(images)).ravel()
    counts = np.bincount(idx, minlength=model.num_embeddings)
    return round(float(np.mean(counts > 0)), 3), round(float(codebook_perplexity(counts)), 1)


def benchmark(names, sizes, data_dir, seed=0, picture=None):
    rows = []
    for name in names:
        dataset = keras_genae.model_info(name)["dataset"]
        domain = TARGET[dataset]
        pool, held_out = domain_data(domain, max(sizes), data_dir, seed)
        zero_model = keras_genae.load(name, compile=False)
        zero = reconstruction_psnr(zero_model, held_out)
        for n in sizes:
            model, pair = finetuned_vs_scratch(name, pool[:n], held_out, seed)
            row = {"checkpoint": name, "target": domain, "n": n, "zero_shot": round(zero, 2), **pair,
                   "settings": model.finetuning.describe()}
            if isinstance(model, keras_genae.VQVAE):
                row["codebook_usage"], row["perplexity"] = codebook_stats(model, held_out)
                row["zero_shot_codebook"] = list(codebook_stats(zero_model, held_out))
            rows.append(row)
            print(json.dumps(row), flush=True)
            if picture and name == picture[0] and n == int(picture[1]):
                save_picture(zero_model, model, held_out, picture[2])
    return rows


def steps_study(names, data_dir, steps_list, n=256, seed=0):
    """Fine-tuned vs scratch at N = `n` for several run lengths: does a
    longer default run widen the gap over scratch?"""
    rows = []
    for name in names:
        target = TARGET[keras_genae.model_info(name)["dataset"]]
        train, held_out = domain_data(target, n, data_dir, seed)
        for steps in steps_list:
            _, pair = finetuned_vs_scratch(name, train, held_out, seed, steps=steps)
            rows.append({"checkpoint": name, "target": target, "n": n, **pair})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def steps_markdown(rows, header):
    lines = [header, "", "Fine-tuned (the checkpoint's settings, best validation epoch kept) and from "
             "scratch for the same number of steps, at several run lengths:", "",
             "| checkpoint | tested on | N | steps | fine-tuned | from scratch | fine-tuned - scratch | "
             "best epoch / epochs |", "|---|---|---:|---:|---:|---:|---:|---|"]
    lines += [f"| `{r['checkpoint']}` | {r['target']} | {r['n']} | {r['steps']} | {r['finetuned']:.2f} | "
              f"{r['scratch']:.2f} | {r['finetuned'] - r['scratch']:+.2f} | {r['best_epoch']} / {r['epochs']} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def in_domain_sibling(name):
    """The zoo checkpoint of `name`'s architecture and configuration that
    was trained on `name`'s target domain (the full train split), or None."""
    from keras_genae.models.family import get_recipe, list_recipes

    recipe = get_recipe(name)
    for other in map(get_recipe, list_recipes()):
        if (other.dataset == TARGET[recipe.dataset] and other.architecture == recipe.architecture
                and other.config == recipe.config):
            return other.name
    return None


def ceilings(names, data_dir, seed=0):
    """For each checkpoint with an in-domain sibling, the sibling's PSNR on
    the same held-out images: what the architecture reaches when trained
    on the whole target train split, a bound for fine-tuning and scratch."""
    rows = []
    for name in names:
        sibling = in_domain_sibling(name)
        if sibling is None:
            continue
        domain = TARGET[keras_genae.model_info(name)["dataset"]]
        held_out = domain_data(domain, 1, data_dir, seed)[1]
        psnr = reconstruction_psnr(keras_genae.load(sibling, compile=False), held_out)
        rows.append({"checkpoint": name, "target": domain, "sibling": sibling, "psnr": round(psnr, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def ceilings_markdown(rows, transfer_rows, header):
    lines = [header, "", "The same architecture and configuration trained on the target domain's whole "
             "train split (the zoo checkpoint named), on the same held-out images, beside the N = 256 "
             "runs of transfer.md:", "",
             "| checkpoint | tested on | in-domain checkpoint | its PSNR | N = 256 fine-tuned | "
             "N = 256 scratch | in-domain - scratch |", "|---|---|---|---:|---:|---:|---:|"]
    at = {(r["checkpoint"], r["n"]): r for r in transfer_rows}
    for r in rows:
        t = at.get((r["checkpoint"], 256))
        cells = (f"{t['finetuned']:.2f} | {t['scratch']:.2f} | {r['psnr'] - t['scratch']:+.2f}"
                 if t else "- | - | -")
        lines.append(f"| `{r['checkpoint']}` | {r['target']} | `{r['sibling']}` | {r['psnr']:.2f} | {cells} |")
    return "\n".join(lines) + "\n"


def save_picture(before, after, held_out, path):
    """Rows of 8: held-out inputs, zero-shot reconstructions, fine-tuned ones."""
    from keras_genae.data.grids import save_grid

    x = held_out[:: len(held_out) // 8][:8]
    rows = [x, keras.ops.convert_to_numpy(before.reconstruct(x)),
            keras.ops.convert_to_numpy(after.reconstruct(x))]
    save_grid(np.concatenate(rows), path, ncols=8, scale=3)


# ---------------------------------------------------------------- report
def markdown(rows, header):
    lines = [header, "",
             "| checkpoint | tested on | N | zero-shot | fine-tuned | from scratch | "
             "fine-tuned - zero-shot | fine-tuned - scratch | steps | fine-tune s | scratch s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| `{r['checkpoint']}` | {r['target']} | {r['n']} | {r['zero_shot']:.2f} | "
            f"{r['finetuned']:.2f} | {r['scratch']:.2f} | {r['finetuned'] - r['zero_shot']:+.2f} | "
            f"{r['finetuned'] - r['scratch']:+.2f} | {r['steps']} | {r['finetuned_seconds']:.0f} | "
            f"{r['scratch_seconds']:.0f} |")
    vq = [r for r in rows if "perplexity" in r]
    if vq:
        lines += ["", "VQ-VAE codebooks on the held-out images (share of codes used, perplexity):", "",
                  "| checkpoint | N | zero-shot | fine-tuned |", "|---|---:|---|---|"]
        lines += [f"| `{r['checkpoint']}` | {r['n']} | {r['zero_shot_codebook'][0]:.3f}, "
                  f"{r['zero_shot_codebook'][1]:.1f} | {r['codebook_usage']:.3f}, {r['perplexity']:.1f} |"
                  for r in vq]
    return "\n".join(lines) + "\n"


def sweep_markdown(rows, header):
    lines = [header, "", "| checkpoint | tested on | learning rate | zero-shot | fine-tuned | steps | s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        extra = f" (codebook {r['codebook_usage']:.2f}, perplexity {r['perplexity']:.0f})" if "perplexity" in r else ""
        lines.append(f"| `{r['checkpoint']}` | {r['target']} | {r['learning_rate']:g} | {r['zero_shot']:.2f} | "
                     f"{r['finetuned']:.2f}{extra} | {r['steps']} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def phase_markdown(rows, header):
    lines = [header, "", "| checkpoint | tested on | N | rate scale | phase rates | measure | zero-shot | "
             "fine-tuned | s |", "|---|---|---:|---:|---|---|---:|---:|---:|"]
    for r in rows:
        rates = ", ".join(f"{k} {v:g}" for k, v in r["rates"].items())
        lines.append(f"| `{r['checkpoint']}` | {r['target']} | {r['n']} | {r['scale']:g} | {rates} | "
                     f"{r['measure']} | {r['zero_shot']:.2f} | {r['finetuned']:.2f} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="folder of mnist.npz and fashion_mnist.npz")
    parser.add_argument("--names", nargs="*", default=list(CHECKPOINTS))
    parser.add_argument("--sizes", nargs="*", type=int, default=[64, 256, 1024])
    parser.add_argument("--sweep", action="store_true", help="compare learning rates at N=256")
    parser.add_argument("--sweep-phases", action="store_true",
                        help="compare per-phase rate scales of the AAE and DCGAN at N=1024")
    parser.add_argument("--picture", nargs=3, metavar=("NAME", "N", "PATH"),
                        default=("vqvae_cifar10", "256", "docs/images/transfer_vqvae_cifar10.png"))
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--readme-recipe", action="store_true",
                        help="the README's load-then-fit(epochs=5) recipe, default compile vs Adam(1e-3)")
    parser.add_argument("--readme", default=None,
                        help="also write the table between the transfer-table markers of this README")
    parser.add_argument("--ceilings", action="store_true",
                        help="the in-domain zoo checkpoint of each architecture on the held-out images")
    parser.add_argument("--steps", type=int, nargs="*", default=None, metavar="STEPS",
                        help="fine-tuned vs scratch at N=256 for these run lengths (transfer_steps.*)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render transfer.md (and --readme) from transfer.json, without running")
    args = parser.parse_args(argv)
    header = (f"`python benchmarks/transfer.py{' --sweep' if args.sweep else ''}`: held-out PSNR in dB "
              f"on {NUM_HELD_OUT} images of a domain each checkpoint was not trained on. "
              f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
              f"keras {keras.__version__} ({keras.backend.backend()}).")
    out = Path(args.out)
    if args.report_only:
        rows = json.loads((out / "transfer.json").read_text())
        return write_report(markdown(rows, header), out, "transfer", args.readme)
    if args.readme_recipe:
        rows = readme_recipe(args.data_dir)
        header = header.replace("`python benchmarks/transfer.py`", "`python benchmarks/transfer.py --readme-recipe`")
        text, stem = recipe_markdown(rows, header), "transfer_readme_recipe"
    elif args.sweep_phases:
        rows = multi_phase_sweep(MULTI_PHASE, args.data_dir)
        header = header.replace("`python benchmarks/transfer.py`", "`python benchmarks/transfer.py --sweep-phases`")
        header = header.replace("held-out PSNR in dB", "held-out PSNR in dB (AAE) or Frechet distance (DCGAN)")
        text, stem = phase_markdown(rows, header), "transfer_phases"
    elif args.ceilings:
        rows = ceilings(args.names, args.data_dir)
        header = header.replace("`python benchmarks/transfer.py`", "`python benchmarks/transfer.py --ceilings`")
        transfer_rows = json.loads((out / "transfer.json").read_text()) if (out / "transfer.json").exists() else []
        text, stem = ceilings_markdown(rows, transfer_rows, header), "transfer_ceilings"
    elif args.steps:
        rows = steps_study(args.names, args.data_dir, args.steps)
        header = header.replace("`python benchmarks/transfer.py`",
                                f"`python benchmarks/transfer.py --names {' '.join(args.names)} "
                                f"--steps {' '.join(map(str, args.steps))}`")
        text, stem = steps_markdown(rows, header), "transfer_steps"
    elif args.sweep:
        rows = sweep(args.names, args.data_dir)
        text, stem = sweep_markdown(rows, header), "transfer_sweep"
    else:
        rows = benchmark(args.names, sorted(args.sizes), args.data_dir, picture=args.picture)
        if (out / "transfer.json").exists() and set(args.names) != set(CHECKPOINTS):
            # A rerun of some checkpoints replaces their rows and keeps the others.
            new = {(r["checkpoint"], r["n"]) for r in rows}
            kept = [r for r in json.loads((out / "transfer.json").read_text())
                    if (r["checkpoint"], r["n"]) not in new]
            rows = sorted(kept + rows, key=lambda r: (CHECKPOINTS.index(r["checkpoint"]), r["n"]))
        text, stem = markdown(rows, header), "transfer"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=1) + "\n")
    return write_report(text, out, stem, args.readme if stem == "transfer" else None)


def write_report(text, out, stem, readme=None):
    (out / f"{stem}.md").write_text(text)
    if readme:
        begin, end = "<!-- transfer-table:begin -->", "<!-- transfer-table:end -->"
        page = Path(readme).read_text()
        head, rest = page.split(begin, 1)
        Path(readme).write_text(head + begin + "\n" + text + rest[rest.index(end):])
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
