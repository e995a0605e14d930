"""Build the sandbox image offline from Debian packages: debootstrap, trim, `docker import`.

Only a Debian mirror is needed (no container registry). The suite and mirror are pinned
(settings.DEBIAN_SUITE / DEBIAN_MIRROR) and the tarball is written with sorted names, a
fixed mtime and numeric owners, so two builds from the same mirror state match.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from codexsd.sandbox import settings

log = logging.getLogger(__name__)

PACKAGES = ("python3",)
# Not needed to run Python programs; removed to keep the image small.
TRIM = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
    "usr/share/zoneinfo-icu", "var/cache/apt", "var/lib/apt/lists", "var/cache/debconf/templates.dat-old",
    "var/log", "usr/share/common-licenses",
    "var/cache/ldconfig/aux-cache",  # the one file that differed between two builds
)
SOURCE_DATE_EPOCH = 1700000000


class ImageBuildError(RuntimeError):
    pass


def image_exists(image: str = settings.IMAGE) -> bool:
    r = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return r.returncode == 0


def build_image(image: str = settings.IMAGE, suite: str = settings.DEBIAN_SUITE,
                mirror: str = settings.DEBIAN_MIRROR, workdir: str | None = None) -> str:
    """debootstrap a minimal Debian `suite` with python3 and import it as `image`; returns the image id."""
    for tool in ("debootstrap", "docker", "tar"):
        if shutil.which(tool) is None:
            raise ImageBuildError(f"`{tool}` not found; on Debian: apt-get install debootstrap docker.io")
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root; run `codexsd sandbox build-image` as root")
    with tempfile.TemporaryDirectory(prefix="codexsd-image-", dir=workdir) as tmp:
        root = Path(tmp) / "root"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(root), mirror]
        log.info("running %s", " ".join(cmd))
        _check(cmd)
        _check(["chroot", str(root), "python3", "-B", "-c", "import json, math, re, collections, hashlib, ctypes"])
        for rel in TRIM:
            path = root / rel
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
        (root / "var/log").mkdir(exist_ok=True)
        # Byte-code for the whole standard library, so a program's `import dataclasses` reads a .pyc
        # instead of compiling the module in every fork (126 ms against 2 ms measured): postinst's
        # timestamped files are replaced by unchecked-hash ones (the root is read-only), written
        # with a fixed hash seed so that two builds give the same bytes.
        for pyc in list(root.glob("usr/lib/python3*/**/__pycache__")):
            shutil.rmtree(pyc, ignore_errors=True)
        for lib in sorted(root.glob("usr/lib/python3.*")):
            if (lib / "os.py").exists():
                _check(["chroot", str(root), "env", "PYTHONHASHSEED=0", "python3", "-m", "compileall", "-q", "-j", "1",
                        "--invalidation-mode", "unchecked-hash", "-x", "/(test|idlelib|lib2to3/tests)/",
                        "/" + str(lib.relative_to(root))])
        tarball = Path(tmp) / "rootfs.tar"
        _check(["tar", "--sort=name", f"--mtime=@{SOURCE_DATE_EPOCH}", "--numeric-owner", "--owner=0", "--group=0",
                "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime", "-C", str(root), "-cf", str(tarball), "."])
        changes = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8",
                   f"USER {settings.UNPRIVILEGED_UID}:{settings.UNPRIVILEGED_UID}", "WORKDIR /tmp", 'CMD ["python3"]']
        args = ["docker", "import"]
        for c in changes:
            args += ["--change", c]
        out = _check(args + [str(tarball), image])
    image_id = out.strip().splitlines()[-1] if out.strip() else image
    log.info("built %s (%s)", image, image_id)
    return image_id


def _check(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ImageBuildError(f"{cmd[0]} failed (exit {r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
    return r.stdout
