"""Host side of the fork-server pool, shared by the docker and local backends.

A backend only knows how to start one worker (a container or a subprocess) and hand back a
connected socket, and how to destroy it. The pool keeps `size` workers alive, gives each
one program at a time, and replaces a worker that dies or stops answering; the program that
was running there gets an `error` (or `timeout`) outcome. Each program gets exactly one
outcome: it is taken from the queue once and answered once.
"""

from __future__ import annotations

import abc
import logging
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from codexsd.sandbox import settings
from codexsd.sandbox.base import DETAIL_TAIL_CHARS, Outcome, Program, Progress, Sandbox, Status
from codexsd.sandbox.worker import recv_msg, send_msg

log = logging.getLogger(__name__)

WORKER_SOURCE = Path(__file__).with_name("worker.py").read_text()


class SandboxUnavailable(RuntimeError):
    """The backend cannot start workers (no engine, no image, no permission)."""


class WorkerHandle(abc.ABC):
    """One started worker: a connected socket plus whatever the backend needs to destroy it."""

    sock: socket.socket
    info: dict[str, Any]

    @abc.abstractmethod
    def destroy(self) -> None: ...

    def describe_death(self) -> str:
        return "the sandbox worker died"


class PoolSandbox(Sandbox):
    """A pool of long-lived fork-server workers; subclasses implement `start_worker`."""

    def __init__(self, workers: int | None = None):
        self.size = max(1, int(workers or settings.POOL_SIZE))
        self._handles: list[WorkerHandle | None] = []
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()  # one run() at a time: a worker's socket carries one conversation
        self._closed = False
        self.replaced = 0  # workers replaced after a death or a hang (for tests and logs)

    @abc.abstractmethod
    def start_worker(self) -> WorkerHandle: ...

    # ------------------------------------------------------------------ lifecycle
    def _ensure_started(self) -> None:
        with self._lock:
            if self._closed:
                raise SandboxUnavailable(f"{self.name} sandbox is closed")
            missing = self.size - len(self._handles)
            if missing <= 0:
                return
            started: list[Any] = [None] * missing
            threads = [threading.Thread(target=self._start_into, args=(started, i)) for i in range(missing)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            errors = [s for s in started if isinstance(s, BaseException)]
            handles = [s for s in started if isinstance(s, WorkerHandle)]
            self._handles.extend(handles)
            if errors and not self._handles:
                raise SandboxUnavailable(f"{self.name} sandbox: no worker could start: {errors[0]}") from errors[0]
            if errors:
                log.warning("%s sandbox: %d of %d workers failed to start: %s", self.name, len(errors), missing, errors[0])

    def _start_into(self, out: list[Any], i: int) -> None:
        try:
            out[i] = self.start_worker()
        except BaseException as exc:  # reported by _ensure_started
            out[i] = exc

    def close(self) -> None:
        with self._lock:
            self._closed = True
            handles, self._handles = self._handles, []
        for h in handles:
            if h is not None:
                _quietly(h.destroy)

    def __del__(self):  # best effort; close() is the real way
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ running
    def run(self, programs: Sequence[Program], progress: Progress | None = None) -> list[Outcome]:
        programs = list(programs)
        if not programs:
            return []
        with self._run_lock:
            self._ensure_started()
            return self._run_all(programs, progress)

    def _run_all(self, programs: list[Program], progress: Progress | None) -> list[Outcome]:
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(programs)):
            todo.put(i)
        done: queue.Queue[tuple[int, Outcome]] = queue.Queue()
        slots = list(range(len(self._handles)))
        threads = [threading.Thread(target=self._slot_loop, args=(s, programs, todo, done), daemon=True) for s in slots]
        for t in threads:
            t.start()
        results: list[Outcome | None] = [None] * len(programs)
        remaining = len(programs)
        while remaining:
            try:
                i, outcome = done.get(timeout=1.0)
            except queue.Empty:
                if not any(t.is_alive() for t in threads):
                    break
                continue
            if results[i] is not None:  # cannot happen: each index is taken from `todo` once
                raise AssertionError(f"program {i} answered twice")
            results[i] = outcome
            remaining -= 1
            if progress:
                progress(1)
        for t in threads:
            t.join()
        while not done.empty():  # answers that raced with the last liveness check
            i, outcome = done.get()
            if results[i] is None:
                results[i] = outcome
                remaining -= 1
                if progress:
                    progress(1)
        for i, r in enumerate(results):
            if r is None:
                results[i] = Outcome(Status.ERROR, f"{self.name} sandbox unavailable: no worker could run it")
                if progress:
                    progress(1)
        return results  # type: ignore[return-value]

    def _slot_loop(self, slot: int, programs: list[Program], todo: queue.Queue, done: queue.Queue) -> None:
        try:
            self._slot_loop_inner(slot, programs, todo, done)
        except (IndexError, OSError, ValueError) as exc:  # the pool closed under this thread (Ctrl-C): nothing to report
            log.debug("%s sandbox: slot %d stopped: %r", self.name, slot, exc)

    def _slot_loop_inner(self, slot: int, programs: list[Program], todo: queue.Queue, done: queue.Queue) -> None:
        while True:
            if slot >= len(self._handles):
                return
            handle = self._handles[slot]
            if handle is None:
                handle = self._replace(slot)
                if handle is None:
                    return
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            outcome, healthy = self._run_on(handle, i, programs[i])
            done.put((i, outcome))
            if not healthy:
                _quietly(handle.destroy)
                self._handles[slot] = None

    def _replace(self, slot: int) -> WorkerHandle | None:
        for attempt in range(3):
            if self._closed:
                return None
            try:
                handle = self.start_worker()
            except BaseException as exc:
                log.warning("%s sandbox: replacing worker %d failed (try %d): %s", self.name, slot, attempt + 1, exc)
                time.sleep(0.5 * (attempt + 1))
                continue
            self._handles[slot] = handle
            self.replaced += 1
            return handle
        return None

    def _run_on(self, handle: WorkerHandle, n: int, prog: Program) -> tuple[Outcome, bool]:
        """One program on one worker -> (outcome, whether the worker is still usable)."""
        t0 = time.monotonic()
        request = {"n": n, "source": prog.source, "timeout": float(prog.timeout), "memory_mb": int(prog.memory_mb)}
        if prog.stdout:
            request["stdout"] = True
        try:
            handle.sock.settimeout(float(prog.timeout) + settings.GRACE_S)
            send_msg(handle.sock, request)
            reply = recv_msg(handle.sock)
        except (socket.timeout, TimeoutError):
            return Outcome(Status.TIMEOUT, "the worker stopped answering after the time limit; worker replaced",
                           time.monotonic() - t0), False
        except (OSError, ValueError) as exc:
            reply = None
            log.debug("worker connection failed: %s", exc)
        if reply is None or reply.get("n") != n:
            detail = f"{handle.describe_death()} while running this program; worker replaced"
            return Outcome(Status.ERROR, detail, time.monotonic() - t0), False
        try:
            status = Status(reply.get("status"))
            detail = str(reply.get("detail", ""))[-int(DETAIL_TAIL_CHARS):]
            duration = float(reply.get("duration", time.monotonic() - t0))
            output = str(reply.get("stdout", ""))
        except (TypeError, ValueError):
            return Outcome(Status.ERROR, f"the worker sent a malformed answer: {str(reply)[:200]}"), False
        return Outcome(status, detail, duration, output), True


def handshake(sock: socket.socket, timeout: float) -> dict[str, Any]:
    """Wait for the worker's ready message."""
    sock.settimeout(timeout)
    msg = recv_msg(sock)
    if not msg or not msg.get("ready"):
        raise SandboxUnavailable(f"sandbox worker did not start (got {msg!r})")
    return msg


def _quietly(fn) -> None:
    try:
        fn()
    except Exception as exc:  # destroying a dead worker may fail; nothing to do about it
        log.debug("ignored: %s", exc)
