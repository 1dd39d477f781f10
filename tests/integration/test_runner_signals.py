"""``asl-airflow run --engine airflow`` stopped by a signal leaves no ``dags test`` behind (issue 9 item 8)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MACHINE = {"StartAt": "Long wait", "States": {"Long wait": {"Type": "Wait", "Seconds": 300, "End": True}}}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_stops_its_dags_test_child(tmp_path, signum):
    machine = tmp_path / "wait.asl.json"
    machine.write_text(json.dumps(MACHINE))
    proc = subprocess.Popen([sys.executable, "-m", "asl_airflow.cli", "run", str(machine), "--engine", "airflow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        child = None
        while child is None and time.monotonic() < deadline and proc.poll() is None:
            child = next((c for c in _children(proc.pid)
                          if b"_dags-test" in Path(f"/proc/{c}/cmdline").read_bytes()), None)
            time.sleep(0.2)
        assert child is not None, proc.stderr.read().decode()[-3000:] if proc.poll() is not None else "no child"
        time.sleep(3)  # the child is inside dag.test(), its Wait deferred
        proc.send_signal(signum)
        proc.wait(timeout=60)
        assert proc.returncode != 0
        time.sleep(0.5)
        assert not _alive(child), f"dags test child {child} still runs"
        with pytest.raises(ProcessLookupError):
            os.killpg(child, 0)  # nothing of its process group is left either
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
