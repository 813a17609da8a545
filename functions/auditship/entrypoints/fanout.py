"""Detached invocations of the running function by itself: how the Audit API backfill
and the reconciliation sweep fan out (`entrypoints/collector.py`, `entrypoints/sweeping.py`).

`DetachedInvoker` looks the function's own invoke endpoint up on first use (from the fdk
context's FnID; most runs invoke nothing) and sends each payload with
`fn-invoke-type: detached`: one request of at most INVOKE_SECONDS, retried on 429, 5xx and
network errors by the deadline-aware retry, never past the deadline's margin.
"""

from __future__ import annotations

from typing import Any

from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.errors import ConfigError, SourceError
from auditship.retry import SMALL_OBJECT_POLICY, call_with_retry, is_transient_status
from auditship.sources.api_requests import TransientApiError
from auditship.timeouts import bounded

INVOKE_SECONDS = 10.0  # one detached invocation request


class DetachedInvoker:
    def __init__(self, ctx: Any, clients: Any, settings: Settings, deadline: Deadline) -> None:
        get_id = getattr(ctx, "FnID", None)
        self.function_id = str(get_id() or "") if callable(get_id) else ""
        self._clients = clients
        self._settings = settings
        self._deadline = deadline
        self._invoker: Any = None

    def require_id(self) -> None:
        """Raise ConfigError when the function's own OCID is unknown (before any work)."""
        if not self.function_id:
            raise ConfigError("the function's own OCID is unknown (fdk context without FnID)")

    def __call__(self, payload: bytes) -> None:
        self.require_id()
        if self._invoker is None:
            self._invoker = self._clients.invoke(self._invoke_endpoint())
        invoker, function_id = self._invoker, self.function_id

        def attempt(budget: float) -> None:
            import oci

            from auditship.retry import retry_after_in

            try:
                with bounded(min(INVOKE_SECONDS, budget)):
                    invoker.invoke_function(
                        function_id, invoke_function_body=payload, fn_invoke_type="detached"
                    )
            except oci.exceptions.ServiceError as exc:
                if is_transient_status(exc.status):
                    raise TransientApiError(
                        f"HTTP {exc.status}", retry_after_in(exc.headers)
                    ) from None
                raise SourceError(
                    f"invoking the function failed with HTTP {exc.status} {exc.code}"
                ) from None
            except Exception as exc:
                raise TransientApiError(type(exc).__name__) from None

        call_with_retry(  # raises RetriesExhaustedError (an AuditShipError) when it gives up
            attempt, retry_on=(TransientApiError,), deadline=self._deadline,
            margin=self._settings.deadline_margin_seconds / 2,
            policy=SMALL_OBJECT_POLICY, what="a detached invocation",
        )  # fmt: skip

    def _invoke_endpoint(self) -> str:
        import oci

        try:
            function = self._clients.functions.get_function(self.function_id).data
        except oci.exceptions.ServiceError as exc:
            raise SourceError(
                f"looking up this function's invoke endpoint failed with HTTP {exc.status} "
                f"{exc.code}"
            ) from None
        except Exception as exc:  # network errors: their text can hold URLs
            raise SourceError(
                f"looking up this function's invoke endpoint failed ({type(exc).__name__})"
            ) from None
        return str(function.invoke_endpoint)
