"""Maintainer tool (not in the wheel): publish zoo checkpoints into the
package and the manifest, re-evaluate them, write the README table.

Commands:
    python tools/zoo.py evaluate [NAME ...] --data-dir ../shared/data
        Re-evaluate shipped checkpoints on the full test split and rewrite
        their metrics in the model cards, the manifest and the README table.
    python tools/zoo.py publish DIR [DIR ...]
        Copy checkpoint directories written by `genae train` into
        `keras_genae/checkpoints/` and add them to the manifest.
    python tools/zoo.py table
        Print the README's checkpoint table from the manifest.
    python tools/zoo.py is-nll benchmarks/results/is_nll.json [NAME ...]
        Write the VAEs' importance-sampled NLL, measured by `python
        tools/is_nll.py`, into their metadata, model cards and manifest.
    python tools/zoo.py cards [NAME ...]
        Rewrite the shipped checkpoints' fine-tuning settings and
        descriptions (from their recipes) in `metadata.json`, the model
        cards and the manifest,
        without re-evaluating them (the weights are untouched).
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout: the package of this repository

from keras_genae.hub import manifest  # noqa: E402
from keras_genae.hub import manifest_writer  # noqa: E402
from keras_genae.hub.api import BUNDLED_CHECKPOINTS_DIR as CHECKPOINTS_DIR  # noqa: E402
from tools.readme_tables import markers  # noqa: E402
from tools.readme_tables import replace_section  # noqa: E402
from keras_genae.models.family import get_family  # noqa: E402
from keras_genae.models.family import get_recipe  # noqa: E402
from keras_genae.utils.io import atomic_dir  # noqa: E402
from keras_genae.workflow.train import HUB_NAMESPACE  # noqa: E402
from keras_genae.workflow.train import card_fields  # noqa: E402

#: The Hub tag of this release of the zoo.
HUB_REVISION = "v0.1.0"
#: The manifest this tool edits: the package's, in this checkout.
MANIFEST = REPO / "keras_genae" / manifest.MANIFEST_FILENAME


def publish(directory, name=None):
    """Copy a checkpoint directory into the package and add its manifest
    entry (Hub repo `keras-genae/<name>` at tag `HUB_REVISION`)."""
    directory = Path(directory)
    name = name or directory.name
    target = CHECKPOINTS_DIR / name
    if directory.resolve() != target.resolve():
        with atomic_dir(target, overwrite=True) as tmp:
            shutil.copytree(directory, tmp, dirs_exist_ok=True)
    with open(target / "metadata.json") as f:
        metadata = json.load(f)
    entry = manifest_writer.manifest_entry_from_checkpoint(
        target, repo_id=f"{HUB_NAMESPACE}/{name}", revision=HUB_REVISION)
    entry["metrics"] = {k: v for k, v in (metadata.get("metrics") or entry["metrics"]).items()}
    manifest_writer.add_to_manifest(name, entry, path=MANIFEST)
    return entry


def re_evaluate(name, data_dir=None, limit=None):
    """Re-evaluate a shipped checkpoint, rewrite its card and manifest entry."""
    from keras_genae.evaluation import evaluate_recipe
    from keras_genae.hub.api import load
    from keras_genae.hub.api import save_pretrained

    recipe = get_recipe(name)
    directory = CHECKPOINTS_DIR / name
    with open(directory / "metadata.json") as f:
        old = json.load(f).get("metrics") or {}
    model = load(str(directory))
    metrics = evaluate_recipe(model, recipe, data_dir, limit)
    for key in old:  # measured elsewhere: training, and tools/is_nll.py's figures
        if key in ("train_minutes", "epochs") or key.startswith("is_nll"):
            metrics[key] = old[key]
    save_pretrained(model, directory, overwrite=True, verbose=False, **card_fields(recipe, metrics))
    return publish(directory, name)


def refresh_card(name):
    """Write the recipe's fine-tuning settings and description into a
    shipped checkpoint's `metadata.json`, model card and manifest entry."""
    from keras_genae.hub.model_card import model_card
    from keras_genae.utils.io import atomic_path
    from keras_genae.utils.io import write_json

    settings = get_recipe(name).finetuning_settings()
    directory = CHECKPOINTS_DIR / name
    metadata = json.loads((directory / "metadata.json").read_text())
    metadata["finetuning"] = settings.to_dict() if settings is not None else None
    metadata["description"] = get_recipe(name).description
    write_json(directory / "metadata.json", metadata)
    with atomic_path(directory / "README.md") as tmp:
        Path(tmp).write_text(model_card(metadata), encoding="utf-8")
    return publish(directory, name)


def add_is_nll(name, results):
    """Write a VAE's importance-sampled NLL (from `tools/is_nll.py`'s JSON)
    into its `metadata.json`, model card and manifest entry, without
    re-evaluating the rest."""
    from keras_genae.hub.model_card import model_card
    from keras_genae.utils.io import atomic_path
    from keras_genae.utils.io import write_json

    run = results[name]
    measured = {k: v for k, v in run["metrics"].items() if k.startswith("is_nll")}
    measured.update(is_nll_images=float(run["num_images"]), is_nll_stride=float(run["stride"]))
    # The one-sample bound of the same images, to compare with.
    measured.update({f"is_nll_subset_{k}": v for k, v in run["metrics"].items()
                     if k in ("neg_elbo", "bits_per_dim")})
    directory = CHECKPOINTS_DIR / name
    metadata = json.loads((directory / "metadata.json").read_text())
    metadata["metrics"].update({k: float(v) for k, v in measured.items()})
    write_json(directory / "metadata.json", metadata)
    with atomic_path(directory / "README.md") as tmp:
        Path(tmp).write_text(model_card(metadata), encoding="utf-8")
    return publish(directory, name)


def markdown_table(manifest_file=None):
    """The README table of shipped checkpoints, from the manifest: each
    checkpoint's family's key metrics, its recipe's floor."""
    from keras_genae.models.base import LOADABLE_MODELS

    models = manifest.get_manifest(manifest_file)
    rows = ["| checkpoint | architecture | params | key metrics (full test split) | floor | train time |",
            "|---|---|---:|---|---|---:|"]
    # The generative checkpoints first, then the evaluation classifiers.
    order = sorted(models, key=lambda n: ("classify" in LOADABLE_MODELS[models[n]["architecture"]].capabilities, n))
    for name in order:
        entry = models[name]
        m = entry["metrics"]
        # A negative value in nats is a continuous density: bits/dim says it.
        keys = [k for k in get_family(entry["architecture"]).key_metrics
                if k in m and not (k in ("neg_elbo", "is_nll") and m[k] < 0)]
        shown = ", ".join(f"{k} {m[k]:.4g}" for k in keys)
        if "is_nll_k" in m:  # an estimate on a subset: say on what, and its one-sample bound
            key = "is_nll" if "is_nll" in keys else "is_nll_bits_per_dim"
            bound = "neg_elbo" if key == "is_nll" else "bits_per_dim"
            shown += (f" ({key}: K={m['is_nll_k']:g} on {m['is_nll_images']:g} test images, "
                      f"whose {bound} is {m['is_nll_subset_' + bound]:.4g})")
        scale = models.get(f"classifier_{entry['dataset']}", {}).get("metrics", {})
        if "frechet_distance" in m and "frechet_distance_train_test" in scale:
            shown += f" (train vs test: {scale['frechet_distance_train_test']:.3g})"
        recipe = get_recipe(name)
        floor_text = "-"
        if recipe.floor:
            key, op, value = recipe.floor
            floor_text = f"{key} {op} {value:g}: {'met' if recipe.meets_floor(m) else 'MISSED'}"
        meta_path = CHECKPOINTS_DIR / name / "metadata.json"
        params = json.loads(meta_path.read_text()).get("parameter_count") if meta_path.exists() else None
        rows.append(f"| `{name}` | {entry['architecture']} | "
                    f"{'' if params is None else f'{int(params):,}'} | {shown} | {floor_text} | "
                    f"{m.get('train_minutes', float('nan')):.0f} min |")
    return "\n".join(rows) + "\n"


def sampler_table(manifest_file=None):
    """The README table of every checkpoint that samples: the Fréchet
    distance of its samples (and the train-vs-test scale of its dataset's
    classifier), their precision and recall, and their class coverage."""
    models = manifest.get_manifest(manifest_file)
    rows = ["| checkpoint | samples | Fréchet distance (train vs test) | precision | recall | "
            "class shares, min - max |", "|---|---:|---:|---:|---:|---|"]
    for name in sorted(models, key=lambda n: (models[n]["dataset"], n)):
        m = models[name]["metrics"]
        if "frechet_distance" not in m:
            continue
        scale = models.get(f"classifier_{models[name]['dataset']}", {}).get("metrics", {})
        ref = scale.get("frechet_distance_train_test")
        pr = [f"{m[k]:.3f}" if k in m else "-" for k in ("precision", "recall")]
        shares = (f"{100 * m['class_share_min']:.1f}% - {100 * m['class_share_max']:.1f}%"
                  if "class_share_min" in m else "-")
        rows.append(f"| `{name}` | {m.get('num_samples', 0):,.0f} | {m['frechet_distance']:.2f}"
                    f"{f' ({ref:.3g})' if ref is not None else ''} | {pr[0]} | {pr[1]} | {shares} |")
    return "\n".join(rows) + "\n"


def write_readme_table(readme="README.md"):
    """Replace the text between the README's zoo-table markers, and between
    its sampler-table markers where it has them."""
    replace_section(readme, "zoo-table", markdown_table())
    if markers("sampler-table")[0] in Path(readme).read_text():
        replace_section(readme, "sampler-table", sampler_table())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tools/zoo.py", description=__doc__,
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
    sub.add_parser("table", help="print the README tables")
    cards = sub.add_parser("cards", help="rewrite fine-tuning settings in cards and manifest")
    cards.add_argument("names", nargs="*")
    cards.add_argument("--readme", default="README.md")
    nll = sub.add_parser("is-nll", help="write tools/is_nll.py's results into cards and manifest")
    nll.add_argument("results", help="the JSON of tools/is_nll.py")
    nll.add_argument("names", nargs="*")
    nll.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    if args.command == "table":
        print(markdown_table())
        print(sampler_table())
        return 0
    if args.command == "cards":
        for name in args.names or manifest.list_models():
            entry = refresh_card(name)
            print(json.dumps({name: entry.get("finetuning")}))
    elif args.command == "is-nll":
        results = json.loads(Path(args.results).read_text())
        for name in args.names or sorted(results):
            entry = add_is_nll(name, results)
            print(json.dumps({name: {k: v for k, v in entry["metrics"].items() if "is_nll" in k}}))
    elif args.command == "publish":
        for d in args.dirs:
            entry = publish(d)
            print(json.dumps({Path(d).name: entry["metrics"]}))
    else:
        names = args.names or manifest.list_models()
        for name in names:
            entry = re_evaluate(name, args.data_dir, args.limit)
            print(json.dumps({name: entry["metrics"]}), flush=True)
    if os.path.exists(args.readme):
        write_readme_table(args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
