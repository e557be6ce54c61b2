"""Ctrl-C on the command line: one line on stderr and exit code 130, within about a second.

Long work runs in compiled chunks (the sweep's chunks, the Lyapunov run's quarter-second pieces), so
Python sees Ctrl-C between them: the command keeps what is finished and says so in one line
(:class:`~dynagate.errors.Interrupted`). A compiled call can still take longer (its compilation, one
long solve): :func:`watched` then ends the process once :data:`GRACE` seconds have passed without the
main thread reacting, with the line :func:`keep` last set (e.g. where finished chunks are stored).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading

#: The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells use.
EXIT = 130
#: Seconds the main thread has to react to Ctrl-C before the process ends without it.
GRACE = 0.8

_kept = {"line": None}


def keep(line: str | None) -> None:
    """What is kept if the process has to end at once (None: nothing was saved)."""
    _kept["line"] = line


def message(e: BaseException) -> str:
    """The line for a KeyboardInterrupt that reached the command line."""
    from ..errors import Interrupted

    text = " ".join(str(e).split()) if isinstance(e, Interrupted) else ""
    return text or _kept["line"] or "nothing was saved"


def exit_now(line: str | None = None) -> None:
    """End the process at once with exit code :data:`EXIT`, after writing ``line`` to stderr (files written
    so far are complete: this skips only the interpreter's tear-down)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if line is not None:
        with contextlib.suppress(OSError):
            os.write(2, line.encode())
    os._exit(EXIT)


def _exit_now(why: str) -> None:
    exit_now(f"dynagate: interrupted ({why}): {_kept['line'] or 'nothing was saved'}\n")


@contextlib.contextmanager
def watched():
    """Run the block with Ctrl-C watched (module doc): the first Ctrl-C raises KeyboardInterrupt in the
    main thread as usual; if the main thread does not take it within :data:`GRACE` seconds, or Ctrl-C
    comes again, the process ends at once (exit code :data:`EXIT`). Only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    keep(None)
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    seen, stop = threading.Event(), threading.Event()

    def handler(signum, frame):
        if seen.is_set():
            _exit_now("again")
        seen.set()
        raise KeyboardInterrupt

    def watch():
        while not stop.is_set():
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data or stop.is_set():
                return
            if signal.SIGINT in data and not seen.wait(GRACE) and not stop.is_set():
                _exit_now("inside a compiled step")

    old_handler = signal.signal(signal.SIGINT, handler)
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    thread = threading.Thread(target=watch, name="dynagate-ctrl-c", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGINT, old_handler)
        with contextlib.suppress(OSError):
            writer.send(b"\0")
        thread.join(timeout=1.0)
        writer.close()
        reader.close()
