"""The operator command, run as a user runs it: a subprocess of scripts/ship.py."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import BUCKET, NAMESPACE, ROOT, SAMPLE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.logging_ingestion import FakeLoggingIngestion

SHIP = [sys.executable, str(ROOT / "scripts" / "ship.py")]


def ship(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[
    int, bytes, dict[str, Any] | None, str
]:  # fmt: skip
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGZIO_", "OCI_"))}
    full_env.update(env or {})
    proc = subprocess.run(
        [*SHIP, *args], capture_output=True, env=full_env, cwd=cwd, timeout=120, check=False
    )
    err = proc.stderr.decode()
    lines = [line for line in err.splitlines() if line.startswith("{")]
    summary = json.loads(lines[-1]) if lines else None
    return proc.returncode, proc.stdout, summary, err


def test_sample_to_stdout_prints_normalized_ndjson(tmp_path: Path) -> None:
    code, out, summary, _ = ship(str(SAMPLE), cwd=tmp_path)
    assert code == 0
    assert summary is not None
    assert summary["records"] == summary["shipped"] == 200
    assert summary["rejected"] == 0
    lines = out.splitlines()
    assert len(lines) == 200
    first = json.loads(lines[0])
    assert first["type"] == "oci-audit"
    assert first["@timestamp"] == first["time"]
    assert first["data"]["identity"]["credentials"] == "[REDACTED]"


def test_rejected_records_go_to_a_local_dead_letter_folder_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"a":1}{"b":,}\n{"c":3}\n')
    dlq = tmp_path / "dlq"
    code, _, summary, _ = ship(str(bad), "--dead-letter-dir", str(dlq), cwd=tmp_path)
    assert code == 1
    assert summary is not None
    assert (summary["shipped"], summary["rejected"]) == (2, 1)
    [letter_file] = list((tmp_path / "dlq").glob("*.ndjson"))
    letter = json.loads(letter_file.read_text())
    assert letter["object"] == str(bad)
    assert letter["offset"] == 7
    assert letter["raw"] == '{"b":,}'


def test_to_logzio_with_token_from_the_environment(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    code, out, _, err = ship(
        str(SAMPLE),
        "--to",
        "logzio",
        env={"LOGZIO_URL": listener.url, "LOGZIO_TOKEN": TOKEN},
        cwd=tmp_path,
    )
    assert code == 0, err
    assert out == b""
    assert len(listener.accepted) == 200
    assert TOKEN not in err


def test_wrong_token_exits_2_without_printing_it(tmp_path: Path) -> None:
    with FakeLogzioListener(tokens={"right"}) as strict:
        code, _, summary, err = ship(
            str(SAMPLE), "--to", "logzio", "--logzio-url", strict.url,
            "--logzio-token", "wrong-secret-value", cwd=tmp_path,
        )  # fmt: skip
    assert code == 2
    assert summary is not None
    assert summary["complete"] is False
    assert "wrong-secret-value" not in err


def test_missing_token_is_a_usage_error(tmp_path: Path) -> None:
    code, _, _, err = ship(str(SAMPLE), "--to", "logzio", cwd=tmp_path)
    assert code == 3
    assert "LOGZIO_TOKEN" in err


def test_oci_prefix_source_with_config_file_and_endpoint_override(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    oci_config_file: Path,
    tmp_path: Path,
) -> None:
    for i in range(2):
        object_storage.put(NAMESPACE, BUCKET, f"audit/{i}.log.gz", SAMPLE.read_bytes())
    args = [
        f"oci://{NAMESPACE}/{BUCKET}/audit/",
        "--to", "logzio", "--logzio-url", listener.url, "--logzio-token", TOKEN,
        "--config-file", str(oci_config_file),
        "--objectstorage-endpoint", object_storage.url,
    ]  # fmt: skip
    code, _, summary, err = ship(*args, cwd=tmp_path)
    assert code == 0, err
    assert summary is not None
    assert summary["objects"] == 2
    assert summary["shipped"] == 400
    # safe to run twice: the ledger in the bucket says both objects are done
    code, _, again, err = ship(*args, cwd=tmp_path)
    assert code == 0, err
    assert again is not None
    assert again["shipped"] == 0
    assert len(listener.accepted) == 400


def test_to_oci_logging(
    object_storage: FakeObjectStorage, oci_config_file: Path, tmp_path: Path
) -> None:
    log_id = "ocid1.log.oc1..cli"
    plain = tmp_path / "plain.json"
    plain.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    with FakeLoggingIngestion({log_id}) as ingestion:
        code, _, summary, err = ship(
            str(plain), "--to", "oci-logging", "--log-id", log_id,
            "--config-file", str(oci_config_file), "--logging-endpoint", ingestion.url,
            cwd=tmp_path,
        )  # fmt: skip
        assert code == 0, err
        assert summary is not None
        assert summary["shipped"] == len(ingestion.entries(log_id)) == 200
