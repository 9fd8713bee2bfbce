"""Atomic writes: every file and every directory lands whole or not at all.

Three helpers, used by every writer of the package:

- `atomic_path(path)`: write one file under a temporary name beside
  `path` (`.<stem>.<random>.partial<ext>`), fsync it, rename it into place.
- `atomic_dir(path)`: fill a temporary sibling directory
  (`.<name>.<random>.tmp`), fsync its files, rename it into place; an
  existing directory is first renamed away (`.<name>.<random>.old`) and
  deleted afterwards.
- `write_json(path, obj)`: indented JSON through `atomic_path`.

A crash leaves at most such dot-named leftovers next to the target, never
a truncated file or a half-written directory (a resumed training run
deletes them: `keras_genae.callbacks.remove_leftovers`).
"""

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

#: Suffixes kept at the end of a temporary file name, for writers (such as
#: Keras' `save`) that check the extension of the path they are given.
_KEPT_SUFFIXES = (".weights.h5", ".keras", ".json", ".h5", ".png", ".md")


def _fsync_file(path):
    if os.path.islink(path) or not os.path.isfile(path):
        return
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path):
    """Make a rename inside `path` durable (a no-op where directories
    cannot be opened, as on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it to `path` on success.

    The caller writes the file (or a symlink) at the yielded path. On a
    normal exit it is fsynced and renamed over `path` in one step; on an
    exception it is deleted and `path` is left as it was. The suffix of
    `path` (`.keras`, `.weights.h5`, `.json`, ...) is kept, so writers
    that check it still work.

    Args:
        path: str or `Path`. The file to write; its directory is created.

    Example:
    >>> with atomic_path("out/state.json") as tmp:
    ...     Path(tmp).write_text("{}")
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    root, ext = base, ""
    for suffix in _KEPT_SUFFIXES:
        if base.endswith(suffix):
            root, ext = base[: -len(suffix)], suffix
            break
    fd, tmp = tempfile.mkstemp(prefix=f".{root}.", suffix=f".partial{ext}", dir=directory)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path, overwrite=False, mode=0o755):
    """Yield a temporary directory beside `path`; rename it to `path` on success.

    The caller fills the yielded directory. On a normal exit its files are
    fsynced and it is renamed into place; an existing `path` (with
    `overwrite=True`) is renamed away first and deleted after, so `path`
    is missing for one rename at most and is never half-written. On an
    exception the temporary directory is deleted and `path` is untouched.

    Two writers replacing the same `path` at once both succeed: the last
    rename wins with a complete directory.

    Args:
        path: str or `Path`. The directory to write; its parent is created.
        overwrite: bool. Replace an existing `path`. Defaults to `False`:
            `FileExistsError` if `path` exists (checked before and after
            the caller writes).
        mode: int. Permissions of the new directory. Defaults to `0o755`
            (a temporary directory is created `0o700`).

    Yields:
        `Path` of the temporary directory.

    Example:
    >>> with atomic_dir("ckpt/my_vae", overwrite=True) as tmp:
    ...     (tmp / "config.json").write_text("{}")
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(
            f"{str(path)!r} already exists. Pass `overwrite=True` to replace it. "
            f"Received: path={str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                _fsync_file(os.path.join(root, name))
            _fsync_dir(root)
        os.chmod(tmp, mode)
        if overwrite:
            replace_dir(tmp, path)
        elif os.path.lexists(path):
            raise FileExistsError(
                f"{str(path)!r} was created by another writer meanwhile; nothing was replaced. "
                f"Received: path={str(path)!r}"
            )
        else:
            os.rename(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(src, dst, attempts=20):
    """Rename the directory `src` to `dst`, replacing an existing `dst`
    with the smallest window possible (rename the old one away, then
    delete it).

    Another writer may replace `dst` at the same moment (two
    `save_pretrained(overwrite=True)` calls racing): then the old `dst`
    it put there is moved away in turn and the rename is retried, so the
    last writer wins with a complete directory and no call fails. Any
    other error puts the old `dst` back and is raised.
    """
    src, dst = Path(src), Path(dst)
    olds = []
    error = None
    try:
        for _ in range(attempts):
            if dst.exists() or dst.is_symlink():
                old = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.old")
                try:
                    os.rename(dst, old)
                    olds.append(old)
                except FileNotFoundError:
                    pass  # Another writer moved it away first.
            try:
                os.rename(src, dst)
                return
            except OSError as e:
                if not (dst.exists() or dst.is_symlink()):
                    if olds:  # Not a lost race but a real error: put the old one back.
                        os.rename(olds.pop(), dst)
                    raise
                error = e
        raise OSError(
            f"Could not replace {str(dst)!r}: other writers kept replacing it ({error})."
        ) from error
    finally:
        for old in olds:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            elif os.path.lexists(old):
                old.unlink()


def write_json(path, obj):
    """Write `obj` as indented JSON (and a final newline) to `path`, atomically.

    Example:
    >>> write_json("out/state.json", {"epoch": 3})
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")
