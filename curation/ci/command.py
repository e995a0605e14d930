"""`codexsd collect ci [PROJECT...]`: problems from the calls a project's test suite makes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

HELP = "trace a project's test suite (default: the stdlib's own tests) into function problems"
DESCRIPTION = (
    "Run each PROJECT's tests (a local tree, a git URL or checkout, or pypi:NAME[==VERSION]) in isolated "
    "processes under a call tracer, keep calls whose arguments and results are plain data, and turn each "
    "function with kept calls into a self-contained task validated in the sandbox. With no PROJECT, the "
    "running interpreter's own standard-library test suite is traced."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from curation.ci.config import CIConfig

    parser.add_argument("projects", nargs="*", metavar="PROJECT",
                        help="directory, git URL/checkout or pypi:NAME[==VERSION] (default: the stdlib's tests)")
    parser.add_argument("--projects-file", metavar="FILE",
                        help="more PROJECTs, one a line (# comments; a bare NAME[==VER] means pypi:NAME[==VER])")
    parser.add_argument("-o", "--out", required=True, help="output directory (shards, rejects, stats.json)")
    parser.add_argument("--config", help="YAML file with CIConfig keys")
    defaults = CIConfig()
    for f in dataclasses.fields(CIConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = type(getattr(defaults, f.name))
        if kind is bool:
            parser.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction,
                                help=f"(default {getattr(defaults, f.name)})")
        elif kind is list:
            parser.add_argument(flag, dest=f.name, default=None, help="comma-separated list")
        else:
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=f"(default {getattr(defaults, f.name)!r})")
    from codexsd.core.executor import add_executor_argument

    add_executor_argument(parser)  # ray: each project traced as one task, then the task-building shards
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from codexsd.core.config import load_config
    from curation.ci import CIConfig, StdlibTestsMissing, collect_ci
    from curation.ci.collect import read_projects_file

    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(CIConfig)}
    config = load_config(CIConfig, args.config, flags)
    projects = list(args.projects)
    if args.projects_file:
        try:
            projects += read_projects_file(args.projects_file)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"codexsd collect ci: error: cannot read --projects-file: {exc}", file=sys.stderr)
            return 2
    from codexsd.core.executor import open_executor

    try:
        with open_executor(args) as executor:
            stats = collect_ci(projects, args.out, config, progress=not args.no_progress, executor=executor)
    except StdlibTestsMissing as exc:
        print(f"codexsd collect ci: error: {exc}", file=sys.stderr)
        return 2
    reports = json.loads((Path(args.out) / "projects.json").read_text())
    for rep in reports:
        if "error" in rep:
            print(f"{rep['project']}: FAILED {rep['error'][:300]}", file=sys.stderr)
        else:
            print(f"{rep['project']}: test modules {rep.get('module_status', {})}, functions traced "
                  f"{rep.get('functions_traced', 0)}, with kept calls {rep.get('functions_with_calls', 0)}, "
                  f"calls kept {rep.get('calls_kept', 0)}", file=sys.stderr)
    print(f"collect ci: {stats.items_in} functions in, {stats.kept} tasks kept, {stats.rejected} rejected "
          f"-> {args.out}", file=sys.stderr)
    for reason, n in sorted(stats.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {reason}: {n}", file=sys.stderr)
    return 0
