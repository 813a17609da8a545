"""Each function folder deploys on its own: what fn's Docker build sees is the folder alone
(after `scripts/vendor_core.py`) with its requirements.txt installed into a fresh
environment. Build exactly that and run the handler there through fdk's fixtures, against
loopback Object Storage and Logz.io / Logging endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import BUCKET, NAMESPACE, ROOT, SAMPLE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.logging_ingestion import FakeLoggingIngestion

pytestmark = pytest.mark.slow

DRIVER = r"""
import asyncio, io, json, sys
from datetime import datetime, timedelta, timezone
from fdk import fixtures
sys.path.insert(0, ".")
import func
payload = sys.stdin.buffer.read()
deadline = (datetime.now(timezone.utc) + timedelta(seconds=60)).isoformat()
call = asyncio.run(fixtures.setup_fn_call(func.handler, content=io.BytesIO(payload),
                                          deadline=deadline))
content, status, headers = asyncio.run(call)
print(json.dumps({"status": status, "content": content if isinstance(content, str)
                  else content.decode()}))
"""


def build(folder: str, tmp: Path) -> tuple[Path, Path]:
    """Vendor the core into a copy of the folder and create a fresh venv from its
    requirements.txt. Returns (function dir, python executable)."""
    fn_dir = tmp / folder
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_core.py"),
         str(ROOT / "functions" / folder), "--out", str(fn_dir)],
        check=True, timeout=60,
    )  # fmt: skip
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(fn_dir / "requirements.txt")],
        check=True, timeout=900,
    )  # fmt: skip
    # The Dockerfile's extra step: compile the C fast path with that environment's Python.
    subprocess.run(
        [str(python), str(fn_dir / "auditship" / "native" / "build.py")], check=True, timeout=300
    )
    return fn_dir, python


@pytest.fixture(scope="module")
def logzio_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build("logzio-shipper", tmp_path_factory.mktemp("logzio"))


@pytest.fixture(scope="module")
def logging_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build("oci-logging-shipper", tmp_path_factory.mktemp("logging"))


def run_driver(fn_dir: Path, python: Path, env: dict[str, str], payload: dict) -> dict:  # type: ignore[type-arg]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOGZIO_", "OCI_"))}
    clean.pop("PYTHONPATH", None)
    clean.update(env)
    proc = subprocess.run(
        [str(python), "-c", DRIVER],
        input=json.dumps(payload).encode(),
        cwd=fn_dir,
        env=clean,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout.decode().splitlines()[-1])


def test_folder_alone_contains_the_core_and_nothing_from_the_checkout(
    logzio_build: tuple[Path, Path],
) -> None:
    fn_dir, python = logzio_build
    assert (fn_dir / "auditship" / "pipeline.py").is_file()
    out = subprocess.run(
        [str(python), "-c", "import auditship, sys; print(auditship.__file__)"],
        cwd=fn_dir, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert str(fn_dir) in out.stdout.decode()
    # fn builds it from the Dockerfile vendor_core wrote, which compiles the fast path there
    assert (fn_dir / "Dockerfile").read_text().count("auditship/native/build.py") == 1
    assert "runtime: docker" in (fn_dir / "func.yaml").read_text()


def test_extensions_built_in_the_checkout_are_not_vendored(tmp_path: Path) -> None:
    assert list((ROOT / "functions" / "auditship").glob("_fastprep*.so")), "pip install -e ."
    out = tmp_path / "fn"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_core.py"),
         str(ROOT / "functions" / "logzio-shipper"), "--out", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    assert (out / "auditship" / "native" / "fastprep.c").is_file()
    assert not list(out.rglob("*.so"))


def test_the_fast_path_builds_and_loads_in_the_folder(logzio_build: tuple[Path, Path]) -> None:
    fn_dir, python = logzio_build
    out = subprocess.run(
        [str(python), "-c", "from auditship import fastpath; print(fastpath.AVAILABLE)"],
        cwd=fn_dir, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert out.stdout.decode().strip() == "True"


def test_logzio_function_runs_from_its_own_folder(
    logzio_build: tuple[Path, Path],
    resource_principal: dict[str, str],
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
) -> None:
    fn_dir, python = logzio_build
    name = "audit/pkg.log.gz"
    object_storage.put(NAMESPACE, BUCKET, name, SAMPLE.read_bytes())
    env = {
        **resource_principal,
        "OCI_OBJECTSTORAGE_ENDPOINT": object_storage.url,
        "LOGZIO_URL": listener.url,
        "LOGZIO_TOKEN": TOKEN,
    }
    result = run_driver(fn_dir, python, env, {"object": f"oci://{NAMESPACE}/{BUCKET}/{name}"})
    assert result["status"] == 200, result
    assert json.loads(result["content"])["shipped"] == 200
    assert len(listener.accepted) == 200


def test_logging_function_runs_from_its_own_folder(
    logging_build: tuple[Path, Path],
    resource_principal: dict[str, str],
    object_storage: FakeObjectStorage,
) -> None:
    fn_dir, python = logging_build
    name = "audit/pkg.log.gz"
    object_storage.put(NAMESPACE, BUCKET, name, SAMPLE.read_bytes())
    log_id = "ocid1.log.oc1..pkg"
    with FakeLoggingIngestion({log_id}) as ingestion:
        env = {
            **resource_principal,
            "OCI_OBJECTSTORAGE_ENDPOINT": object_storage.url,
            "OCI_LOGGING_INGESTION_ENDPOINT": ingestion.url,
            "OCI_LOG_ID": log_id,
        }
        result = run_driver(fn_dir, python, env, {"object": f"oci://{NAMESPACE}/{BUCKET}/{name}"})
        assert result["status"] == 200, result
        assert len(ingestion.entries(log_id)) == 200
