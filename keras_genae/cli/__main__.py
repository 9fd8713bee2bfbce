"""`python -m keras_genae.cli ...`: the same as `genae ...`."""

import sys

from keras_genae.cli.main import main

sys.exit(main())
