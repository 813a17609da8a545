#!/usr/bin/env python3
"""Compile the C fast path (auditship._fastprep) in place, with the system C compiler.

    python auditship/native/build.py     # in a function folder (its Dockerfile runs this)

`setup.py` builds the same extension for `pip install -e .` from the constants below (one
source of truth for sources and flags). This script needs no setuptools: fn's python3.11
build image has a compiler only after `microdnf install gcc python3.11-devel`.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = ("fastprep.c", "yyjson.c")
DEFINES = (("YYJSON_DISABLE_NON_STANDARD", "1"),)
CFLAGS = ("-O3", "-pthread")


def target() -> Path:
    """Where Python looks for auditship._fastprep: beside the package's modules."""
    return HERE.parent / ("_fastprep" + str(sysconfig.get_config_var("EXT_SUFFIX")))


def main() -> int:
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    ldshared = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc -shared")
    include = sysconfig.get_paths()["include"]
    out = target()
    objects = []
    for source in SOURCES:
        obj = out.with_name(source.replace(".c", ".o"))
        cmd = [*cc, "-fPIC", *CFLAGS, f"-I{HERE}", f"-I{include}"]
        cmd += [f"-D{name}={value}" for name, value in DEFINES]
        subprocess.run([*cmd, "-c", str(HERE / source), "-o", str(obj)], check=True)
        objects.append(obj)
    link = [*ldshared[:1], "-shared", "-pthread", *map(str, objects), "-o", str(out)]
    subprocess.run(link, check=True)
    for obj in objects:
        obj.unlink()
    print(f"built {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
