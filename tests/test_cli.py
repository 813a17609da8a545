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


def test_a_file_saved_with_a_byte_order_mark_ships_every_record(tmp_path: Path) -> None:
    # GIVEN an NDJSON export saved by an editor that writes a UTF-8 BOM, and a gzip object
    # whose members each start with one
    records = [{"id": str(i), "time": "2026-11-01T00:00:00.000Z"} for i in range(3)]
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    plain = tmp_path / "export.json"
    plain.write_bytes(b"\xef\xbb\xbf" + lines)
    members = tmp_path / "members.log.gz"
    members.write_bytes(b"".join(gzip.compress(b"\xef\xbb\xbf" + lines) for _ in range(2)))
    for path, count in ((plain, 3), (members, 6)):
        # WHEN it is shipped THEN every record arrives and nothing is dead-lettered
        code, out, summary, _ = ship(str(path), cwd=tmp_path)
        assert code == 0, summary
        assert summary is not None
        assert (summary["shipped"], summary["rejected"]) == (count, 0)
        assert len(out.splitlines()) == count


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


def test_bad_usage_exits_3_as_documented(tmp_path: Path) -> None:
    for args in ((), (str(SAMPLE), "--to", "nowhere"), (str(SAMPLE), "--workers", "many")):
        code, _, _, err = ship(*args, cwd=tmp_path)
        assert code == 3, (args, err)
        assert "usage: oci-audit-ship" in err


def test_a_broken_oci_config_is_one_line_and_exit_3(tmp_path: Path) -> None:
    # GIVEN config files with no such file, no such profile, and a key file that is missing
    config = tmp_path / "config"
    config.write_text(
        "[DEFAULT]\nuser=ocid1.user.oc1..u\nfingerprint=aa:bb\n"
        "tenancy=ocid1.tenancy.oc1..t\nregion=us-ashburn-1\nkey_file=/nonexistent/key.pem\n"
    )
    cases = [
        (str(tmp_path / "missing"), "DEFAULT", "ConfigFileNotFound"),
        (str(config), "OTHER", "ProfileNotFound"),
        (str(config), "DEFAULT", "key_file"),
    ]
    for path, profile, expected in cases:
        source = f"oci://{NAMESPACE}/{BUCKET}/x.log.gz"
        code, _, _, err = ship(source, "--config-file", path, "--profile", profile, cwd=tmp_path)
        # THEN one line naming the problem, exit 3, no traceback
        assert code == 3, err
        assert "Traceback" not in err
        [line] = err.strip().splitlines()
        assert line.startswith("oci-audit-ship: OCI config file")
        assert expected in line


def test_standard_input_is_a_source(tmp_path: Path) -> None:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGZIO_", "OCI_"))}
    proc = subprocess.run(
        [*SHIP, "-"], input=SAMPLE.read_bytes(), capture_output=True, env=full_env,
        cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.splitlines()) == 200
    summary = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert summary["shipped"] == 200


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


def test_dead_letters_can_be_shipped_again(listener: FakeLogzioListener, tmp_path: Path) -> None:
    """Records Logz.io would not take (here: lines over a low LOGZIO_MAX_LINE_BYTES) and
    bytes that are not JSON are dead-lettered; once the cause is gone, `--dead-letters`
    ships the records from the dead letters; bytes that are not JSON are not replayed and
    stay in their part."""
    source = tmp_path / "mixed.json"
    small = [{"time": "2026-11-22T00:00:00Z", "n": i} for i in range(3)]
    big = [{"time": "2026-11-22T00:00:00Z", "pad": "x" * 400, "n": i} for i in range(4)]
    body = b"\n".join(json.dumps(r).encode() for r in small + big) + b"\n{oops}\n"
    source.write_bytes(body)
    env = {"LOGZIO_URL": listener.url, "LOGZIO_TOKEN": TOKEN}
    dlq = tmp_path / "dlq"
    code, _, summary, err = ship(
        str(source), "--to", "logzio", "--dead-letter-dir", str(dlq),
        env={**env, "LOGZIO_MAX_LINE_BYTES": "256"}, cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, err
    assert summary is not None
    assert (summary["shipped"], summary["rejected"]) == (3, 5)
    letters = sorted(str(p) for p in dlq.glob("*.ndjson"))
    assert letters

    again = tmp_path / "dlq-again"
    code, _, summary, err = ship(
        *letters, "--dead-letters", "--to", "logzio", "--dead-letter-dir", str(again),
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert summary is not None
    assert (summary["records"], summary["shipped"], summary["rejected"]) == (4, 4, 0)
    assert [r["n"] for r in listener.accepted if "pad" not in r] == [0, 1, 2]
    assert [r["n"] for r in listener.accepted if "pad" in r] == [0, 1, 2, 3]
    assert "1 letters not replayed" in err  # `{oops}`, still in its part
    assert summary["errors"] == [
        "1 dead letters not replayed: bytes that were not JSON or could not be decompressed "
        "stay in their parts"
    ]
    assert not list(again.glob("*.ndjson"))


def test_a_file_that_is_not_dead_letters_is_refused(tmp_path: Path) -> None:
    code, _, summary, _ = ship(str(SAMPLE), "--dead-letters", cwd=tmp_path)
    assert code == 2
    assert summary is not None
    assert "is not a dead letter" in " ".join(summary["errors"])


def test_dead_letters_in_the_bucket_are_replayed_once(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    oci_config_file: Path,
    tmp_path: Path,
) -> None:
    """A prefix of dead letters in the bucket: their records ship, the done markers make a
    second replay ship nothing, and bytes that were not JSON stay in their part."""
    letters = b"".join(
        json.dumps({"object": "audit/a.gz", "offset": i, "index": i, "stage": "sink",
                    "reason": "HTTP 413", "raw": json.dumps({"time": "t", "n": i})}).encode()
        + b"\n"
        for i in range(3)
    ) + json.dumps({"object": "audit/a.gz", "offset": 9, "index": 3, "stage": "repair",
                    "reason": "invalid JSON", "raw": "{oops}"}).encode()  # fmt: skip
    object_storage.put(NAMESPACE, BUCKET, "dead-letter/audit/a.gz/run-0000.ndjson", letters)
    args = [
        f"oci://{NAMESPACE}/{BUCKET}/dead-letter/", "--dead-letters",
        "--to", "logzio", "--logzio-url", listener.url, "--logzio-token", TOKEN,
        "--config-file", str(oci_config_file),
        "--objectstorage-endpoint", object_storage.url,
    ]  # fmt: skip
    code, _, summary, err = ship(*args, cwd=tmp_path)
    assert code == 0, err
    assert summary is not None
    assert (summary["objects"], summary["shipped"], summary["rejected"]) == (1, 3, 0)
    assert [r["n"] for r in listener.accepted] == [0, 1, 2]
    assert "1 letters not replayed" in err
    assert not object_storage.names(NAMESPACE, BUCKET, "dead-letter/dead-letter/")
    part = object_storage.get(NAMESPACE, BUCKET, "dead-letter/audit/a.gz/run-0000.ndjson")
    assert part == letters  # untouched
    code, _, summary, err = ship(*args, cwd=tmp_path)
    assert summary is not None
    assert summary["shipped"] == 0, err  # done markers: each part is replayed once
    assert len(listener.accepted) == 3
