"""Sandbox settings beyond base.py's limits: named constants, overridable by environment."""

from __future__ import annotations

import os

from codexsd.core.config import env_number

# The image every docker test and the docker backend use (python:3.11-slim works too).
IMAGE = os.environ.get("CODEXSD_SANDBOX_IMAGE", "codexsd-sandbox:bookworm")
DEBIAN_SUITE = os.environ.get("CODEXSD_SANDBOX_SUITE", "bookworm")
DEBIAN_MIRROR = os.environ.get("CODEXSD_SANDBOX_MIRROR", "http://deb.debian.org/debian")

# One long-lived container (or local worker process) per slot; each runs one program at a time.
POOL_SIZE = int(env_number("CODEXSD_SANDBOX_WORKERS", 0)) or (os.cpu_count() or 1) + 1
PIDS_LIMIT = int(env_number("CODEXSD_SANDBOX_PIDS", 128))  # per container
TMPFS_MB = int(env_number("CODEXSD_SANDBOX_TMPFS_MB", 64))  # the only writable place in a container
FILE_SIZE_MB = int(env_number("CODEXSD_SANDBOX_FILE_MB", 16))  # RLIMIT_FSIZE per program
OPEN_FILES = int(env_number("CODEXSD_SANDBOX_NOFILE", 256))  # RLIMIT_NOFILE per program
UNPRIVILEGED_UID = int(env_number("CODEXSD_SANDBOX_UID", 65534))  # "nobody" on Debian
GRACE_S = env_number("CODEXSD_SANDBOX_GRACE_S", 5.0)  # host waits timeout + grace before killing a worker
START_TIMEOUT_S = env_number("CODEXSD_SANDBOX_START_S", 60.0)  # a worker must say "ready" by then
# The local backend's total budget per worker (the worker and everything a program starts), in a cgroup;
# 0: the per-program memory limit plus 256 MB, as the docker backend sizes a container.
TOTAL_MEMORY_MB = int(env_number("CODEXSD_SANDBOX_TOTAL_MEMORY_MB", 0))
UNSAFE_LOCAL_ENV = "CODEXSD_UNSAFE_LOCAL"  # "1": run the local backend without a cgroup budget (--unsafe-local)
