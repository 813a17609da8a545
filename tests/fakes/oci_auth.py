"""Point the REAL ``oci`` SDK at a fake server.

* :func:`sdk_config` - a complete, *valid* SDK config dict (region ``us-ashburn-1``, syntactically
  valid tenancy/user OCIDs, the real fingerprint of a throw-away RSA key, ``key_file`` AND
  ``key_content``) - passes ``oci.config.validate_config`` and ``oci.signer.Signer.from_config``.
* :func:`make_test_signer` - a real ``oci.signer.Signer`` over that key (requests get a genuine
  ``authorization: Signature version="1",keyId=...`` header; the fakes only check presence).
* :func:`make_client` / :func:`object_storage_client` - build any SDK client with
  ``service_endpoint=<fake url>``, SDK retries OFF (``oci.retry.NoneRetryStrategy()``) and the
  circuit breaker OFF (``oci.circuit_breaker.NoCircuitBreakerStrategy()``) so tests see faults
  directly.

The key (2048-bit RSA) is generated once per process and written to a private temp file that is
removed at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import tempfile
from typing import Any, TypeVar

import oci
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "TEST_REGION",
    "TEST_TENANCY",
    "TEST_USER",
    "make_client",
    "make_test_signer",
    "object_storage_client",
    "sdk_config",
]

TEST_REGION = "us-ashburn-1"
TEST_TENANCY = "ocid1.tenancy.oc1..aaaaaaaatesttenancy"
TEST_USER = "ocid1.user.oc1..aaaaaaaatestuser"
#: (connect, read) seconds - short so a hung fake fails a test quickly (SDK default is (10, 60)).
DEFAULT_TIMEOUT = (5.0, 30.0)

ClientT = TypeVar("ClientT")


@functools.cache
def _key_material() -> tuple[str, str, str]:
    """(PEM private key, fingerprint, key file path) for a throw-away RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.md5(der, usedforsecurity=False).hexdigest()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    fd, path = tempfile.mkstemp(prefix="oci-test-key-", suffix=".pem")
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
    os.chmod(path, 0o600)
    atexit.register(_remove, path)
    return pem, fingerprint, path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def sdk_config(**overrides: Any) -> dict[str, Any]:
    """A fresh, valid OCI SDK config dict; ``overrides`` replace/add keys (e.g. ``region=``)."""
    pem, fingerprint, path = _key_material()
    config: dict[str, Any] = {
        "user": TEST_USER,
        "tenancy": TEST_TENANCY,
        "fingerprint": fingerprint,
        "key_file": path,
        "key_content": pem,
        "region": TEST_REGION,
    }
    config.update(overrides)
    return config


def make_test_signer() -> oci.signer.Signer:
    """A real API-key ``oci.signer.Signer`` for the throw-away key (signs every request)."""
    config = sdk_config()
    return oci.signer.Signer(
        tenancy=config["tenancy"],
        user=config["user"],
        fingerprint=config["fingerprint"],
        private_key_file_location=config["key_file"],
        private_key_content=config["key_content"],
    )


def make_client(client_cls: type[ClientT], endpoint: str, **kwargs: Any) -> ClientT:
    """Build ``client_cls(config, service_endpoint=endpoint, signer=..., ...)`` for a fake.

    Defaults (each overridable through ``kwargs``): ``signer=make_test_signer()``,
    ``retry_strategy=oci.retry.NoneRetryStrategy()``,
    ``circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy()``,
    ``timeout=DEFAULT_TIMEOUT``. Works for e.g. ``oci.loggingingestion.LoggingClient``.
    """
    kwargs.setdefault("signer", make_test_signer())
    kwargs.setdefault("retry_strategy", oci.retry.NoneRetryStrategy())
    kwargs.setdefault("circuit_breaker_strategy", oci.circuit_breaker.NoCircuitBreakerStrategy())
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    config = kwargs.pop("config", None) or sdk_config()
    return client_cls(config, service_endpoint=endpoint, **kwargs)  # type: ignore[call-arg]


def object_storage_client(endpoint: str, **kwargs: Any) -> oci.object_storage.ObjectStorageClient:
    """An ``ObjectStorageClient`` talking to ``endpoint`` (e.g. ``FakeObjectStorage().url``)."""
    return make_client(oci.object_storage.ObjectStorageClient, endpoint, **kwargs)
