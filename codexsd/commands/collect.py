"""`codexsd collect competitive|ci`: the two sources of problems."""

from __future__ import annotations

import argparse
import importlib

HELP = "collect problems from competitive-programming sets or from a project's traced test suite"

# kind -> module with add_arguments(parser) / run(args); a kind whose module is absent is not offered
KINDS = {
    "competitive": "curation.competitive.command",
    "ci": "curation.ci.command",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND")
    sub.required = True
    for kind, modpath in KINDS.items():
        try:
            mod = importlib.import_module(modpath)
        except ModuleNotFoundError as exc:
            if exc.name and modpath.startswith(exc.name):
                continue
            raise
        p = sub.add_parser(kind, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_collect=mod.run)


def run(args: argparse.Namespace) -> int:
    return args._collect(args)
