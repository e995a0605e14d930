"""Backend `docker`: a pool of long-lived, locked-down containers, each running the fork-server.

Each container: no network, memory and pid limits, read-only root, a small writable tmpfs at
/tmp, an unprivileged user, no capabilities, no new privileges. The worker is the container's
PID 1, so it reaps orphans and kills every leftover process after each program with kill(-1).

The host talks to the worker over a unix socket in a host directory bind-mounted read-only
into the container (docker's attach plumbing costs ~2 ms a request; the socket does not).
The socket file is removed once the worker has connected, so a program cannot connect again.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
import uuid

from codexsd.core.imports import require
from codexsd.sandbox import settings
from codexsd.sandbox.base import DEFAULT_MEMORY_MB
from codexsd.sandbox.pool import WORKER_SOURCE, PoolSandbox, SandboxUnavailable, WorkerHandle, handshake

log = logging.getLogger(__name__)

LABEL = "codexsd.sandbox"
SOCKET_DIR_IN_CONTAINER = "/run/codexsd"
HEADROOM_MB = 256  # the worker and the kernel's page cache on top of the per-program limit


def docker_client():
    """A docker SDK client, or SandboxUnavailable if the engine does not answer."""
    docker = require("docker")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # docker raises several unrelated types here
        raise SandboxUnavailable(f"the Docker engine does not answer ({exc}); start dockerd or use --sandbox local") from exc
    return client


def docker_available(image: str = settings.IMAGE) -> tuple[bool, str]:
    """(True, "") if the engine answers and `image` exists, else (False, why)."""
    try:
        client = docker_client()
    except Exception as exc:
        return False, str(exc)
    try:
        client.images.get(image)
    except Exception as exc:
        return False, f"sandbox image {image} not found ({exc}); build it with `codexsd sandbox build-image`"
    finally:
        client.close()
    return True, ""


class _ContainerHandle(WorkerHandle):
    def __init__(self, container, sock: socket.socket, sockdir: str):
        self.container, self.sock, self.sockdir = container, sock, sockdir
        self.info: dict = {}

    def destroy(self) -> None:
        try:
            self.sock.close()
        finally:
            try:
                self.container.remove(force=True)
            except Exception as exc:  # already gone
                log.debug("removing container: %s", exc)
            shutil.rmtree(self.sockdir, ignore_errors=True)

    def describe_death(self) -> str:
        try:
            self.container.reload()
            state = self.container.attrs.get("State", {})
            return f"the sandbox container {state.get('Status', '?')} (exit {state.get('ExitCode')}, OOMKilled={state.get('OOMKilled')})"
        except Exception:
            return "the sandbox container vanished"


class DockerSandbox(PoolSandbox):
    """Programs run in a pool of long-lived containers; a program costs a fork, not a container start."""

    name = "docker"

    def __init__(self, workers: int | None = None, image: str = settings.IMAGE, memory_mb: int | None = None,
                 pids_limit: int = settings.PIDS_LIMIT, tmpfs_mb: int = settings.TMPFS_MB, python: str = "python3"):
        super().__init__(workers)
        self.image, self.python = image, python
        self.memory_mb = int(memory_mb or DEFAULT_MEMORY_MB)
        self.pids_limit, self.tmpfs_mb = pids_limit, tmpfs_mb
        self.client = docker_client()
        try:
            self.client.images.get(image)
        except Exception as exc:
            raise SandboxUnavailable(f"sandbox image {image} not found; build it with `codexsd sandbox build-image` "
                                     f"or set CODEXSD_SANDBOX_IMAGE (e.g. python:3.11-slim)") from exc

    def start_worker(self) -> WorkerHandle:
        sockdir = tempfile.mkdtemp(prefix="codexsd-dsock-")
        os.chmod(sockdir, 0o755)
        path = os.path.join(sockdir, "worker.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o777)  # the worker runs as an unprivileged uid
        listener.listen(1)
        mem = f"{self.memory_mb + HEADROOM_MB}m"
        command = [self.python, "-I", "-c", WORKER_SOURCE, "--connect", f"{SOCKET_DIR_IN_CONTAINER}/worker.sock",
                   "--scratch", "/tmp/sbx", "--wipe", "/tmp", "--wipe", "/dev/shm",
                   "--file-mb", str(settings.FILE_SIZE_MB), "--nofile", str(settings.OPEN_FILES)]
        container = None
        try:
            container = self.client.containers.run(
                self.image, command, detach=True, name=f"codexsd-sbx-{uuid.uuid4().hex[:12]}",
                labels={LABEL: "1"}, network_mode="none", read_only=True, user=f"{settings.UNPRIVILEGED_UID}:{settings.UNPRIVILEGED_UID}",
                cap_drop=["ALL"], security_opt=["no-new-privileges"], mem_limit=mem, memswap_limit=mem,
                pids_limit=self.pids_limit, tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_mb}m,mode=1777"},
                shm_size=f"{self.tmpfs_mb}m", volumes={sockdir: {"bind": SOCKET_DIR_IN_CONTAINER, "mode": "ro"}},
                environment={}, working_dir="/tmp", stdin_open=False, tty=False, init=False, ipc_mode="private",
                auto_remove=True,  # the worker exits when its socket closes, even if this process was killed
            )
            sock = _accept_while_running(listener, container)
        except Exception as exc:
            listener.close()
            if container is not None:
                _remove(container)
            shutil.rmtree(sockdir, ignore_errors=True)
            raise SandboxUnavailable(f"cannot start a sandbox container from {self.image}: {exc}") from exc
        listener.close()
        os.unlink(path)  # nobody else can connect now
        handle = _ContainerHandle(container, sock, sockdir)
        try:
            handle.info = handshake(sock, settings.START_TIMEOUT_S)
        except (OSError, SandboxUnavailable) as exc:
            logs = _logs(container)
            handle.destroy()
            raise SandboxUnavailable(f"sandbox container did not start its worker: {exc} {logs}") from exc
        return handle

    def close(self) -> None:
        super().close()
        try:
            self.client.close()
        except Exception:
            pass


def _accept_while_running(listener: socket.socket, container) -> socket.socket:
    """The worker's connection; fails fast if the container exits first (e.g. no python3 in the image)."""
    deadline = time.monotonic() + settings.START_TIMEOUT_S
    listener.settimeout(0.5)
    while True:
        try:
            return listener.accept()[0]
        except (socket.timeout, TimeoutError):
            pass
        container.reload()
        if container.status not in ("created", "running"):
            raise SandboxUnavailable(f"the container exited before its worker connected: {_logs(container)[-1000:]}")
        if time.monotonic() > deadline:
            raise SandboxUnavailable(f"no worker connected within {settings.START_TIMEOUT_S:.0f} s")


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception as exc:
        log.debug("removing container: %s", exc)


def _logs(container) -> str:
    try:
        return container.logs(tail=20).decode(errors="replace")
    except Exception:
        return ""


def remove_stale_containers() -> int:
    """Remove stopped sandbox containers (running ones belong to live pools); returns how many."""
    client = docker_client()
    n = 0
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        if c.status not in ("running", "paused"):
            _remove(c)
            n += 1
    client.close()
    return n
