"""The CLI and ``asl_airflow.run`` on bad arguments and refused inputs: one clear line, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import asl_airflow
import pytest
from asl_airflow import cli
from asl_airflow.asl.errors import InvalidExecutionInput

MACHINE = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    path = tmp_path / "m.asl.json"
    path.write_text(json.dumps(MACHINE))
    return path


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("value", ["X", "=v"])
def test_subst_without_a_name_and_equals_is_a_usage_error(capsys, machine, value):
    for command in (["validate", str(machine)], ["compile", str(machine), "--dag-id", "d"]):
        code, _, err = _main(capsys, *command, "--subst", value)
        assert code == 2 and "--subst expects NAME=VALUE" in err and "Traceback" not in err


def test_parse_substitutions_keeps_everything_after_the_first_equals():
    assert cli.parse_substitutions(["a=b=c", "e="]) == {"a": "b=c", "e": ""}
    assert cli.parse_substitutions(None) == {}


@pytest.mark.parametrize(("value", "message"), [
    ("@/no/such/file.json", "cannot read"), ("NaN", "not valid JSON"), ("[1e400]", "out of range"),
    ("{not json", "not valid JSON"), ("[" * 1000 + "]" * 1000, "nested"),
])
def test_bad_input_is_a_usage_error(capsys, machine, value, message):
    code, out, err = _main(capsys, "run", str(machine), "--input", value)
    assert code == 2 and message in err and out == "" and "Traceback" not in err


def test_input_over_256_kib_is_refused_as_start_execution_does(capsys, machine, tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"s": "x" * 262_144}))
    code, out, err = _main(capsys, "run", str(machine), "--input", f"@{big}")
    assert code == 2 and out == ""
    assert err.startswith("ValidationException: 1 validation error detected: Value at 'input' failed")


def test_run_refuses_before_anything_runs_on_either_engine(machine):
    for engine in ("local", "airflow"):  # the airflow engine would start a child process: it must not get there
        with pytest.raises(InvalidExecutionInput):
            asl_airflow.run(machine, {"s": "x" * 300_000}, engine=engine)
        with pytest.raises(InvalidExecutionInput):
            asl_airflow.run(machine, {"v": float("nan")}, engine=engine)


def test_timed_out_runs_print_aws_status(tmp_path):
    path = tmp_path / "t.asl.json"
    path.write_text(json.dumps({"TimeoutSeconds": 1, "StartAt": "W",
                                "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}))
    proc = subprocess.run([sys.executable, "-m", "asl_airflow.cli", "run", str(path), "--compact"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["status"] == "TIMED_OUT"
    assert json.loads(proc.stdout)["error"] == "States.Timeout"
