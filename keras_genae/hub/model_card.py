"""The `README.md` model card of a checkpoint, written from its
`metadata.json` (Hugging Face model-card front matter, usage, metrics,
training data, files, references)."""

from keras_genae.models.family import default_card_usage
from keras_genae.models.family import get_family


def _usage(arch, handle, shape):
    """The card's usage snippet: the family's, else the reconstruction one."""
    family = get_family(arch, default=None)
    return (family.card_usage if family is not None else default_card_usage)(handle, shape)


def finetuning_lines(settings):
    """The card's fine-tuning section, from `FineTuning.to_dict()`."""
    phases = settings.get("phase_learning_rates")
    rates = (", ".join(f"`{n}` at {lr:g}" for n, lr in sorted(phases.items())) if phases
             else f"learning rate {settings['learning_rate']:g}")
    return [
        f"`keras_genae.load` returns this model compiled for fine-tuning: Adam, {rates} "
        "(a fresh optimizer; the from-scratch rate would wreck the trained weights). "
        "`model.compile(optimizer=...)` replaces it.",
        "",
        f"`keras_genae.finetune(model, images)` and `genae finetune` run {settings['steps']} steps "
        f"of batch {settings['batch_size']} by default, hold out 10% of the images for validation, "
        "report the held-out PSNR before and after, and keep the best validation epoch.",
    ]


def model_card(metadata):
    """Return the README.md model card for a checkpoint's metadata."""
    name = metadata["name"]
    arch = metadata["architecture"]
    spec = metadata["input"]
    h, w, c = spec["shape"]
    handle = metadata.get("load_handle") or (
        f"hf://{metadata['repo_id']}" if metadata.get("repo_id") else f"path/to/{name}"
    )
    lines = ["---", "library_name: keras", "tags:", "- keras-genae", f"- {arch.lower()}"]
    if metadata.get("license"):
        lines.append(f"license: {metadata['license']}")
    if metadata["dataset"] != "unknown":
        lines += ["datasets:", f"- {metadata['dataset']}"]
    lines += ["---", "", f"# {name}", "", metadata["description"], ""]
    lines += [
        f"Architecture: keras_genae `{arch}`, {metadata['parameter_count']:,} parameters. "
        f"Input: {h}x{w}x{c} "
        f"{spec['dtype']} images with values in {spec['value_range']}; "
        f"preprocessing: {spec['preprocessing']}.",
        "",
        "## Usage",
        "",
        "```python",
        *_usage(arch, handle, (h, w, c)),
        "```",
        "",
        "## Metrics",
        "",
    ]
    if metadata["metrics"]:
        lines += ["| Metric | Value |", "| --- | --- |"]
        lines += [f"| {k} | {v:.6g} |" for k, v in sorted(metadata["metrics"].items())]
    else:
        lines.append("No metrics were recorded for this checkpoint.")
    if metadata.get("finetuning"):
        lines += ["", "## Fine-tuning", "", *finetuning_lines(metadata["finetuning"])]
    lines += [
        "",
        "## Training data",
        "",
        f"- Dataset: {metadata['dataset']}",
        f"- Data license: {metadata['data_license']}",
        "",
        "## Files",
        "",
        "- `config.json`: architecture and configuration (`keras.saving` format).",
        "- `model.weights.h5`: weights.",
        "- `metadata.json`: versions, parameter count, input spec, dataset, metrics.",
        "",
        f"Saved with Keras {metadata['keras_version']} ({metadata['backend']} backend) and "
        f"keras_genae {metadata['keras_genae_version']} on {metadata['date_saved']}. "
        "`keras.saving.load_model()` also reads this directory once `keras_genae` is imported.",
    ]
    if metadata.get("references"):
        lines += ["", "## References", ""] + [f"- {r}" for r in metadata["references"]]
    return "\n".join(lines) + "\n"
