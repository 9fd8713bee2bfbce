"""Keep `genae`'s stderr for its own messages.

TensorFlow, XLA and JAX print start-up lines of their own: "Could not find
cuda drivers" (`cudart_stub.cc`), the `cpu_feature_guard.cc` notice, "failed
call to cuInit" (`cuda_platform.cc`), absl's "All log messages before
absl::InitializeLog() is called are written to STDERR", JAX's "An NVIDIA
GPU may be present on this machine" and so on. `TF_CPP_MIN_LOG_LEVEL` is
the knob for them, but TensorFlow 2.21 writes some of them while its
libraries load, before it reads that variable. So `genae`

- sets `TF_CPP_MIN_LOG_LEVEL` to `3` for the run, unless the user set it
  (their value is kept, so `TF_CPP_MIN_LOG_LEVEL=0 genae ...` shows
  everything);
- raises the Python loggers of TensorFlow, absl and JAX to `ERROR` (at a
  level of 2 or more);
- imports the heavy modules (Keras, and with it the backend) while the
  process's stderr (file descriptor 2) goes to a temporary file, then
  writes back every line but the native log lines below that level.

Nothing here imports Keras or TensorFlow.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
#: The level `genae` runs at when the user has not set `TF_CPP_MIN_LOG_LEVEL`.
DEFAULT_LEVEL = 3
#: The Python loggers of the backends' start-up warnings.
LOGGERS = ("tensorflow", "absl", "jax._src.xla_bridge")

_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# absl lines ("I0000 00:00:1796182472.649678   26395 cudart_stub.cc:31] ...", seconds
# since the epoch before absl is initialized, else the time of day) and
# TensorFlow's own ("2025-09-17 14:44:05.157831: I external/.../x.cc:32] ...").
_NATIVE_LINE = re.compile(
    r"(?:(?P<a>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./\-]+:\d+\]"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<b>[IWEF]) [\w./\-]+:\d+\])"
)
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# The second line of cpu_feature_guard.cc's notice.
_CONTINUATIONS = ("To enable the following instructions:",)


def log_level():
    """The effective native log level: the user's `TF_CPP_MIN_LOG_LEVEL`
    if it is an integer, else `DEFAULT_LEVEL`."""
    try:
        return int(os.environ[LEVEL_ENV])
    except (KeyError, ValueError):
        return DEFAULT_LEVEL


@contextlib.contextmanager
def session():
    """Set the log levels for one `genae` run; restore them afterwards.

    Yields the effective level (see `log_level`)."""
    level = log_level()
    saved_env = os.environ.get(LEVEL_ENV)
    os.environ[LEVEL_ENV] = str(level)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved_levels = [logger.level for logger in loggers]
    if level >= 2:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
    try:
        yield level
    finally:
        for logger, saved in zip(loggers, saved_levels):
            logger.setLevel(saved)
        if saved_env is None:
            os.environ.pop(LEVEL_ENV, None)
        else:
            os.environ[LEVEL_ENV] = saved_env


def drop_native_lines(text, level):
    """`text` without the native log lines of a severity below `level`
    (0 info, 1 warning, 2 error, 3 fatal), absl's pre-initialization
    notice (a warning) and the known continuation lines of dropped ones."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        match = _NATIVE_LINE.match(line)
        if match:
            dropping = _SEVERITY[match.group("a") or match.group("b")] < level
        elif line.startswith(_ABSL_PREAMBLE):
            dropping = level > _SEVERITY["W"]
        elif not (dropping and line.startswith(_CONTINUATIONS)):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr(level=None):
    """Send file descriptor 2 to a temporary file for the duration, then
    write what was captured back to it, less `drop_native_lines`.

    For short spans (imports): what is written meanwhile appears when the
    span ends. Does nothing if descriptor 2 is not open.
    """
    level = log_level() if level is None else level
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    _flush_stderr()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = drop_native_lines(capture.read().decode("utf-8", "replace"), level)
            if text:
                os.write(2, text.encode("utf-8"))


def _flush_stderr():
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass


def quiet_import(name):
    """`importlib.import_module(name)` inside `filtered_stderr`: for the
    heavy modules a command needs only on some paths (`tf.data`)."""
    import importlib

    if name in sys.modules:
        return sys.modules[name]
    with filtered_stderr():
        return importlib.import_module(name)
