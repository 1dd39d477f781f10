"""A pytest plugin for testing state machines (entry point ``pytest11``: active once installed).

Fixtures:

- ``asl_run``: run a machine once, ``asl_run(definition, input, mock_config=..., test_case=...)``,
  on the engine ``--asl-engine`` chooses (``local`` by default; ``airflow`` compiles it to a DAG and
  runs it with ``dag.test()``), with waiting fast-forwarded (``time_scale=0`` unless given). It
  returns an :class:`AslExecution` to assert on: ``status``, ``output``, ``states_entered``,
  ``state_output(name)``, ``state_input(name)``, ``events(type)``.
- ``asl_test_state``: :func:`asl_airflow.test_state`, one state as AWS's TestState runs it.
- ``asl_engine``: the engine chosen on the command line.

Nothing here imports Airflow unless a test runs on the Airflow engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("asl-airflow", "state machine tests (asl-airflow)")
    group.addoption("--asl-engine", choices=["local", "airflow"], default="local",
                    help="the engine asl_run uses: the reference interpreter (local) or a compiled DAG (airflow)")


@dataclass
class AslExecution:
    """One execution's result, with the questions tests ask of its history."""

    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def states_entered(self) -> list[str]:
        """The names of the states entered, in order (nested ones included)."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if "stateEnteredEventDetails" in e]

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.history if type_ is None or e["type"] == type_]

    def _details(self, key: str, name: str, occurrence: int) -> dict[str, Any]:
        found = [e[key] for e in self.history if key in e and e[key].get("name") == name]
        if len(found) <= occurrence:
            raise AssertionError(f"state {name!r} was not {'entered' if 'Entered' in key else 'exited'} "
                                 f"{occurrence + 1} time(s); states entered: {self.states_entered}")
        return found[occurrence]

    def state_input(self, name: str, occurrence: int = 0) -> Any:
        return json.loads(self._details("stateEnteredEventDetails", name, occurrence)["input"])

    def state_output(self, name: str, occurrence: int = 0) -> Any:
        return json.loads(self._details("stateExitedEventDetails", name, occurrence)["output"])


@pytest.fixture
def asl_engine(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--asl-engine", default="local"))


@pytest.fixture
def asl_run(asl_engine: str) -> Callable[..., AslExecution]:
    from asl_airflow.runner import run

    def _run(definition: str | Path | dict[str, Any], input: Any = None, *,  # noqa: A002 - AWS's name
             engine: str | None = None, time_scale: float | None = 0, **kwargs: Any) -> AslExecution:
        result = run(definition, input, engine=engine or asl_engine, history=True, time_scale=time_scale, **kwargs)
        return AslExecution(result["status"], result["output"], result["error"], result["cause"],
                            result.get("history") or [])

    return _run


@pytest.fixture
def asl_test_state() -> Callable[..., dict[str, Any]]:
    from asl_airflow.runner import test_state

    return test_state
