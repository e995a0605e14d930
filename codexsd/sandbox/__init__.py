"""One execution package for every stage that runs code nobody has read.

    from codexsd.sandbox import Program, get_sandbox
    with get_sandbox() as sb:                      # "auto": docker if usable, else local (warns)
        outcomes = sb.run([Program(source, timeout=3.0, memory_mb=1024)])
    outcomes[0].status                             # passed | failed | timeout | error, detail = error tail

Backends: `docker` (docker_backend.py: pool of locked-down containers) and `local`
(local.py: the same fork-server in namespaces). worker.py is the fork-server both run;
pool.py the host side; image.py builds the image offline; strict.py the `assert_equal`
prelude generated tests should use; settings.py the limits (environment-overridable).
"""

from codexsd.sandbox.base import Outcome, Program, Sandbox, Status
from codexsd.sandbox.factory import get_sandbox
from codexsd.sandbox.pool import SandboxUnavailable
from codexsd.sandbox.strict import strict_equal_source

__all__ = ["Outcome", "Program", "Sandbox", "SandboxUnavailable", "Status", "get_sandbox", "strict_equal_source"]
