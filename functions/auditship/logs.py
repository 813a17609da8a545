"""Logging set-up: one place, idempotent, and quiet about secrets.

urllib3 logs request lines (with the query string that carries the Logz.io token) at
DEBUG; it is pinned to WARNING whatever the root level is.
"""

from __future__ import annotations

import logging
import os

_done = False


def configure_logging() -> None:
    global _done
    if _done:
        return
    _done = True
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    else:
        root.setLevel(level)
    for noisy in ("urllib3", "oci", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
