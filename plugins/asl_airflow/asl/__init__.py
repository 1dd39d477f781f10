"""The Amazon States Language in pure Python: definitions, semantics, the reference interpreter.

Imports neither Airflow nor boto3, so everything here runs (and is tested) in milliseconds.
"""

from asl_airflow.asl.definition import Definition, load_definition
from asl_airflow.asl.errors import AslError, AslValidationError, ExecutionFailed
from asl_airflow.asl.interpreter import ExecutionResult, Interpreter

__all__ = [
    "AslError",
    "AslValidationError",
    "Definition",
    "ExecutionFailed",
    "ExecutionResult",
    "Interpreter",
    "load_definition",
]
