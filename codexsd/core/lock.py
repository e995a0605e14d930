"""One run per stage folder: an exclusive `flock` on OUT/.lock.

The lock file names its holder (pid, host, command, start time), so a second run refuses with
a message that says who holds the folder. The kernel releases a flock when its process dies,
however it dies, so a folder left by a killed run is taken over (the dead holder's line is
still in the file: that is how a stale lock is told from a clean one, and it is logged).
Re-entrant within a process: a command that locks OUT may run stages that lock it again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
_held: dict[str, tuple[int, int]] = {}  # resolved folder -> (fd, depth), this process
_guard = threading.Lock()


class FolderBusy(RuntimeError):
    """Another run holds the folder; the message names it."""


def _holder_text(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096).decode("utf-8", "replace").strip()
        info = json.loads(raw) if raw else {}
    except (OSError, ValueError):
        return "another run"
    if not isinstance(info, dict):
        return "another run"
    started = info.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} ({info.get('command', '?')}, started {when})"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock of `folder` (created if needed) for the duration; FolderBusy if taken."""
    path = Path(folder).resolve()
    key = str(path)
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            acquired = False
        else:
            path.mkdir(parents=True, exist_ok=True)
            fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _holder_text(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise FolderBusy(f"{path} is in use by {holder}; wait for that run to end or stop it") from None
                raise
            stale = _holder_text(fd) if os.fstat(fd).st_size else ""
            if stale:
                log.info("%s: the previous run (%s) ended without releasing its lock; taking over", path, stale)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)[:300],
                    "started": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            _held[key] = (fd, 1)
            acquired = True
    try:
        yield path
    finally:
        with _guard:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                try:
                    os.ftruncate(fd, 0)  # a clean release leaves an empty file
                finally:
                    os.close(fd)
        del acquired
