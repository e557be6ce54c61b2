"""One writer per output: :func:`lock` holds ``PATH.lock`` (an advisory ``flock`` where the file system has
one, with the holder's pid and host) while a command writes ``PATH``; a second writer is refused at once,
naming the pid, and the lock of a process that died is taken over (the kernel releases a ``flock``)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from .errors import InputError


@contextlib.contextmanager
def lock(path):
    """Hold ``PATH.lock`` while the block runs: one writer per store. Raises :class:`InputError` at once if
    a live process holds it (naming its pid and the lock file); a lock left by a process that died is
    taken over. An advisory ``flock`` where the file system has one, else the pid in the file decides."""
    path = Path(path)
    file = path.with_name(path.name + ".lock")
    file.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            held = _flock(fd)
            if held is None:  # no flock here: the pid in the file decides
                held = not _alive(_holder(file))
            if not held:
                raise InputError(
                    f"{path} is in use by another run (pid {_holder(file) or 'unknown'}, lock file {file}); "
                    "wait for it to finish or choose another output folder"
                )
            try:
                same = os.fstat(fd).st_ino == os.stat(file).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file was replaced while we took it: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield file
    finally:
        with contextlib.suppress(OSError):
            os.unlink(file)
        os.close(fd)


def _flock(fd) -> bool | None:
    """True: locked; False: held by another process; None: no flock on this system or file system."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return None


def _holder(file: Path) -> int | None:
    try:
        return int(file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
