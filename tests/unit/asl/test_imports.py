"""The language package never pulls in Airflow or boto3 (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import asl_airflow.asl
from asl_airflow.asl import Interpreter
doc = {"StartAt": "P", "QueryLanguage": "JSONata", "States": {
    "P": {"Type": "Pass", "Output": "{% $states.input %}", "Next": "W"},
    "W": {"Type": "Wait", "Seconds": 0, "End": True}}}
assert Interpreter(doc, sleep=lambda s: None).execute({"a": 1}).status == "SUCCEEDED"
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("airflow", "boto3", "botocore"))
print(",".join(heavy))
"""


def test_asl_imports_neither_airflow_nor_boto3() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
