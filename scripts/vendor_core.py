#!/usr/bin/env python3
"""Copy the shared core (functions/auditship) into each function folder before `fn deploy`.

fn builds a function with its own folder as the Docker build context, so code outside the
folder never reaches the image. The copies are git-ignored: functions/auditship stays the
one source of truth. Each folder also gets its `Dockerfile` (`runtime: docker`), from
functions/auditship/native/Dockerfile.fn: fn's own python3.11 build plus the step that
compiles the C fast path inside the build image. Extensions built on this machine are not
copied: they would not match the image's Python and C library.

Each folder's `requirements.txt` (what that Dockerfile pip-installs) is written here too,
also git-ignored: every exact pin of constraints.txt at the repository root. constraints.txt
is the one source of pinned versions (CI and requirements-dev.txt install with it as well);
it is generated from pyproject.toml by `pip-compile pyproject.toml`, see its header.

    python scripts/vendor_core.py                 # every function folder, in place
    python scripts/vendor_core.py FOLDER --out DIR  # one folder, copied to DIR (tests)
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "functions" / "auditship"
DOCKERFILE = CORE / "native" / "Dockerfile.fn"
CONSTRAINTS = ROOT / "constraints.txt"
_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;#]+")
REQUIREMENTS_HEADER = """\
# Written by scripts/vendor_core.py: the pins of constraints.txt at the repository root, the
# one source of pinned versions. Do not edit or commit; change pyproject.toml, run
# `pip-compile pyproject.toml`, then scripts/vendor_core.py again.
"""


def pinned_requirements(constraints: Path = CONSTRAINTS) -> list[str]:
    """The `name==version` lines of constraints.txt, without pip-compile's comments."""
    pins = []
    for number, line in enumerate(constraints.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not _PIN.fullmatch(line):
            raise ValueError(f"{constraints}:{number}: not an exact pin: {line!r}")
        pins.append(line)
    if not pins:
        raise ValueError(f"{constraints}: no pins")
    return pins


def function_folders() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "functions").glob("*/func.py"))


def vendor(folder: Path, out: Path | None = None) -> Path:
    target = folder
    if out is not None:
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(folder, out, ignore=shutil.ignore_patterns("auditship", "__pycache__"))
        target = out
    dest = target / "auditship"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        CORE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.o")
    )
    shutil.copyfile(DOCKERFILE, target / "Dockerfile")
    (target / "requirements.txt").write_text(
        REQUIREMENTS_HEADER + "".join(f"{pin}\n" for pin in pinned_requirements())
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="function folders (default: all)")
    parser.add_argument("--out", type=Path, help="copy the (single) folder here first")
    args = parser.parse_args(argv)
    folders = args.folders or function_folders()
    if args.out is not None and len(folders) != 1:
        parser.error("--out takes exactly one function folder")
    for folder in folders:
        if not (folder / "func.py").is_file():
            parser.error(f"{folder}: not a function folder (no func.py)")
        done = vendor(folder.resolve(), args.out)
        print(f"vendored auditship and pinned requirements into {done}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
