"""Fake OCI Functions: management (GetFunction) and invoke endpoints on one real HTTP/1.1 server.

Point `oci.functions.FunctionsManagementClient` and `oci.functions.FunctionsInvokeClient` at
`fake.url` (`service_endpoint=`); a Function's `invokeEndpoint` is `fake.url` too, so code that
builds its invoke client from the function (as the SDK docs recommend) lands here as well.

API version: the installed SDK (oci 2.189.0) uses the base path `/20260325` for both clients;
older SDKs, the fn CLI and the API reference most pages link to use `/20181201`. Both are
served, each with its own Function shape:

* `GET /{version}/functions/{functionId}` (GetFunction) -> Function JSON: `id`, `displayName`,
  `applicationId`, `compartmentId`, `lifecycleState` (ACTIVE unless configured), `shape`,
  `memoryInMBs`, `config`, `timeoutInSeconds`, `invokeEndpoint` (= `fake.url`),
  `freeformTags`, `definedTags`, `timeCreated`, `timeUpdated`, and the image: as top-level
  `image` / `imageDigest` under `/20181201`; under `/20260325` (whose Function model has no
  `image` field) as `sourceDetails: {"sourceType": "CONTAINER_IMAGE", "image", "imageDigest"}`
  plus `detachedModeTimeoutInSeconds`.
* `POST /{version}/functions/{functionId}/actions/invoke` (InvokeFunction), headers as the SDK
  sends them: `fn-invoke-type` (`sync` default | `detached`), `fn-intent` (`httprequest` |
  `cloudevent`, optional), `is-dry-run` (`true`: nothing runs). The body (at most 6 MB, the
  documented limit; larger -> 413) is handed to the function as bytes.
  - detached: 202 Accepted with an empty body (Oracle's "Invoking Functions" page: sync
    invocations answer 200 with the result, detached ones an HTTP status as soon as processing
    has begun; 202 is what Fn, which OCI Functions runs, answers for a detached call). The
    invocation is recorded, and `runner(function_id, body)` (if given) runs on a background
    thread; its exceptions go to `run_errors`; `wait_idle(timeout)` waits for all runs.
  - sync: `runner(function_id, body)` runs inline and its return value (bytes, str or None) is
    the 200 body (`application/octet-stream`); an exception in it -> 502
    FunctionInvokeExecutionFailed (and `run_errors`). Without a runner: 200, empty body.
  Both carry `opc-request-id` and `fn-call-id` (Fn's per-call id, also in the record).

Checks, in order: no `authorization` header -> 401 NotAuthenticated (the signature itself is not
verified); unknown path -> 404 NotFound; unknown function -> 404 NotAuthorizedOrNotFound; bad
`fn-invoke-type` / `fn-intent` / `is-dry-run` -> 400 InvalidParameter. Errors are OCI's JSON
`{"code": ..., "message": ...}`.

Scripted actions (`script([...])`, see `fakes`): `429`, `(429, {"retry-after": "1"})`, `500`,
`"reset"`, `"timeout"`, `("trickle", s)`, `"ok"` - consumed one per request before the checks.
Records: `requests` (FunctionsRequest, every request), `invocations` (Invocation, every
accepted invoke, in arrival order), `run_errors` (RunError).
"""

from __future__ import annotations

import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from . import OCI_ERROR_CODES, FakeHandler, FakeHTTPServer, OciError, not_authenticated

__all__ = ["FakeFunctions", "FunctionsRequest", "Invocation", "RunError"]

API_VERSIONS = ("20181201", "20260325")
_GET_PATH = re.compile(r"^/(20181201|20260325)/functions/([^/]+)$")
_INVOKE_PATH = re.compile(r"^/(20181201|20260325)/functions/([^/]+)/actions/invoke$")
MAX_INVOKE_BYTES = 6 * 1024 * 1024

#: Called with (function_id, body bytes); sync invocations answer its return value.
Runner = Callable[[str, bytes], "bytes | str | None"]

_CODES = {**OCI_ERROR_CODES, 502: "FunctionInvokeExecutionFailed"}


@dataclass
class FunctionsRequest:
    """One request as the fake saw it (the authorization header is never stored)."""

    method: str
    path: str
    operation: str | None = None  #: "GetFunction" | "InvokeFunction" | None (unknown path)
    function_id: str | None = None
    api_version: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body_length: int = 0
    signed: bool = False  #: an `authorization` header was present
    status: int | None = None  #: None when the connection was reset
    code: str | None = None
    action: str = "ok"


@dataclass(frozen=True)
class Invocation:
    """One accepted InvokeFunction call."""

    function_id: str
    invoke_type: str  #: "sync" | "detached"
    intent: str | None
    body: bytes = field(repr=False)
    dry_run: bool
    call_id: str
    request_id: str
    api_version: str
    received: datetime


@dataclass(frozen=True)
class RunError:
    """An exception raised by the runner."""

    function_id: str
    invoke_type: str
    call_id: str
    error: BaseException
    traceback: str


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _not_found() -> OciError:
    return OciError(
        404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found."
    )


class _FunctionsHandler(FakeHandler):
    owner: FakeFunctions  # type: ignore[assignment]

    def do_POST(self) -> None:
        owner = self.owner
        body = self.read_body()
        action = owner._next_action()
        path = unquote(urlsplit(self.path).path)
        request_id = self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        rec = FunctionsRequest(
            self.command,
            path,
            headers={k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
            body_length=len(body),
            signed=bool(self.headers.get("authorization")),
            action=action.describe(),
        )
        if action.kind == "trickle":
            self.trickle(action)
            return
        if action.kind == "reset":
            owner._record(rec)
            self.reset_connection()
            return
        if action.kind == "status":
            assert action.status is not None
            self._error(
                rec, request_id, action.status, "Scripted failure", action.headers, action.body
            )
            return
        if action.kind == "timeout":
            self.hang(action)
            if owner.hang_status is not None:
                self._error(rec, request_id, owner.hang_status, "Scripted failure")
                return
        try:
            status, payload, content_type, headers = owner._handle(rec, body, request_id)
        except OciError as exc:
            self._error(rec, request_id, exc.status, exc.message, code=exc.code)
            return
        rec.status = status
        owner._record(rec)
        self.send_simple(
            status,
            payload,
            content_type=content_type,
            headers={"opc-request-id": request_id, **headers},
        )

    do_GET = do_POST
    do_PUT = do_POST
    do_DELETE = do_POST

    def _error(
        self,
        rec: FunctionsRequest,
        request_id: str,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        code: str | None = None,
    ) -> None:
        rec.status = status
        rec.code = code or _CODES.get(status, "Error")
        self.owner._record(rec)
        self.send_oci_error(status, rec.code, message, request_id, headers, body)


class FakeFunctions(FakeHTTPServer):
    """Fake OCI Functions management + invoke endpoints. See the module docstring.

    Args:
        functions: the functions that exist - a list of OCIDs, or a mapping OCID -> dict of
            Function wire fields overriding the defaults (`displayName`, `applicationId`,
            `compartmentId`, `lifecycleState`, `memoryInMBs`, `timeoutInSeconds`, `image`,
            `config`, ...).
        runner: `runner(function_id, body_bytes)`, called on a background thread for detached
            invocations and inline for sync ones (whose 200 body is its return value).
        max_invoke_bytes: the largest invoke body accepted (default 6 MB, as documented).
        hang_seconds / hang_status / host: see `fakes.FakeHTTPServer`.

    Attributes: `url`, `functions` (OCID -> overrides), `requests`, `invocations`,
    `run_errors`, `runs_started`, `runs_finished`, `connections`, `errors`.
    Methods: `start()`, `stop()`, context manager, `script([...])`, `function_json(id)`,
    `wait_idle(timeout)`, `wait_for_invocations(n, timeout)`, `clear()`.
    """

    handler_class: ClassVar[type[FakeHandler]] = _FunctionsHandler

    def __init__(
        self,
        functions: Mapping[str, Mapping[str, Any]] | Iterable[str] = (),
        *,
        runner: Runner | None = None,
        max_invoke_bytes: int = MAX_INVOKE_BYTES,
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        if isinstance(functions, Mapping):
            self.functions: dict[str, dict[str, Any]] = {k: dict(v) for k, v in functions.items()}
        else:
            self.functions = {k: {} for k in functions}
        self.runner = runner
        self.max_invoke_bytes = max_invoke_bytes
        self.requests: list[FunctionsRequest] = []
        self.invocations: list[Invocation] = []
        self.run_errors: list[RunError] = []
        self.runs_started = 0
        self.runs_finished = 0
        self._created = datetime(2024, 1, 1, tzinfo=UTC)

    # -- public helpers ------------------------------------------------------------------------
    def function_json(self, function_id: str, api_version: str = "20260325") -> dict[str, Any]:
        """The Function JSON GetFunction answers (KeyError for an unknown function)."""
        overrides = dict(self.functions[function_id])
        image = overrides.pop("image", f"iad.ocir.io/acme/audit/{function_id[-8:]}:0.0.1")
        digest = overrides.pop(
            "imageDigest", "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, function_id).hex * 2
        )
        doc: dict[str, Any] = {
            "id": function_id,
            "displayName": function_id.rsplit(".", 1)[-1][-16:],
            "lifecycleState": "ACTIVE",
            "applicationId": "ocid1.fnapp.oc1.iad.aaaaaaaafakeapplication",
            "compartmentId": "ocid1.compartment.oc1..aaaaaaaafakecompartment",
            "shape": "GENERIC_X86",
            "memoryInMBs": 256,
            "config": {},
            "timeoutInSeconds": 300,
            "invokeEndpoint": self.url,
            "freeformTags": {},
            "definedTags": {},
            "timeCreated": _rfc3339(self._created),
            "timeUpdated": _rfc3339(self._created),
        }
        if api_version == "20181201":
            doc["image"] = image
            doc["imageDigest"] = digest
        else:
            doc["sourceDetails"] = {
                "sourceType": "CONTAINER_IMAGE",
                "image": image,
                "imageDigest": digest,
            }
            doc["detachedModeTimeoutInSeconds"] = 300
        doc.update(overrides)
        return doc

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every background run has finished; False on timeout."""
        return self._wait(lambda: self.runs_finished >= self.runs_started, timeout)

    def wait_for_invocations(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least `n` invocations were accepted."""
        return self._wait(lambda: len(self.invocations) >= n, timeout)

    def clear(self) -> None:
        """Forget requests, invocations and run errors (functions and script are kept)."""
        with self._lock:
            self.requests.clear()
            self.invocations.clear()
            self.run_errors.clear()

    # -- internals -----------------------------------------------------------------------------
    def _record(self, rec: FunctionsRequest) -> None:
        with self._lock:
            self.requests.append(rec)
        self._notify()

    def _handle(
        self, rec: FunctionsRequest, body: bytes, request_id: str
    ) -> tuple[int, bytes, str | None, dict[str, str]]:
        if not rec.signed:
            raise not_authenticated()
        if (match := _GET_PATH.match(rec.path)) and rec.method == "GET":
            rec.operation = "GetFunction"
            rec.api_version, rec.function_id = match.group(1), match.group(2)
            if rec.function_id not in self.functions:
                raise _not_found()
            doc = self.function_json(rec.function_id, rec.api_version)
            return 200, json.dumps(doc).encode(), "application/json", {}
        if (match := _INVOKE_PATH.match(rec.path)) and rec.method == "POST":
            rec.operation = "InvokeFunction"
            rec.api_version, rec.function_id = match.group(1), match.group(2)
            return self._invoke(rec, body, request_id)
        raise OciError(404, "NotFound", "Unknown resource")

    def _invoke(
        self, rec: FunctionsRequest, body: bytes, request_id: str
    ) -> tuple[int, bytes, str | None, dict[str, str]]:
        function_id = rec.function_id or ""
        if function_id not in self.functions:
            raise _not_found()
        invoke_type = rec.headers.get("fn-invoke-type", "sync")
        if invoke_type not in ("sync", "detached"):
            raise OciError(400, "InvalidParameter", "fn-invoke-type must be sync or detached")
        intent = rec.headers.get("fn-intent")
        if intent is not None and intent not in ("httprequest", "cloudevent"):
            raise OciError(400, "InvalidParameter", "fn-intent must be httprequest or cloudevent")
        dry_raw = rec.headers.get("is-dry-run", "false").lower()
        if dry_raw not in ("true", "false"):
            raise OciError(400, "InvalidParameter", "is-dry-run must be true or false")
        if len(body) > self.max_invoke_bytes:
            raise OciError(
                413,
                "RequestEntityTooLarge",
                f"Request body of {len(body)} bytes exceeds {self.max_invoke_bytes} bytes",
            )
        call_id = uuid.uuid4().hex.upper()[:26]
        invocation = Invocation(
            function_id=function_id,
            invoke_type=invoke_type,
            intent=intent,
            body=body,
            dry_run=dry_raw == "true",
            call_id=call_id,
            request_id=request_id,
            api_version=rec.api_version or "",
            received=datetime.now(UTC),
        )
        with self._lock:
            self.invocations.append(invocation)
        self._notify()
        headers = {"fn-call-id": call_id}
        runner = self.runner
        if invoke_type == "detached":
            if runner is not None and not invocation.dry_run:
                with self._lock:
                    self.runs_started += 1
                threading.Thread(
                    target=self._run_detached,
                    args=(runner, invocation),
                    name=f"FakeFunctions-run-{call_id}",
                    daemon=True,
                ).start()
            return 202, b"", None, headers
        if runner is None or invocation.dry_run:
            return 200, b"", None, headers
        try:
            result = runner(function_id, body)
        except Exception as exc:
            self._run_failed(invocation, exc)
            raise OciError(
                502, "FunctionInvokeExecutionFailed", f"function failed: {exc!r}"
            ) from None
        if isinstance(result, str):
            result = result.encode()
        return 200, result or b"", "application/octet-stream", headers

    def _run_detached(self, runner: Runner, invocation: Invocation) -> None:
        try:
            runner(invocation.function_id, invocation.body)
        except BaseException as exc:
            self._run_failed(invocation, exc)
        finally:
            with self._lock:
                self.runs_finished += 1
            self._notify()

    def _run_failed(self, invocation: Invocation, exc: BaseException) -> None:
        with self._lock:
            self.run_errors.append(
                RunError(
                    function_id=invocation.function_id,
                    invoke_type=invocation.invoke_type,
                    call_id=invocation.call_id,
                    error=exc,
                    traceback="".join(traceback.format_exception(exc)),
                )
            )
