"""`genae push DIR --repo-id namespace/name`: upload a checkpoint directory
to the Hugging Face Hub (`keras_genae.push_to_hub`)."""

import os

from keras_genae.cli import common
from keras_genae.hub.api import push_to_hub


def run(args):
    common.require(os.path.isdir(args.dir), f"No checkpoint directory at {args.dir!r}.")
    push_to_hub(args.dir, args.repo_id, revision=args.revision, commit_message=args.message,
                private=args.private or None, print_manifest=args.print_manifest)
    return 0
