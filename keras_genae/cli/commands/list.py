"""`genae list [PATTERN]`: the checkpoints of the manifest, with their
architecture, dataset, size and key metric (the first of their family's
`key_metrics` that they report)."""

from keras_genae.hub import manifest
from keras_genae.hub.api import BUNDLED_CHECKPOINTS_DIR
from keras_genae.models.family import get_family
from keras_genae.cli.common import card_metadata


def key_metric(entry):
    """`"name value"` of the entry's key metric, or `"-"`."""
    family = get_family(entry["architecture"], default=None)
    metrics = entry["metrics"]
    # A negative ELBO is a continuous density (Gaussian VAE), not the nats
    # figure readers expect: the next key metric is shown instead.
    key = next((k for k in (family.key_metrics if family else ()) if k in metrics
                and not (k == "neg_elbo" and metrics[k] < 0)), None)
    return f"{key} {metrics[key]:.4g}" if key else "-"


def run(args):
    models = manifest.get_manifest()
    names = manifest.list_models(args.pattern)
    if not names:
        print(f"No checkpoint matches {args.pattern!r}." if models else
              "No pretrained checkpoints are registered in the manifest yet.")
        return 0
    rows = [("name", "architecture", "dataset", "params", "key metric", "offline")]
    for name in names:
        entry = models[name]
        params = card_metadata(name).get("parameter_count")
        rows.append((
            name, entry["architecture"], entry["dataset"], f"{params:,}" if params else "-",
            key_metric(entry), "yes" if (BUNDLED_CHECKPOINTS_DIR / name).is_dir() else "no",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0
