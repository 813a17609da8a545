"""Build the optional C fast path, auditship._fastprep (everything else is in pyproject.toml).

`optional=True`: where no C compiler is found, the install goes on without it and the
pure-Python path runs instead (slower; see the README's benchmark table).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "auditship._fastprep",
            sources=[
                "functions/auditship/native/fastprep.c",
                "functions/auditship/native/yyjson.c",
            ],
            include_dirs=["functions/auditship/native"],
            define_macros=[("YYJSON_DISABLE_NON_STANDARD", "1")],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
