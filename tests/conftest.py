"""Shared fixtures: real loopback servers standing in for Logz.io and OCI, the real `oci`
SDK pointed at them, and resource-principal credentials the real SDK signer accepts.

Nothing of ours is mocked; `tests/fakes` holds the servers.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.oci_auth import object_storage_client, sdk_config
from hypothesis import settings

# As the function and the command do (auditship.logs.configure_logging): urllib3 logs
# request URLs, with the test token in them, at DEBUG; keep that out of captured logs.
logging.getLogger("urllib3").setLevel(logging.WARNING)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # auditgen, the shared record generator

# No per-example time limit: speed is the benchmark's business, and a loaded CI machine
# must not turn a slow example into a failure.
settings.register_profile("default", deadline=None)
settings.load_profile("default")

SAMPLE = ROOT / "tests" / "data" / "sample-connector-object.log.gz"


@pytest.fixture(autouse=True, scope="session")
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The operator command keeps progress of local files under $XDG_STATE_HOME: in tests
    (and the subprocesses they start), a folder of the test run's own."""
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state-home"))
    yield
    if saved is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = saved


NAMESPACE = "testns"
BUCKET = "audit-bucket"
TOKEN = "test-token"


@pytest.fixture
def listener() -> Iterator[FakeLogzioListener]:
    with FakeLogzioListener(tokens={TOKEN}, hang_seconds=3.0) as fake:
        yield fake
    assert not fake.errors, fake.errors


@pytest.fixture
def object_storage() -> Iterator[FakeObjectStorage]:
    with FakeObjectStorage(namespace=NAMESPACE) as fake:
        yield fake
    assert not fake.errors, fake.errors


@pytest.fixture
def os_client(object_storage: FakeObjectStorage):  # type: ignore[no-untyped-def]
    return object_storage_client(object_storage.url)


def _rpst(tenancy: str, compartment: str) -> str:
    now = int(time.time())
    claims = {
        "iat": now,
        "exp": now + 3600,
        "res_tenant": tenancy,
        "res_compartment": compartment,
        "res_type": "fnfunc",
        "sub": "ocid1.fnfunc.oc1..test",
    }
    # The SDK reads the session token's claims without verifying its signature (the
    # service does that); an unsigned token is enough for a loopback endpoint.
    return jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]


@pytest.fixture
def resource_principal(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment the OCI Functions runtime gives a function (resource principal v2.2)."""
    cfg = sdk_config()
    env = {
        "OCI_RESOURCE_PRINCIPAL_VERSION": "2.2",
        "OCI_RESOURCE_PRINCIPAL_RPST": _rpst(cfg["tenancy"], "ocid1.compartment.oc1..test"),
        "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM": cfg["key_file"],
        "OCI_RESOURCE_PRINCIPAL_REGION": "us-ashburn-1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def oci_config_file(tmp_path: Path) -> Path:
    """An OCI CLI config file for the operator command, with a throw-away key."""
    cfg = sdk_config()
    path = tmp_path / "oci-config"
    path.write_text(
        "[DEFAULT]\n"
        f"user={cfg['user']}\nfingerprint={cfg['fingerprint']}\n"
        f"tenancy={cfg['tenancy']}\nregion={cfg['region']}\nkey_file={cfg['key_file']}\n"
    )
    os.chmod(path, 0o600)
    return path
