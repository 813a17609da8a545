"""Fake OCI Vault Secrets retrieval API on 127.0.0.1, for the real `oci.secrets.SecretsClient`.

`GET /20190301/secretbundles/{secretId}` answers the current version of a secret set with
`set_secret(ocid, text)` as a BASE64 secret bundle; unknown secrets get 404
NotAuthorizedOrNotFound and unsigned requests 401, as the service does. `.reads` counts
successful reads (to check that the token is cached, not fetched per call).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, ClassVar

from . import FakeHandler, FakeHTTPServer

_PATH = re.compile(r"^/20190301/secretbundles/([^/?]+)")


class _SecretsHandler(FakeHandler):
    owner: FakeVaultSecrets  # type: ignore[assignment]

    def do_GET(self) -> None:
        owner = self.owner
        action = owner._next_action()
        if action.kind == "status":
            assert action.status is not None
            self._error(action.status, "Scripted", "scripted failure")
            return
        if not self.headers.get("authorization"):
            self._error(401, "NotAuthenticated", "missing signature")
            return
        match = _PATH.match(self.path)
        secret = owner.secrets.get(match.group(1)) if match else None
        if secret is None:
            self._error(404, "NotAuthorizedOrNotFound", "secret not found")
            return
        owner.reads += 1
        body: dict[str, Any] = {
            "secretId": match.group(1) if match else "",
            "versionNumber": 1,
            "stages": ["CURRENT", "LATEST"],
            "secretBundleContent": {
                "contentType": "BASE64",
                "content": base64.b64encode(secret.encode()).decode(),
            },
        }
        self.send_simple(200, json.dumps(body).encode(), content_type="application/json")

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"code": code, "message": message}).encode()
        self.send_simple(status, body, content_type="application/json")


class FakeVaultSecrets(FakeHTTPServer):
    handler_class: ClassVar[type[FakeHandler]] = _SecretsHandler

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secrets: dict[str, str] = {}
        self.reads = 0

    def set_secret(self, ocid: str, text: str) -> None:
        self.secrets[ocid] = text
