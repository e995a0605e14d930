"""Shared helpers for the sandbox tests: backends as fixtures, docker's CI rule."""

from __future__ import annotations

import os

import pytest

from codexsd.sandbox import settings

IMAGE = settings.IMAGE  # one constant; override with CODEXSD_SANDBOX_IMAGE
BACKENDS = ("docker", "local")


def docker_or_skip() -> None:
    """Skip docker tests where docker cannot run; in CI (CI=true) fail instead, never skip."""
    from codexsd.sandbox.docker_backend import docker_available

    ok, why = docker_available(IMAGE)
    if ok:
        return
    message = f"docker sandbox unavailable: {why}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: docker tests must run; see .ci/docker.sh)")
    pytest.skip(message)


def make_sandbox(backend: str, workers: int = 2):
    if backend == "docker":
        docker_or_skip()
        from codexsd.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(workers=workers, image=IMAGE)
    from codexsd.sandbox.local import LocalSandbox

    return LocalSandbox(workers=workers)
