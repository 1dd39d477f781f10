"""asl-airflow: run AWS Step Functions state machines (Amazon States Language) on Apache Airflow.

The public names below are imported lazily, so ``import asl_airflow`` (and the local engine for a
machine without Task states) imports neither Airflow nor boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from asl_airflow.airflow.builders import AslTaskGroup, asl_dag  # noqa: F401
    from asl_airflow.asl import AslError, AslValidationError, Definition, load_definition  # noqa: F401
    from asl_airflow.runner import run, test_state  # noqa: F401

_LAZY = {
    "load_definition": "asl_airflow.asl",
    "Definition": "asl_airflow.asl",
    "AslError": "asl_airflow.asl",
    "AslValidationError": "asl_airflow.asl",
    "run": "asl_airflow.runner",
    "test_state": "asl_airflow.runner",
    "asl_dag": "asl_airflow.airflow.builders",
    "AslTaskGroup": "asl_airflow.airflow.builders",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'asl_airflow' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
