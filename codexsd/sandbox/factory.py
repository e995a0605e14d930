"""Choose a sandbox backend by name: `docker`, `local`, or `auto` (docker when it can run, else local)."""

from __future__ import annotations

import logging
import os

from codexsd.sandbox.base import Sandbox

log = logging.getLogger(__name__)

BACKENDS = ("auto", "docker", "local")


def get_sandbox(backend: str | None = "auto", **kwargs) -> Sandbox:
    """A sandbox whose workers start on first use. `auto` (or None) = $CODEXSD_SANDBOX if set, else docker
    if the engine answers and the image exists, else local with a warning. `kwargs` go to the backend."""
    if backend in (None, "auto"):  # the environment may pin what `auto` means
        backend = os.environ.get("CODEXSD_SANDBOX") or "auto"
    if backend not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        from codexsd.sandbox.docker_backend import docker_available
        from codexsd.sandbox import settings

        ok, why = docker_available(kwargs.get("image", settings.IMAGE))
        if ok:
            backend = "docker"
        else:
            log.warning("docker sandbox unavailable (%s); falling back to the weaker local sandbox", why)
            backend = "local"
    if backend == "docker":
        from codexsd.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(**kwargs)
    from codexsd.sandbox.local import LocalSandbox

    local_kw = {k: v for k, v in kwargs.items() if k in ("workers", "drop_privileges")}
    return LocalSandbox(**local_kw)
