"""A total memory and process budget for one local worker and everything it forks: a cgroup.

cgroup v2 (the unified hierarchy, with `memory` and `pids` delegated to us) where available,
else the v1 `memory` and `pids` hierarchies when they are writable (root on a v1 host). Each
local worker gets its own group; the worker enters it before it execs (`enter`), so nothing it
starts escapes. Docker gives every container the same limits.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()


def _own_paths() -> dict[str, str]:
    """controller ('' for v2) -> this process's cgroup path."""
    out: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    except (OSError, ValueError):
        pass
    return out


class WorkerCgroup:
    """One worker's group(s): memory.max / memory.limit_in_bytes and pids.max."""

    def __init__(self, dirs: list[Path], version: int):
        self.dirs, self.version = dirs, version

    def enter(self) -> None:
        """Move the calling process in (runs in the child between fork and exec)."""
        procs = "cgroup.procs"
        for d in self.dirs:
            with open(d / procs, "w") as fh:
                fh.write(str(os.getpid()))

    def remove(self) -> None:
        """Kill what is left in the group(s) and delete them."""
        for d in self.dirs:
            for _ in range(50):
                try:
                    pids = [int(x) for x in (d / "cgroup.procs").read_text().split()]
                except (OSError, ValueError):
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            try:
                d.rmdir()
            except OSError as exc:
                log.debug("cgroup %s not removed: %s", d, exc)


def _v2_parent() -> Path | None:
    own = _own_paths().get("")
    for base in (ROOT, ROOT / "unified"):
        if own is None or not (base / "cgroup.controllers").exists():
            continue
        parent = base / own.lstrip("/")
        try:
            have = set((parent / "cgroup.subtree_control").read_text().split())
            if not {"memory", "pids"} <= have:
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            if {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
                return parent
        except OSError:
            continue
    return None


def create(memory_mb: int, pids: int) -> WorkerCgroup | None:
    """A fresh group limited to `memory_mb` and `pids`, or None where this host gives us none."""
    name = f"codexsd-sbx-{os.getpid()}-{next(_counter)}"
    parent = _v2_parent()
    if parent is not None:
        d = parent / name
        try:
            d.mkdir()
            (d / "memory.max").write_text(str(memory_mb << 20))
            (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
            (d / "pids.max").write_text(str(pids))
            return WorkerCgroup([d], 2)
        except OSError as exc:
            log.debug("cgroup v2 under %s: %s", parent, exc)
            WorkerCgroup([d], 2).remove()
    own = _own_paths()
    if "memory" in own and "pids" in own:
        made: list[Path] = []
        try:
            mem = ROOT / "memory" / own["memory"].lstrip("/") / name
            mem.mkdir()
            made.append(mem)
            (mem / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mb << 20))
            pid_dir = ROOT / "pids" / own["pids"].lstrip("/") / name
            pid_dir.mkdir()
            made.append(pid_dir)
            (pid_dir / "pids.max").write_text(str(pids))
            return WorkerCgroup(made, 1)
        except OSError as exc:
            log.debug("cgroup v1: %s", exc)
            WorkerCgroup(made, 1).remove()
    return None


def available() -> bool:
    group = create(64, 8)
    if group is None:
        return False
    group.remove()
    return True
