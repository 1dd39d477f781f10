"""Mocked service integrations on a deployed DAG (Step Functions Local's MockConfigFile format).

Set ``[asl_airflow] mock_config`` (the file) and ``mock_test_case`` (and, when the file names the
machine otherwise than the definition, ``mock_state_machine``): every Task of the test case then
answers with its mocked response instead of calling AWS, in a dev deployment as under
``asl-airflow run --engine airflow --mock-config ...``. Retry and Catch apply to a mocked ``Throw``
exactly as to a real failure. DAGs whose machine the file does not name run unmocked, so one file
can mock a few DAGs of a deployment. The invocation number a response is chosen by is counted per task
instance in ``task_state_store`` (a retry is the next invocation; each Map item counts its own).
"""

from __future__ import annotations

import functools
from typing import Any

from asl_airflow.asl.mocking import MockCase, MockConfig, MockedInvoker

_CALLS = "asl_mock_invocations"


@functools.cache
def _config() -> tuple[MockConfig | None, str | None, str | None]:
    """The configured mock file, test case and machine name; read once per process."""
    import json

    from airflow.sdk.configuration import conf

    inline = conf.get("asl_airflow", "mock_config_json", fallback="") or ""
    path = conf.get("asl_airflow", "mock_config", fallback="") or ""
    case = conf.get("asl_airflow", "mock_test_case", fallback="") or None
    machine = conf.get("asl_airflow", "mock_state_machine", fallback="") or None
    if inline:
        return MockConfig(json.loads(inline), "[asl_airflow] mock_config_json"), case, machine
    if path:
        return MockConfig.load(path), case, machine
    return None, case, machine


def mock_case(state_machine_name: str) -> MockCase | None:
    """This machine's mocked test case, or None when mocking is not configured for it.

    A deployment holds many DAGs and the file usually names a few: a machine the file does not name
    runs unmocked (Step Functions Local too mocks only the executions started with a test case), unless
    ``mock_state_machine`` maps every DAG to one machine of the file. A machine the file names whose
    test case is missing is an error that names what the file has."""
    config, case, machine = _config()
    if config is None or case is None:
        return None
    if machine is None and state_machine_name not in config.document.get("StateMachines", {}):
        return None
    return config.case(machine or state_machine_name, case)


class MockedEntry:
    """Stands in for a mocked Task's integration entry: no service call, no deferral."""

    resume = None
    mocked = True  # the operator records TaskSubmitted for a mocked .sync / .waitForTaskToken Task

    def __init__(self, case: MockCase, state_name: str) -> None:
        self.case = case
        self.state_name = state_name

    def start(self, call: Any, context: Any) -> Any:
        store = context["task_state_store"]
        invocation = int(store.get(_CALLS) or 0)
        store.set(_CALLS, invocation + 1)
        return self.case.answer(self.state_name, invocation)


def mocked(state_machine_name: str, state_name: str, entry: Any) -> Any:
    """``entry``, or the mock that replaces it when this state is mocked."""
    case = mock_case(state_machine_name)
    if case is not None and case.mocks(state_name):
        return MockedEntry(case, state_name)
    return entry


def mocked_invoker(state_machine_name: str, invoker: Any) -> Any:
    """An interpreter invoker (loop regions, Map lanes) answering the mocked states first."""
    case = mock_case(state_machine_name)
    return invoker if case is None else MockedInvoker(case, invoker)
