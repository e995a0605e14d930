"""Backend `local`: the fork-server worker as a subprocess, in new namespaces where the kernel allows.

Weaker than `docker`: the programs see the host's filesystem (as an unprivileged user when
codexsd runs as root), and without `unshare` they also share its network and process table.
Each worker runs in its own cgroup with a total memory and process budget (codexsd/sandbox/
cgroups.py); where the host gives no cgroup, the backend refuses to start unless the user
accepts running without one (`--unsafe-local`, or CODEXSD_UNSAFE_LOCAL=1).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile

from codexsd.sandbox import cgroups, settings
from codexsd.sandbox.base import DEFAULT_MEMORY_MB
from codexsd.sandbox.pool import WORKER_SOURCE, PoolSandbox, SandboxUnavailable, WorkerHandle, handshake

log = logging.getLogger(__name__)

# Tried in order; the first that runs `true` is used.
_NAMESPACE_PREFIXES = (
    ("pid+net", ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]),
    ("user+pid+net", ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]),
    ("user+mount+net", ["unshare", "--user", "--map-root-user", "--mount", "--net"]),
)


@functools.lru_cache(maxsize=None)
def namespace_prefix() -> tuple[str, tuple[str, ...]]:
    """The isolation this kernel grants us: (name, command prefix); ("none", ()) if none."""
    if shutil.which("unshare") is None:
        return "none", ()
    for name, prefix in _NAMESPACE_PREFIXES:
        if name.startswith("pid") and os.geteuid() != 0:
            continue
        try:
            r = subprocess.run(prefix + ["true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return name, tuple(prefix)
    return "none", ()


# The worker gets a minimal environment; programs get a fresh one from the worker.
_WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _world_readable(path: str) -> bool:
    """Can any user list `path` and reach it (o+x on every parent, o+rx on it)?"""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    for i in range(1, len(parts) + 1):
        here = os.sep.join(parts[:i]) or os.sep
        try:
            mode = os.stat(here).st_mode
        except OSError:
            return False
        if not mode & 0o001 or (here == path and not mode & 0o004):
            return False
    return True


class _LocalHandle(WorkerHandle):
    def __init__(self, proc: subprocess.Popen, sock: socket.socket, scratch: str, group=None):
        self.proc, self.sock, self.scratch, self.group = proc, sock, scratch, group
        self.info: dict = {}

    def destroy(self) -> None:
        try:
            self.sock.close()
        finally:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            if self.group is not None:
                self.group.remove()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def describe_death(self) -> str:
        code = self.proc.poll()
        return "the local sandbox worker died" + (f" (exit {code})" if code is not None else "")


class LocalSandbox(PoolSandbox):
    """Fork-server workers as host subprocesses; see the module docstring for what it does not isolate."""

    name = "local"

    def __init__(self, workers: int | None = None, drop_privileges: bool | None = None, unsafe: bool | None = None):
        super().__init__(workers)
        self.unsafe = unsafe if unsafe is not None else os.environ.get(settings.UNSAFE_LOCAL_ENV, "") == "1"
        self.total_memory_mb = settings.TOTAL_MEMORY_MB or int(DEFAULT_MEMORY_MB) + 256
        self.limited = cgroups.available()
        if not self.limited and not self.unsafe:
            raise SandboxUnavailable(
                "the local sandbox cannot cap a program's total memory and processes on this host (no writable cgroup "
                "v2 or v1 memory+pids); use --sandbox docker, or run without a cap with --unsafe-local "
                f"({settings.UNSAFE_LOCAL_ENV}=1)")
        if not self.limited:
            log.warning("local sandbox without a cgroup (--unsafe-local): no total memory or process budget per program")
        self.isolation, self.prefix = namespace_prefix()
        # As root, programs run as an unprivileged uid (needs no user namespace).
        self.drop_uid = settings.UNPRIVILEGED_UID if (drop_privileges if drop_privileges is not None else os.geteuid() == 0) else None
        if self.drop_uid is not None and os.geteuid() != 0:
            raise SandboxUnavailable("drop_privileges needs root")
        if self.drop_uid is not None and drop_privileges is None and not _world_readable(sysconfig.get_paths()["stdlib"]):
            log.warning("local sandbox: this Python's standard library (%s) is not readable by other users, so "
                        "programs run as root without capabilities", sysconfig.get_paths()["stdlib"])
            self.drop_uid = None
        self.pid_namespace = "pid" in self.isolation
        self.net_namespace = "net" in self.isolation
        self.mount_namespace = self.pid_namespace or "mount" in self.isolation  # --mount-proc implies --mount
        log.warning(
            "local sandbox is weaker than docker: programs see the host filesystem (%s%s); namespaces: %s",
            "read-only where a mount namespace allows" if self.mount_namespace else "read-write where the user may write",
            "" if self.drop_uid is None else f", as uid {self.drop_uid}", self.isolation,
        )

    def start_worker(self) -> WorkerHandle:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        scratch = tempfile.mkdtemp(prefix="codexsd-sbx-")
        if self.drop_uid is not None:
            os.chmod(scratch, 0o711)
        cmd = list(self.prefix) + [sys.executable, "-I", "-c", WORKER_SOURCE, "--fd", str(child.fileno()),
                                   "--scratch", scratch, "--file-mb", str(settings.FILE_SIZE_MB),
                                   "--nofile", str(settings.OPEN_FILES)]
        if self.drop_uid is not None:
            cmd += ["--drop-uid", str(self.drop_uid)]
        if not self.pid_namespace:
            cmd += ["--nproc", str(settings.PIDS_LIMIT * 8)]
        if self.mount_namespace:
            cmd += ["--private-tmp-mb", str(settings.TMPFS_MB)]
        errlog = tempfile.TemporaryFile()
        group = cgroups.create(self.total_memory_mb, settings.PIDS_LIMIT) if self.limited else None
        if self.limited and group is None:
            parent.close()
            child.close()
            raise SandboxUnavailable("cannot create the local worker's cgroup")
        try:
            proc = subprocess.Popen(cmd, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, env=_WORKER_ENV,
                                    stdout=subprocess.DEVNULL, stderr=errlog, start_new_session=True,
                                    preexec_fn=group.enter if group is not None else None)
        except (OSError, subprocess.SubprocessError) as exc:
            parent.close()
            if group is not None:
                group.remove()
            raise SandboxUnavailable(f"cannot start the local worker: {exc}") from exc
        finally:
            child.close()
        handle = _LocalHandle(proc, parent, scratch, group)
        try:
            handle.info = handshake(parent, settings.START_TIMEOUT_S)
        except (OSError, SandboxUnavailable) as exc:
            handle.destroy()
            errlog.seek(0)
            err = errlog.read().decode(errors="replace")[-2000:]
            raise SandboxUnavailable(f"local worker failed to start: {exc} {err}") from exc
        finally:
            errlog.close()
        return handle
