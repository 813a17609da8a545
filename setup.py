"""Build the optional C fast path, auditship._fastprep (everything else is in pyproject.toml).

Sources and flags come from functions/auditship/native/build.py, which function folders use
to build the same extension without setuptools. `optional=True`: where no C compiler is
found, the install goes on without it and the pure-Python path runs instead (slower; see the
README's benchmark table).
"""

import runpy
from pathlib import Path

from setuptools import Extension, setup

NATIVE = Path("functions/auditship/native")
build = runpy.run_path(str(NATIVE / "build.py"))

setup(
    ext_modules=[
        Extension(
            "auditship._fastprep",
            sources=[str(NATIVE / source) for source in build["SOURCES"]],
            include_dirs=[str(NATIVE)],
            define_macros=list(build["DEFINES"]),
            extra_compile_args=list(build["CFLAGS"]),
            optional=True,
        )
    ]
)
