"""
Title: Publish your model: save_pretrained, the model card and push_to_hub
Author: keras-genae contributors
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Save a fine-tuned model as a checkpoint with a model card, push it to a Hub (here a local stand-in), load it back by `hf://` handle and by name from a manifest, with every file verified.
Accelerator: None (under a minute on a CPU)
"""

"""
## Introduction

A keras-genae checkpoint is a folder: `config.json` (architecture),
`model.weights.h5` (weights), `metadata.json` (versions, input spec,
dataset, metrics) and a `README.md` **model card**. This tutorial:

1. fine-tunes `vae_mnist` a little (a stand-in for your own training run);
2. writes the checkpoint with `keras_genae.save_pretrained` and reads its
   model card;
3. uploads it with `keras_genae.push_to_hub`;
4. loads it back with `keras_genae.load("hf://namespace/name@commit")`, and
   by name after adding its entry to a manifest.

**About the Hub used here.** So that this runs offline and without an
account, step 3 talks to `tools/fakehub.py` (in the repository, not in the
installed package; the test suite uses the same one): a small HTTP server
on 127.0.0.1 that answers the requests `huggingface_hub` makes to create a
repository, commit files and download them, and keeps each commit in
memory. `push_to_hub` and `load` run their real code; only the endpoint
differs (`HF_ENDPOINT`). It is a stand-in, not the Hub: no accounts, and
uploads go as plain files (no Git LFS or Xet). To publish for real, log in
once with `hf auth login` (or set `HF_TOKEN`), leave `HF_ENDPOINT` unset,
and make the same calls.

## Setup
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The stand-in Hub lives in the checkout's tools/ folder (not in the wheel):
# run from a checkout, with the checkout's keras_genae.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import keras_genae  # noqa: E402
from keras_genae.data import grids as images  # noqa: E402
from keras_genae.data.samples import sample_images  # noqa: E402
from keras_genae.hub import manifest  # noqa: E402
from keras_genae.hub import manifest_writer  # noqa: E402
from tools.fakehub import FakeHub  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
parser.add_argument("--fast", action="store_true", help="tiny sizes, for a smoke run")
parser.add_argument("--out", default="tutorial_outputs/06_publish", help="folder of the outputs")
args, _ = parser.parse_known_args()
os.makedirs(args.out, exist_ok=True)
keras.utils.set_random_seed(0)

"""
## A model to publish

Any keras-genae model will do. Here `vae_mnist` is fine-tuned for a few
epochs on the 16 Fashion-MNIST images shipped with the package. (Far too
few images for a useful model: the point is the publishing workflow.)
"""

model = keras_genae.load("vae_mnist")
x, _ = sample_images("fashion_mnist")
model.fit(x, epochs=2 if args.fast else 30, batch_size=16, verbose=0)
metrics = keras_genae.evaluate(model, x)
metrics = {k: round(float(metrics[k]), 4) for k in ("psnr", "ssim", "neg_elbo")}
print("Metrics on the 16 images:", metrics)

"""
(`evaluate` warns that it leaves out `bits_per_dim`: for a Bernoulli
likelihood it needs binary images. We keep the PSNR, SSIM and negative
ELBO.)

## save_pretrained and the model card

`save_pretrained` writes the folder atomically (a crash leaves no partial
checkpoint) and returns the **manifest entry** of the checkpoint: the
SHA-256 and size of every file, the input spec and the metrics. The keyword
arguments fill in the model card.
"""

name = "vae_fashion_demo"
repo_id = "your-name/vae-fashion-demo"
checkpoint_dir = os.path.join(args.out, name)
entry = keras_genae.save_pretrained(
    model,
    checkpoint_dir,
    overwrite=True,
    verbose=False,
    name=name,
    description="vae_mnist fine-tuned on 16 Fashion-MNIST test images (a tutorial demo).",
    dataset="fashion_mnist",
    data_license="MIT, (c) 2017 Zalando SE",
    metrics=metrics,
    repo_id=repo_id,
    references=["https://arxiv.org/abs/1312.6114"],
    license="Apache-2.0",
)
print("Files:", sorted(entry["files"]))
card = open(os.path.join(checkpoint_dir, "README.md"), encoding="utf-8").read()
print("\n".join(card.splitlines()[:16]), "\n...")

"""
The card starts with YAML metadata that the Hub uses for search and
display (`library_name`, `tags`, `license`, `datasets`), then a description,
a usage snippet and the metrics table. `genae info DIR` prints it.

A checkpoint folder loads directly, and gives the same outputs:
"""

reloaded = keras_genae.load(checkpoint_dir)
np.testing.assert_array_equal(ops.convert_to_numpy(reloaded.reconstruct(x)),
                              ops.convert_to_numpy(model.reconstruct(x)))

"""
## push_to_hub

We start the local stand-in and point `huggingface_hub` at it. Downloads go
to a cache inside `--out`, so your own Hugging Face cache is left alone. The
stand-in does not check tokens; a dummy one is set in case none is.
"""

hub = FakeHub().start()
os.environ["HF_ENDPOINT"] = hub.url
os.environ["HF_HUB_CACHE"] = os.path.join(args.out, "hf_cache")
os.environ.setdefault("HF_TOKEN", "hf_local_stand_in")
print("Local Hub at", hub.url)

pushed = keras_genae.push_to_hub(checkpoint_dir, repo_id, verbose=False)
commit = pushed["hub"]["revision"]
print("Pushed", repo_id, "at commit", commit)
print("The stand-in stored:", sorted(hub.files(repo_id, commit)))

"""
`push_to_hub` returns the manifest entry **pinned to the new commit**. (It
also accepts a model instead of a folder, and writes the checkpoint to a
temporary folder first. The command line equivalent is
`genae push DIR --repo-id your-name/vae-fashion-demo`.)

## Load it back from the Hub

With an `hf://` handle, `load` downloads `config.json`, then the weights at
the same commit, and checks each file against the ETag the Hub reports for
it before deserializing anything.
"""

from_hub = keras_genae.load(f"hf://{repo_id}@{commit}")
np.testing.assert_array_equal(ops.convert_to_numpy(from_hub.reconstruct(x)),
                              ops.convert_to_numpy(model.reconstruct(x)))
print("hf:// load: identical reconstructions")

"""
## Load it by name, from a manifest

A manifest maps names to pinned Hub revisions and SHA-256 hashes; that is
how `keras_genae.load("vae_mnist")` works. Here we copy the package's
manifest, add our entry with `manifest_writer.add_to_manifest` (which
validates it, and writes only the file it is given) and select the copy
with `$KERAS_GENAE_MANIFEST`. A file that does not
match its hash is never loaded.
"""

manifest_file = os.path.join(args.out, "my_manifest.json")
with open(manifest.manifest_path(), encoding="utf-8") as f:
    text = f.read()
with open(manifest_file, "w", encoding="utf-8") as f:
    f.write(text)
manifest_writer.add_to_manifest(name, pushed, path=manifest_file)
os.environ["KERAS_GENAE_MANIFEST"] = manifest_file
print("Names:", keras_genae.list_models())
print(json.dumps(keras_genae.model_info(name)["hub"]))

by_name = keras_genae.load(name)
samples = ops.convert_to_numpy(by_name.sample(16 if args.fast else 64, seed=0))
images.save_grid(samples, os.path.join(args.out, "published_samples.png"), scale=2)
pairs = images.side_by_side(x, ops.convert_to_numpy(by_name.reconstruct(x)))
images.save_grid(pairs, os.path.join(args.out, "published_reconstructions.png"), ncols=4, padding=6, scale=2)
print("Saved published_samples.png and published_reconstructions.png")
hub.stop()

"""
## Summary

```python
entry = keras_genae.save_pretrained(model, "my_vae", dataset=..., metrics=...)
pushed = keras_genae.push_to_hub("my_vae", "your-name/my-vae")
model = keras_genae.load(f"hf://your-name/my-vae@{pushed['hub']['revision']}")
```

To add a checkpoint to the keras-genae zoo itself, see "Add a model" in the
README: the zoo's checkpoints are trained by `genae train RECIPE`, which
calls `save_pretrained` with the recipe's model card fields.
"""
print("Outputs in", args.out)
