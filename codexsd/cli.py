"""The `codexsd` console script: one subcommand per stage.

Each subcommand lives in `codexsd/commands/<name>.py`, which defines `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Library code never prints or exits;
commands do. Diagnostics go to stderr, data to files.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# subcommand -> module; a stage whose module is not there has no subcommand.
COMMANDS = {
    "extract": "codexsd.commands.extract",
    "collect": "codexsd.commands.collect",
    "validate": "codexsd.commands.validate",
    "dedup": "codexsd.commands.dedup",
    "filter": "codexsd.commands.filter",
    "format": "codexsd.commands.format",
    "build": "codexsd.commands.build",
    "sandbox": "codexsd.commands.sandbox",
    "evaluate": "codexsd.commands.evaluate",
    "sample": "codexsd.commands.sample",
    "train": "codexsd.commands.train",
    "eval": "codexsd.commands.eval",
    "score-docstrings": "codexsd.commands.score_docstrings",
    "report": "codexsd.commands.report",
    "export-gguf": "codexsd.commands.export_gguf",
}


# Arguments that name local paths: resolved to absolute once, before any work (a command may
# change directory or hand the path to a child process that runs elsewhere).
_PATH_ARGS = ("input", "in_dir", "samples", "model", "config", "mbpp", "humaneval", "projects_file", "docstrings",
              "paths", "projects", "sources", "eval")
_OUTPUT_ARGS = ("output", "out")
_FILE_OUTPUTS = {"extract", "export-gguf", "sample"}  # their output is a file; every other command's is a folder
# Long commands that resume where a killed run stopped
_RESUMABLE = {"collect", "validate", "dedup", "filter", "format", "build", "sample", "train", "eval"}


class UsageProblem(ValueError):
    """A bad argument found before any work: one line for the person who typed it."""


def _absolute(value):
    if isinstance(value, list):
        return [_absolute(v) for v in value]
    if isinstance(value, str) and value and ":" not in value.split("/", 1)[0] and os.path.exists(value):
        return os.path.abspath(value)  # hub ids, pypi:NAME and the like stay as they are
    return value


def _check_output(command: str, path: str) -> str:
    """The absolute output path, after checking it can be what the command writes, where it can write."""
    path = os.path.abspath(os.path.expanduser(path))
    want_dir = command not in _FILE_OUTPUTS
    if os.path.exists(path):
        if want_dir and not os.path.isdir(path):
            raise UsageProblem(f"output {path} is a file; give a folder")
        if not want_dir and os.path.isdir(path):
            raise UsageProblem(f"output {path} is a folder; give a file name")
        target = path if want_dir else os.path.dirname(path)
    else:
        target = os.path.dirname(path)
        while target and not os.path.exists(target):
            target = os.path.dirname(target)
        if target and not os.path.isdir(target):
            raise UsageProblem(f"output {path}: {target} is a file, not a folder")
    if target and not os.access(target, os.W_OK | os.X_OK):
        raise UsageProblem(f"output {path}: cannot write in {target} (read-only or no permission)")
    return path


def _check_numbers(args: argparse.Namespace) -> None:
    for name, low, strict in (("timeout", 0, True), ("workers", 1, False), ("runs", 1, False), ("shard_size", 1, False),
                              ("n", 1, False), ("n_samples", 1, False), ("round_size", 1, False)):
        value = getattr(args, name, None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value != value or (value <= low if strict else value < low):
            flag = "--" + name.replace("_", "-")
            raise UsageProblem(f"{flag} must be {'>' if strict else '>='} {low}, got {value}")


def _check_executor(args: argparse.Namespace) -> None:
    from codexsd.core.executor import EXECUTORS

    name = getattr(args, "executor", None)
    if name is not None and name not in EXECUTORS:
        raise UsageProblem(f"--executor {name!r} is not one of {', '.join(EXECUTORS)}")


def prepare_args(args: argparse.Namespace) -> argparse.Namespace:
    """Resolve paths once, check outputs and numbers: every bad argument fails here, before any work."""
    _check_executor(args)
    for name in _PATH_ARGS:
        if getattr(args, name, None) is not None:
            setattr(args, name, _absolute(getattr(args, name)))
    for name in _OUTPUT_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value:
            setattr(args, name, _check_output(args.command, value))
    _check_numbers(args)
    return args


def _load(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codexsd", description="Curate Codex-S/Codex-D training data, train and evaluate.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv for debug)")
    parser.add_argument("--unsafe-local", action="store_true",
                        help="let the local sandbox run without a cgroup budget where the host gives none")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, modpath in COMMANDS.items():
        mod = _load(modpath)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    unsafe_local = "--unsafe-local" in argv  # a global flag, accepted anywhere on the line
    args = parser.parse_args([a for a in argv if a != "--unsafe-local"])
    args.unsafe_local = unsafe_local
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s", stream=sys.stderr)
    from codexsd.core.config import ConfigError
    from codexsd.core.imports import MissingDependency
    from codexsd.core.lock import FolderBusy
    from codexsd.models.openai_compat import ServerError
    from codexsd.sandbox.pool import SandboxUnavailable

    if args.unsafe_local:
        from codexsd.sandbox.settings import UNSAFE_LOCAL_ENV

        os.environ[UNSAFE_LOCAL_ENV] = "1"
    try:
        prepare_args(args)
        return int(args._run(args) or 0)
    except (MissingDependency, ConfigError, FileNotFoundError, UsageProblem, FolderBusy, SandboxUnavailable,
            NotADirectoryError, IsADirectoryError, PermissionError, ServerError) as exc:
        print(f"codexsd {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        again = "; rerun the same command to resume" if args.command in _RESUMABLE else ""
        print(f"codexsd {args.command}: interrupted{again}", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 500 else text[:500] + "..."


if __name__ == "__main__":
    sys.exit(main())
