"""Error hierarchy. The type decides what happens: retry, dead-letter, or fail the call.

Messages name the object and byte offset where one is known. No message ever carries a
token or other secret: sinks build their own messages from status codes and counts only.
"""

from __future__ import annotations


class AuditShipError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(AuditShipError):
    """Configuration is missing or invalid; names every bad key at once."""


class PayloadError(AuditShipError):
    """The invocation payload is neither an Object-Create event nor a replay request."""


class SourceError(AuditShipError):
    """The object could not be read (not found, permission, network after retries)."""


class ObjectGoneError(SourceError):
    """The object no longer exists (deleted before it was shipped): a final outcome, not a
    failure to retry."""


class DecodeError(AuditShipError):
    """The object's bytes could not be decompressed past `offset` (compressed bytes)."""

    def __init__(self, object_name: str, offset: int, reason: str) -> None:
        self.object_name = object_name
        self.offset = offset
        self.reason = reason
        super().__init__(f"{object_name}: cannot decode at compressed byte {offset}: {reason}")


class SinkError(AuditShipError):
    """A batch could not be delivered."""


class RetryableSinkError(SinkError):
    """Worth another attempt (429, 5xx, timeout, connection error).

    `retry_after` is the server's requested delay in seconds, when it named one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentSinkError(SinkError):
    """Retrying the same batch cannot help (e.g. a 400 or 413); the batch is dead-lettered."""


class CredentialsRejectedError(SinkError):
    """The sink refused our credentials (401/403). Fails the whole call fast: nothing else
    will get through, and the object stays unprocessed so a later replay can finish it."""


class DeadlineExceededError(AuditShipError):
    """The function's remaining time ran out before the object was fully handled."""
