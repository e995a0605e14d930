"""The `codexsd` console script: one subcommand per stage.

Each subcommand lives in `codexsd/commands/<name>.py`, which defines `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Library code never prints or exits;
commands do. Diagnostics go to stderr, data to files.
"""

from __future__ import annotations

import argparse
import importlib
import logging
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
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s", stream=sys.stderr)
    from codexsd.imports import MissingDependency
    from codexsd.config import ConfigError

    try:
        return int(args._run(args) or 0)
    except (MissingDependency, ConfigError, FileNotFoundError) as exc:
        print(f"codexsd {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"codexsd {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
