"""Choose a sandbox backend by name. (Placeholder until the docker/local backends land.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import Sequence

from filters.sandbox.base import Outcome, Program, Progress, Sandbox, Status


class SubprocessSandbox(Sandbox):
    """Interim backend: one `python -I` subprocess per program. Not isolated."""

    name = "subprocess"

    def run(self, programs: Sequence[Program], progress: Progress | None = None) -> list[Outcome]:
        out = []
        for prog in programs:
            token = uuid.uuid4().hex
            src = prog.source + f"\nprint({token!r})\n"
            t0 = time.monotonic()
            try:
                r = subprocess.run([sys.executable, "-I", "-c", src], capture_output=True, text=True, timeout=prog.timeout)
            except subprocess.TimeoutExpired:
                out.append(Outcome(Status.TIMEOUT, "timed out", time.monotonic() - t0))
            else:
                dt = time.monotonic() - t0
                if r.returncode == 0 and r.stdout.rstrip().endswith(token):
                    out.append(Outcome(Status.PASSED, "", dt))
                elif r.returncode == 1:
                    out.append(Outcome(Status.FAILED, r.stderr[-2000:], dt))
                else:
                    out.append(Outcome(Status.ERROR, f"exit {r.returncode}: {r.stderr[-2000:]}", dt))
            if progress:
                progress(1)
        return out


def get_sandbox(backend: str | None = None, **kwargs) -> Sandbox:
    backend = backend or os.environ.get("CODEXSD_SANDBOX", "auto")
    return SubprocessSandbox()
