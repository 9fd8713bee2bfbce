"""One module per `genae` command, each with `run(args) -> int`.

`keras_genae.cli.main` imports a command's module only when that command
runs, so each module imports what it needs at its top.
"""
