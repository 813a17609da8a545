"""Install the stand-in OCI provider into a throwaway filesystem mirror.

Layout (Terraform's "unpacked" mirror)::

    <root>/mirror/registry.terraform.io/oracle/oci/<version>/<os_arch>/terraform-provider-oci_v<v>
    <root>/terraformrc      provider_installation: oracle/oci from the mirror only
    <root>/schema.json      written by schema_gen

``terraform_env`` returns the environment for running terraform against it: the CLI config
above, checkpoint (update check) disabled, no plugin cache, automation mode.  Nothing is
written outside ``root``.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from . import schema_gen

SERVER = Path(__file__).with_name("server.py")


@dataclass(frozen=True)
class StubInstall:
    root: Path
    schema: Path
    cli_config: Path
    version: str

    def terraform_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        for var in ("TF_PLUGIN_CACHE_DIR", "TF_CLI_ARGS", "TF_REATTACH_PROVIDERS"):
            env.pop(var, None)
        env.update(
            {
                "TF_CLI_CONFIG_FILE": str(self.cli_config),
                "CHECKPOINT_DISABLE": "1",
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "NO_COLOR": "1",
            }
        )
        return env


def _platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return f"{sys.platform}_{arch}"


def install(
    root: Path,
    resources: set[str],
    data_sources: set[str],
    python: str = sys.executable,
) -> StubInstall:
    """Generate the schema subset and lay out mirror + CLI config under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    doc = schema_gen.generate(resources, data_sources)
    version = doc["x_provider_version"]
    schema = root / "schema.json"
    schema.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")

    plugin_dir = root / "mirror" / "registry.terraform.io/oracle/oci" / version / _platform()
    plugin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = plugin_dir / f"terraform-provider-oci_v{version}"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# Offline stand-in for the OCI provider; see tests/infra/provider_stub/server.py\n"
        f"exec {shlex.quote(python)} {shlex.quote(str(SERVER))} {shlex.quote(str(schema))}\n",
        encoding="utf-8",
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    cli_config = root / "terraformrc"
    mirror = str(root / "mirror").replace("\\", "/")
    cli_config.write_text(
        "disable_checkpoint = true\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/oracle/oci"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/oracle/oci"]\n'
        "  }\n"
        "}\n",
        encoding="utf-8",
    )
    return StubInstall(root=root, schema=schema, cli_config=cli_config, version=version)
