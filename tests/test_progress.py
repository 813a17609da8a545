"""Progress is saved while running and on the way down: a run killed with kill -9 repeats
at most the work since its last checkpoint, SIGTERM and Ctrl-C stop it cleanly (progress
saved, lease released, summary printed, no traceback), and a local file resumes like an
object in a bucket. The operator command runs as a user runs it: a subprocess."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from auditgen import records, render
from auditship.state.ledger import LEASE_SECONDS
from conftest import ROOT, TOKEN
from fakes import FakeLogzioListener

SHIP = [sys.executable, str(ROOT / "scripts" / "ship.py")]
RECORDS = 400
BATCH_BYTES = 16 * 1024  # ~7 records a batch: ~60 batches
SLOW = ("timeout", 0.15)  # each answer comes after 0.15 s (then the batch is accepted)


def make_file(tmp_path: Path) -> tuple[Path, list[str]]:
    import random

    gen = records(seed=5)
    recs = [next(gen) for _ in range(RECORDS)]
    path = tmp_path / "object.log.gz"
    path.write_bytes(gzip.compress(render(recs, "connector", random.Random(5))))
    return path, [r["id"] for r in recs]


def start(
    path: Path, listener: FakeLogzioListener, tmp_path: Path, *more: str
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGZIO_", "OCI_"))}
    env.update(
        LOGZIO_URL=listener.url,
        LOGZIO_TOKEN=TOKEN,
        LOGZIO_MAX_BATCH_BYTES=str(BATCH_BYTES),
        CHECKPOINT_SECONDS="0.3",
        WORKERS="1",
    )
    return subprocess.Popen(
        [*SHIP, str(path), "--to", "logzio", "--state-dir", str(tmp_path / "state"),
         "--dead-letter-dir", str(tmp_path / "dlq"), "--progress", "never", *more],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_for_accepted(listener: FakeLogzioListener, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(listener.accepted) < count:
        assert time.monotonic() < deadline, "the run did not get going"
        time.sleep(0.02)


def summary_of(stderr: bytes) -> dict[str, Any]:
    lines = [line for line in stderr.decode().splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def state_files(tmp_path: Path, suffix: str) -> list[Path]:
    return sorted((tmp_path / "state").glob(f"**/*.{suffix}"))


def test_kill_9_repeats_at_most_the_work_since_the_last_checkpoint(tmp_path: Path) -> None:
    path, ids = make_file(tmp_path)
    with FakeLogzioListener(tokens={TOKEN}) as listener:
        listener.script([SLOW] * 200)
        run = start(path, listener, tmp_path)
        wait_for_accepted(listener, RECORDS // 2)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        time.sleep(0.5)  # a request in flight when it died is still answered (and taken)
        delivered_before = len(listener.accepted)
        [progress] = state_files(tmp_path, "progress")
        checkpoint = orjson.loads(progress.read_bytes())["handled_through"]
        # the killed run's lease is stale at once: its process is gone
        again = start(path, listener, tmp_path)
        _, err = again.communicate(timeout=120)
        assert again.returncode == 0, err.decode()
        assert summary_of(err)["skipped"] == checkpoint
    delivered = [r["id"] for r in listener.accepted]
    counts = Counter(delivered)
    assert set(delivered) == set(ids), "nothing lost"
    repeated = sum(n - 1 for n in counts.values())
    # only what was delivered after the last checkpoint (0.3 s of work, plus the batches
    # in flight) is sent again
    assert 0 < checkpoint <= delivered_before
    assert repeated == delivered_before - checkpoint
    assert repeated < RECORDS // 4
    assert state_files(tmp_path, "progress") == []  # done: nothing kept


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_cleanly_and_a_rerun_resumes_without_repeats(
    tmp_path: Path, stop: signal.Signals
) -> None:
    path, ids = make_file(tmp_path)
    with FakeLogzioListener(tokens={TOKEN}) as listener:
        listener.script([SLOW] * 200)
        run = start(path, listener, tmp_path)
        wait_for_accepted(listener, RECORDS // 3)
        run.send_signal(stop)
        _, err = run.communicate(timeout=60)
        # THEN exit 2 (run again to resume), the summary, no traceback, lease released
        assert run.returncode == 2, err.decode()
        assert b"Traceback" not in err
        summary = summary_of(err)
        assert summary["complete"] is False
        assert any("signal" in e for e in summary["errors"]), summary["errors"]
        assert state_files(tmp_path, "lease") == []
        assert len(state_files(tmp_path, "progress")) == 1
        # AND a re-run sends the rest, nothing twice
        again = start(path, listener, tmp_path)
        _, err = again.communicate(timeout=120)
        assert again.returncode == 0, err.decode()
    delivered = [r["id"] for r in listener.accepted]
    assert sorted(delivered) == sorted(ids)


def test_a_live_run_holds_its_file_and_force_takes_it_over(tmp_path: Path) -> None:
    path, ids = make_file(tmp_path)
    with FakeLogzioListener(tokens={TOKEN}) as listener:
        listener.script([SLOW] * 200)
        first = start(path, listener, tmp_path)
        wait_for_accepted(listener, 20)
        # a lease lasts LEASE_SECONDS from its last renewal, not an hour (a dead holder's
        # is stale two minutes later at most)
        [lease] = state_files(tmp_path, "lease")
        expires = orjson.loads(lease.read_bytes())["expires"]
        assert expires - time.time() <= LEASE_SECONDS + 1
        # GIVEN a run holding the file's lease: another one is refused
        second = start(path, listener, tmp_path)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert "another invocation is shipping this object" in err.decode()
        # WHEN --force asks for it, it takes the lease over, with a warning, and ships it
        forced = start(path, listener, tmp_path, "--force")
        _, err = forced.communicate(timeout=120)
        assert forced.returncode == 0, err.decode()
        assert "taking over the lease" in err.decode()
        # THEN the first run finds another holder at its next lease renewal (or ends first)
        # and stops without writing a marker over the new holder's
        _, err = first.communicate(timeout=120)
        assert first.returncode in (0, 2)
    assert set(ids) <= {r["id"] for r in listener.accepted}
