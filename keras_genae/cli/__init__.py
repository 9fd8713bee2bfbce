"""`genae`: the keras_genae command line.

One module per command under `keras_genae.cli.commands` (each imported
only when its command runs), the argparse tree in `parser`, the entry
point `main` in `main`, shared helpers in `common`, and `quiet`, which
keeps TensorFlow's, XLA's and JAX's start-up lines off stderr. Importing
this package imports no Keras.
"""

from keras_genae.cli.main import main

__all__ = ["main"]
