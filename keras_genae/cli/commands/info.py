"""`genae info NAME`: print a checkpoint's model card (its `README.md`, or
one made from its manifest entry)."""

import os

from keras_genae import hub
from keras_genae.hub import manifest


def _card_from_entry(name, entry):
    spec = entry["input"]
    lines = [f"# {name}", "", entry["description"], "",
             f"Architecture: keras_genae `{entry['architecture']}`. Input: "
             f"{'x'.join(map(str, spec['shape']))} {spec['dtype']} in {spec['value_range']}; "
             f"{spec['preprocessing']}.",
             f"Hub: hf://{entry['hub']['repo_id']}@{entry['hub']['revision']}", "",
             f"Dataset: {entry['dataset']} (license: {entry['data_license']})", "", "## Metrics", ""]
    lines += [f"- {k}: {v:.6g}" for k, v in sorted(entry["metrics"].items())] or ["- none recorded"]
    return "\n".join(lines)


def run(args):
    name = args.name
    models = manifest.get_manifest()
    local = [os.path.join(name, "README.md"), hub.BUNDLED_CHECKPOINTS_DIR / name / "README.md"]
    if name.startswith("hf://"):
        from keras_genae.hub import download

        repo_id, revision = hub.parse_hf_handle(name)
        local = [download.fetch(
            repo_id, "README.md", revision or "main", hub.hub_settings(),
            verify=lambda p, etag: download.check_etag(p, etag, "README.md", repo_id))]
    elif not os.path.isdir(name) and name not in models:
        raise manifest.unknown_model_error(name, models)
    for path in local:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                print(f.read().rstrip())
            return 0
    if name not in models:
        raise FileNotFoundError(f"{name!r} has no README.md model card.")
    print(_card_from_entry(name, models[name]))  # no local copy
    return 0
