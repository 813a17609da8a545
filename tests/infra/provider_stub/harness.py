"""Paths and result type shared by tests/infra/conftest.py and the test module.

Kept out of conftest.py: test modules should not import a conftest (several conftest.py
files share that module name in one pytest session).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra"


@dataclass(frozen=True)
class TfResult:
    returncode: int
    output: str
