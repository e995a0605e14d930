"""`codexsd sandbox build-image|check|clean`: the execution sandbox's image and health."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "build the sandbox image offline (debootstrap + docker import), check a backend, remove stale containers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from codexsd.sandbox import settings

    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    b = sub.add_parser("build-image", help="debootstrap a minimal Debian with python3 and `docker import` it")
    b.add_argument("--image", default=settings.IMAGE, help=f"image name (default: {settings.IMAGE}, env CODEXSD_SANDBOX_IMAGE)")
    b.add_argument("--suite", default=settings.DEBIAN_SUITE, help="Debian suite (default: %(default)s)")
    b.add_argument("--mirror", default=settings.DEBIAN_MIRROR, help="Debian mirror (default: %(default)s)")
    b.add_argument("--if-missing", action="store_true", help="do nothing if the image exists")
    c = sub.add_parser("check", help="run a passing, a failing and a looping program; print the outcomes")
    c.add_argument("--sandbox", choices=["auto", "docker", "local"], default="auto")
    sub.add_parser("clean", help="remove stopped sandbox containers left behind by killed runs")


def run(args: argparse.Namespace) -> int:
    if args.action == "build-image":
        from codexsd.sandbox.image import ImageBuildError, build_image, image_exists

        if args.if_missing and image_exists(args.image):
            print(f"{args.image} exists; nothing to do", file=sys.stderr)
            return 0
        try:
            image_id = build_image(args.image, suite=args.suite, mirror=args.mirror)
        except ImageBuildError as exc:
            print(f"codexsd sandbox build-image: error: {exc}", file=sys.stderr)
            return 1
        print(f"{args.image} {image_id}")
        return 0
    if args.action == "check":
        from codexsd.sandbox import Program, get_sandbox

        programs = [Program("assert sum(range(10)) == 45"), Program("assert 1 == 2"), Program("while True: pass", timeout=1)]
        with get_sandbox(args.sandbox, workers=1) as sb:
            outcomes = sb.run(programs)
            print(json.dumps({"backend": sb.name, "outcomes": [o.status.value for o in outcomes]}))
        return 0 if [o.status.value for o in outcomes] == ["passed", "failed", "timeout"] else 1
    from codexsd.sandbox.docker_backend import remove_stale_containers

    print(f"removed {remove_stale_containers()} containers", file=sys.stderr)
    return 0
