"""`genae export NAME --format {tf_saved_model,onnx,litert} --out DIR
[--endpoints ...]`: the model for deployment, with named endpoints and a
README naming each one's inputs and outputs (`keras_genae.export`)."""

import keras

from keras_genae.export import check_format
from keras_genae.export import export_model
from keras_genae.hub.api import load


def run(args):
    check_format(args.format)  # before loading: a format this backend cannot write
    model = load(args.name, compile=False)
    path = export_model(model, args.out, format=args.format, endpoints=args.endpoints,
                        batch_size=args.batch_size, overwrite=args.overwrite, source=str(args.name))
    written = sorted(p.name for p in path.iterdir())
    print(f"Wrote {path} ({args.format}, {keras.backend.backend()} backend): {', '.join(written)}. "
          f"See {path / 'README.md'} for the endpoints.")
    return 0
