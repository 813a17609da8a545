"""Logging set-up: one place, idempotent, and quiet about secrets.

The Logz.io token travels in the request's query string, and urllib3 puts URLs in its log
lines: request lines at DEBUG, and e.g. "Failed to parse headers (url=...)" at WARNING.
Those loggers are pinned to WARNING and every handler on the root logger masks any
`token=...` query value, whatever level is configured.
"""

from __future__ import annotations

import logging
import os
import re

_TOKEN_IN_URL = re.compile(r"(token=)[^&\s'\")]+", re.IGNORECASE)


class MaskTokens(logging.Filter):
    """Replaces `token=<value>` in a record's final message with `token=***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _TOKEN_IN_URL.sub(r"\1***", message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info:  # exception text (requests' messages carry the URL)
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = _TOKEN_IN_URL.sub(r"\1***", text), None
        return True


_URL_LOGGERS = ("urllib3.connection", "urllib3.connectionpool", "urllib3.response", "requests")

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
    mask = MaskTokens()
    for handler in root.handlers:
        handler.addFilter(mask)
    for name in _URL_LOGGERS:  # also where the records are made, whatever handlers come later
        logging.getLogger(name).addFilter(mask)
