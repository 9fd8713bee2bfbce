"""The pretrained zoo: evaluate trained recipes, write their checkpoints,
and publish them into the package and the manifest.

Commands:
    python -m keras_genae.zoo evaluate [NAME ...] --data-dir ../shared/data
        Re-evaluate shipped checkpoints on the full test split and rewrite
        their metrics in the model cards, the manifest and the README table.
    python -m keras_genae.zoo publish DIR [DIR ...]
        Copy checkpoint directories written by `keras_genae.train` into
        `keras_genae/checkpoints/` and add them to the manifest.
    python -m keras_genae.zoo table
        Print the README's checkpoint table from the manifest.
    python -m keras_genae.zoo cards [NAME ...]
        Rewrite the shipped checkpoints' fine-tuning settings (from their
        recipes) in `metadata.json`, the model cards and the manifest,
        without re-evaluating them (the weights are untouched).
"""

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

#: Hub location of the zoo: `<HUB_NAMESPACE>/<name>` at the tag of the release.
HUB_NAMESPACE = "keras-genae"
HUB_REVISION = "v0.1.0"

DATA_LICENSES = {
    "mnist": "CC BY-SA 3.0 as redistributed by TensorFlow Datasets (the original "
             "MNIST site states no license)",
    "fashion_mnist": "MIT, (c) 2017 Zalando SE",
    "cifar10": "No formal license; cite Krizhevsky (2009), Learning Multiple Layers "
               "of Features from Tiny Images",
}
PREPROCESSING = {
    None: "uint8 pixels divided by 255, float32 in [0, 1]",
    "dynamic": "uint8 pixels divided by 255, then binarized by Bernoulli sampling "
               "each epoch (training); evaluated on the statically binarized test set",
}
REFERENCES = {
    "Autoencoder": ["https://doi.org/10.1126/science.1127647"],
    "DenoisingAutoencoder": ["https://doi.org/10.1145/1390156.1390294"],
    "VAE": ["https://arxiv.org/abs/1312.6114"],
    "VQVAE": ["https://arxiv.org/abs/1711.00937"],
    "AdversarialAutoencoder": ["https://arxiv.org/abs/1511.05644"],
    "DCGAN": ["https://arxiv.org/abs/1511.06434"],
    "FeatureClassifier": ["https://arxiv.org/abs/1706.08500"],
}
#: The quality floors of the zoo (issue 5), checked by the golden tests.
FLOORS = {
    "ae_mnist": ("psnr", ">=", 22.0),
    "dae_mnist": ("psnr_gain", ">=", 6.0),
    "vae_mnist": ("neg_elbo", "<=", 100.0),
    "vqvae_mnist": ("psnr", ">=", 25.0),
    "vqvae_cifar10": ("psnr", ">=", 24.0),
    "vae_cifar10": ("psnr", ">=", 20.0),
    "classifier_mnist": ("test_accuracy", ">=", 0.99),
    "classifier_fashion_mnist": ("test_accuracy", ">=", 0.90),
    "classifier_cifar10": ("test_accuracy", ">=", 0.75),
}
CHECKPOINTS_DIR = Path(__file__).parent / "checkpoints"


def test_split(recipe, data_dir=None, limit=None, batch_size=256):
    """The evaluation data of a recipe: the full test split (or its first
    `limit` images), binarized like the training data."""
    from keras_genae import data as data_lib

    split = "test" if limit is None else f"test[:{limit}]"
    binarize = "static" if recipe.binarize else None
    return data_lib.load_dataset(recipe.dataset, split, batch_size=batch_size, shuffle=False,
                                 binarize=binarize, data_dir=data_dir)


def shipped_classifier(dataset):
    """The shipped feature classifier of `dataset` (loaded offline from the
    package and verified against the manifest), or None if there is none."""
    from keras_genae.hub import manifest
    from keras_genae.classifiers import load_classifier

    name = f"classifier_{dataset}"
    return load_classifier(name) if name in manifest.get_manifest() else None


def evaluate_recipe_model(model, recipe, data_dir=None, limit=None, num_samples=10_000):
    """Evaluate a model of `recipe` with the zoo's protocol (see README).

    Fréchet distances compare `num_samples` samples with the test split as
    it is (grayscale, even for models trained on binarized images), in the
    features of the dataset's shipped classifier. A classifier recipe
    reports its test accuracy and the distance between `num_samples` train
    images and the test split."""
    from keras_genae.evaluation import evaluate

    if recipe.architecture == "FeatureClassifier":
        from keras_genae.classifiers import evaluate_classifier

        return evaluate_classifier(model, recipe.dataset, data_dir, limit, reference_size=num_samples)
    sampling = getattr(model, "has_prior", False) and num_samples > 0
    classifier = shipped_classifier(recipe.dataset) if sampling else None
    noise = 0.3 if recipe.architecture == "DenoisingAutoencoder" else None
    reference = None
    if classifier is not None and recipe.binarize:
        reference = test_split(dataclasses.replace(recipe, binarize=None), data_dir, limit)
    metrics = evaluate(model, test_split(recipe, data_dir, limit), classifier=classifier,
                       num_samples=num_samples if classifier is not None else 0,
                       noise_stddev=noise, seed=0, fd_reference=reference)
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def card_fields(recipe, metrics):
    settings = recipe.finetuning_settings()
    return dict(
        finetuning=settings.to_dict() if settings is not None else None,
        name=recipe.name,
        description=recipe.description,
        dataset=recipe.dataset,
        data_license=DATA_LICENSES[recipe.dataset],
        preprocessing=PREPROCESSING[recipe.binarize],
        metrics=metrics,
        repo_id=f"{HUB_NAMESPACE}/{recipe.name}",
        load_handle=recipe.name,
        references=REFERENCES.get(recipe.architecture, []),
        license="Apache-2.0",
    )


def finish_checkpoint(model, recipe, state, data_dir=None, out="ckpt", eval_limit=None):
    """Evaluate a trained model and write `<out>/<name>` with `save_pretrained`.

    Prints the manifest entry. Returns the checkpoint directory."""
    from keras_genae.hub import save_pretrained

    metrics = evaluate_recipe_model(model, recipe, data_dir, eval_limit)
    metrics["train_minutes"] = round(state.get("train_seconds", 0.0) / 60.0, 1)
    metrics["epochs"] = float(state.get("epochs", 0))
    directory = Path(out) / recipe.name
    save_pretrained(model, directory, overwrite=True, **card_fields(recipe, metrics))
    print(json.dumps({"checkpoint": str(directory), "metrics": metrics}, indent=2))
    return directory


def publish(directory, name=None):
    """Copy a checkpoint directory into the package and add its manifest
    entry (Hub repo `keras-genae/<name>` at tag `HUB_REVISION`)."""
    from keras_genae.hub import manifest
    from keras_genae.hub import manifest_writer

    directory = Path(directory)
    name = name or directory.name
    target = CHECKPOINTS_DIR / name
    tmp = CHECKPOINTS_DIR / f".{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(directory, tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    with open(target / "metadata.json") as f:
        metadata = json.load(f)
    entry = manifest_writer.manifest_entry_from_checkpoint(
        target, repo_id=f"{HUB_NAMESPACE}/{name}", revision=HUB_REVISION)
    entry["metrics"] = {k: v for k, v in (metadata.get("metrics") or entry["metrics"]).items()}
    manifest_writer.add_to_manifest(name, entry, path=manifest.manifest_path())
    return entry


def re_evaluate(name, data_dir=None, limit=None):
    """Re-evaluate a shipped checkpoint, rewrite its card and manifest entry."""
    from keras_genae.hub import load
    from keras_genae.hub import save_pretrained
    from keras_genae.recipes import get_recipe

    recipe = get_recipe(name)
    directory = CHECKPOINTS_DIR / name
    with open(directory / "metadata.json") as f:
        old = json.load(f).get("metrics") or {}
    model = load(str(directory))
    metrics = evaluate_recipe_model(model, recipe, data_dir, limit)
    for key in ("train_minutes", "epochs"):
        if key in old:
            metrics[key] = old[key]
    save_pretrained(model, directory, overwrite=True, verbose=False, **card_fields(recipe, metrics))
    return publish(directory, name)


def refresh_card(name):
    """Write the recipe's fine-tuning settings into a shipped checkpoint's
    `metadata.json`, model card and manifest entry."""
    from keras_genae.hub.model_card import model_card
    from keras_genae.recipes import get_recipe
    from keras_genae.utils.io import atomic_path
    from keras_genae.utils.io import write_json

    settings = get_recipe(name).finetuning_settings()
    directory = CHECKPOINTS_DIR / name
    metadata = json.loads((directory / "metadata.json").read_text())
    metadata["finetuning"] = settings.to_dict() if settings is not None else None
    write_json(directory / "metadata.json", metadata)
    with atomic_path(directory / "README.md") as tmp:
        Path(tmp).write_text(model_card(metadata), encoding="utf-8")
    return publish(directory, name)


def markdown_table(manifest_file=None):
    """The README table of shipped checkpoints, from the manifest."""
    from keras_genae.hub import manifest

    models = manifest.get_manifest(manifest_file)
    rows = ["| checkpoint | architecture | params | key metrics (full test split) | floor | train time |",
            "|---|---|---:|---|---|---:|"]
    # The generative checkpoints first, then the evaluation classifiers.
    order = sorted(models, key=lambda n: (models[n]["architecture"] == "FeatureClassifier", n))
    for name in order:
        entry = models[name]
        m = entry["metrics"]
        keys = [k for k in ("psnr", "ssim", "psnr_gain", "neg_elbo", "bits_per_dim",
                            "codebook_usage", "perplexity", "frechet_distance",
                            "test_accuracy", "frechet_distance_train_test") if k in m]
        if m.get("neg_elbo", 0) < 0:  # a continuous density: bits/dim says it
            keys.remove("neg_elbo")
        if "psnr_gain" in m:
            keys.insert(keys.index("psnr_gain"), "noisy_psnr")
        shown = ", ".join(f"{k} {m[k]:.4g}" for k in keys)
        scale = models.get(f"classifier_{entry['dataset']}", {}).get("metrics", {})
        if "frechet_distance" in m and "frechet_distance_train_test" in scale:
            shown += f" (train vs test: {scale['frechet_distance_train_test']:.3g})"
        floor = FLOORS.get(name)
        floor_text = "-"
        if floor:
            key, op, value = floor
            ok = m.get(key) is not None and (m[key] >= value if op == ">=" else m[key] <= value)
            floor_text = f"{key} {op} {value:g}: {'met' if ok else 'MISSED'}"
        meta_path = CHECKPOINTS_DIR / name / "metadata.json"
        params = json.loads(meta_path.read_text()).get("parameter_count") if meta_path.exists() else None
        rows.append(f"| `{name}` | {entry['architecture']} | "
                    f"{'' if params is None else f'{int(params):,}'} | {shown} | {floor_text} | "
                    f"{m.get('train_minutes', float('nan')):.0f} min |")
    return "\n".join(rows) + "\n"


def write_readme_table(readme="README.md"):
    """Replace the text between the zoo-table markers of the README."""
    begin, end = "<!-- zoo-table:begin -->", "<!-- zoo-table:end -->"
    path = Path(readme)
    text = path.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{readme} has no {begin} ... {end} markers.")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + begin + "\n" + markdown_table() + end + tail)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keras_genae.zoo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="re-evaluate shipped checkpoints")
    ev.add_argument("names", nargs="*")
    ev.add_argument("--data-dir", default=None)
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--readme", default="README.md")
    pub = sub.add_parser("publish", help="ship checkpoint directories")
    pub.add_argument("dirs", nargs="+")
    pub.add_argument("--readme", default="README.md")
    sub.add_parser("table", help="print the README table")
    cards = sub.add_parser("cards", help="rewrite fine-tuning settings in cards and manifest")
    cards.add_argument("names", nargs="*")
    cards.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    if args.command == "table":
        print(markdown_table())
        return 0
    if args.command == "cards":
        from keras_genae.hub import manifest

        for name in args.names or manifest.list_models():
            entry = refresh_card(name)
            print(json.dumps({name: entry.get("finetuning")}))
    elif args.command == "publish":
        for d in args.dirs:
            entry = publish(d)
            print(json.dumps({Path(d).name: entry["metrics"]}))
    else:
        from keras_genae.hub import manifest

        names = args.names or manifest.list_models()
        for name in names:
            entry = re_evaluate(name, args.data_dir, args.limit)
            print(json.dumps({name: entry["metrics"]}), flush=True)
    if os.path.exists(args.readme):
        write_readme_table(args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
