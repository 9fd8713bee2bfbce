"""Any public module of the package can be the first one imported, and the
model classes then register with Keras' serialization."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = """
import {module}
import keras
import wave  # a later import, as any program makes: the models register then
cls = keras.saving.get_registered_object("keras_genae>VAE")
print(cls.__name__ if cls is not None else None)
"""


# Each of these imports Keras from inside its own import, before the models
# could be imported (they import it back): a circular import until the
# registration waited for the package's modules to finish.
@pytest.mark.parametrize("module", ["keras_genae.layers", "keras_genae.metrics",
                                    "keras_genae.utils.validation"])
def test_a_module_imported_first_imports_and_the_models_register(module, tmp_path):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", CHECK.format(module=module)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-1] == "VAE"
