"""A lock that lets one run at a time write an output, and that a dead
process never leaves stuck.

The lock is an OS advisory lock (`fcntl.flock`, or `msvcrt.locking` on
Windows) on a small lock file. The OS drops it when the process that holds
it exits, however it exits (`kill -9` included), so there is no stale
lock to clean up by hand. The file itself stays; it records the holder's
pid, host and start time for the error message of a second run.

This module imports nothing from keras_genae, so a subprocess can load it
on its own.
"""

import contextlib
import datetime
import json
import os
import socket


_HELD = {}  # Lock files this process holds -> nesting depth.


class RunLockedError(RuntimeError):
    """Another live process holds the run lock.

    Attributes:
        path: str. The lock file.
        holder: dict. What the holder wrote: `pid`, `host`, `started`
            (may be empty).
    """

    def __init__(self, message, path=None, holder=None):
        super().__init__(message)
        self.path = path
        self.holder = holder or {}


def lock_path(out, name):
    """The lock file of run `name` writing into the folder `out`:
    `<out>/.<name>.lock`."""
    return os.path.join(os.fspath(out), f".{name}.lock")


def _try_lock(fd):
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd):
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode("utf-8", errors="replace") or "{}")
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def run_lock(out, name, what=None):
    """Hold the lock of run `name` in the folder `out` for the `with` block.

    Args:
        out: str or path-like. The output folder (created if needed).
        name: str. The run's name, e.g. a recipe name; runs of different
            names in the same folder do not block each other.
        what: str or None. What the run writes, for the error message;
            defaults to `<out>/<name>`.

    Yields:
        str: the lock file's path.

    Raises:
        RunLockedError: another live process holds the lock. It is raised
            at once; nothing waits. Within one process the lock nests: an
            inner `run_lock` of the same run is a no-op.

    Example:
    >>> with run_lock("ckpt", "vae_mnist"):
    ...     train(...)
    """
    os.makedirs(os.fspath(out), exist_ok=True)
    path = lock_path(out, name)
    key = os.path.realpath(path)
    if key in _HELD:  # Already held by this process (a nested `with`).
        _HELD[key] += 1
        try:
            yield path
        finally:
            _HELD[key] -= 1
        return
    what = what or os.path.join(os.fspath(out), name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            holder = _holder(fd)
            by = ", ".join(f"{k} {holder[k]}" for k in ("pid", "host", "started") if k in holder)
            raise RunLockedError(
                f"Another run ({by or 'unknown process'}) is writing {what!r}; its lock is "
                f"{path!r}. Wait for it to finish, stop it, or choose another --out. A run that "
                "died leaves no lock behind.",
                path=path, holder=holder,
            )
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode())
        _HELD[key] = 1
        try:
            yield path
        finally:
            del _HELD[key]
            _unlock(fd)
    finally:
        os.close(fd)
