"""`genae`'s entry point: parse, run one command, turn errors into one line."""

import importlib
import sys
import traceback

from keras_genae.cli import quiet
from keras_genae.cli.parser import PROG
from keras_genae.cli.parser import UsageError
from keras_genae.cli.parser import build_parser


def _one_line(error):
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, KeyError):
        text = f"missing key {text}"
    return text if len(text) <= 600 else text[:597] + "..."


def main(argv=None):
    """Run `genae` with `argv` (default `sys.argv[1:]`); return the exit
    status: 0, 1 for any error (bad arguments included), 130 when
    interrupted. `--help` (or no command) prints the help and returns 0.

    Example:
    >>> from keras_genae.cli import main
    >>> main(["sample", "vae_mnist", "-n", "16", "--out", "samples.png"])
    0
    """
    with quiet.session():
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help
            return done.code or 0
        except UsageError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        if args.command is None:
            parser.print_help()
            return 0
        try:
            # The command's module imports what it needs (Keras and the
            # backend, mostly) at its top: their start-up lines are
            # filtered out while it loads.
            with quiet.filtered_stderr():
                command = importlib.import_module(f"keras_genae.cli.commands.{args.command}")
            return command.run(args) or 0
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        except Exception as error:  # noqa: BLE001 - one clear line, not a traceback.
            if args.verbose:
                traceback.print_exc()
            print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
            return 1
