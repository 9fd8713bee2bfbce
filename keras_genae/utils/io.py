"""File helpers: every write lands whole or not at all."""

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it to `path` on success.

    A crash mid-write leaves only the temporary file, never a truncated
    `path`. The suffix is kept so that writers that check it still work.
    """
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    root, ext = base, ""
    for suffix in (".weights.h5", ".keras", ".json", ".h5", ".png", ".md"):
        if base.endswith(suffix):
            root, ext = base[: -len(suffix)], suffix
            break
    fd, tmp = tempfile.mkstemp(prefix=f".{root}.", suffix=f".partial{ext}", dir=directory)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def write_json(path, obj):
    """Write `obj` as indented JSON to `path`, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")
