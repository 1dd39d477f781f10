"""Mocked service integrations in Step Functions Local's ``MockConfigFile`` format.

A mock configuration names, per state machine and test case, which Task states answer with a
mocked response instead of calling their service::

    {"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<state name>": "<response name>"}}}},
     "MockedResponses": {"<response name>": {"0": {"Return": ...}, "1-2": {"Throw": {"Error", "Cause"}}}}}

The keys of a mocked response count the state's invocations in one execution, from 0 (a retry is
another invocation; so is the same state entered again in a loop or in another Map iteration). An
invocation past the last key gets the last response again, so a one-response mock answers every
Map iteration. ``Return`` is the service's result (for ``.sync``, the finished job's; for
``.waitForTaskToken``, the output the callback brings), ``Throw`` the error the Task fails with,
so Retry and Catch apply as to a real failure. A Task the test case does not name calls its
service as usual. Pure Python, like the rest of ``asl``: the engines wire :class:`MockedInvoker`
(local) or :func:`answer` (Airflow tasks) in.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asl_airflow.asl import errors
from asl_airflow.asl.definition import json_pointer
from asl_airflow.asl.errors import AslValidationError

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class MockedResponse:
    """One mocked response: ``(first, last, kind, value)`` rows sorted by invocation."""

    name: str
    rows: tuple[tuple[int, int, str, Any], ...]

    def for_invocation(self, invocation: int) -> tuple[str, Any]:
        for first, last, kind, value in self.rows:
            if first <= invocation <= last:
                return kind, value
        return self.rows[-1][2], self.rows[-1][3]


@dataclass
class MockCase:
    """The mocked states of one test case, and how often each was invoked so far."""

    state_machine: str
    test_case: str
    states: dict[str, MockedResponse]
    _calls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mocks(self, state_name: str) -> bool:
        return state_name in self.states

    def next_invocation(self, state_name: str) -> int:
        """The number of this invocation of ``state_name`` (0 first), counted across the execution."""
        with self._lock:
            number = self._calls.get(state_name, 0)
            self._calls[state_name] = number + 1
            return number

    def answer(self, state_name: str, invocation: int | None = None) -> Any:
        """The mocked result of this invocation, or the mocked error raised as an AslError."""
        if invocation is None:
            invocation = self.next_invocation(state_name)
        kind, value = self.states[state_name].for_invocation(invocation)
        if kind == "Throw":
            raise errors.AslError(value.get("Error"), value.get("Cause"))
        return json.loads(json.dumps(value))  # a fresh copy: states may not change the configuration


class MockedInvoker:
    """An interpreter invoker answering the test case's mocked states, the rest through ``fallback``."""

    def __init__(self, case: MockCase, fallback: Any = None) -> None:
        self.case = case
        self.fallback = fallback

    def __call__(self, resource: str, parameters: Any, state: dict[str, Any], env: Any) -> Any:
        if self.case.mocks(env.state_name):
            if resource.endswith((".sync", ".sync:2", ".waitForTaskToken")):
                env.submitted = {}  # the job or callback counts as submitted, as Step Functions Local records it
            return self.case.answer(env.state_name)
        if self.fallback is None:
            raise errors.AslError(errors.RUNTIME, f"State {env.state_name!r} calls {resource!r}, which test case "
                                  f"{self.case.test_case!r} does not mock, and no AWS endpoint is configured")
        return self.fallback(resource, parameters, state, env)


class MockConfig:
    """A validated mock configuration file."""

    def __init__(self, document: dict[str, Any], source: str = "<mock config>") -> None:
        self.document = document
        self.source = source
        problems = self._problems()
        if problems:
            raise AslValidationError(problems)

    @classmethod
    def load(cls, path_or_dict: str | Path | dict[str, Any]) -> MockConfig:
        if isinstance(path_or_dict, dict):
            return cls(path_or_dict)
        source = str(path_or_dict)
        try:
            document = json.loads(Path(path_or_dict).read_text(encoding="utf-8"))
        except OSError as exc:
            raise AslValidationError([f"{source}: cannot read the mock configuration: {exc.strerror or exc}"]) \
                from None
        except (ValueError, RecursionError) as exc:
            raise AslValidationError([f"{source}: the mock configuration is not valid JSON: {exc}"]) from None
        if not isinstance(document, dict):
            raise AslValidationError([f"{source}:/: a mock configuration must be a JSON object"])
        return cls(document, source)

    def _problems(self) -> list[str]:
        out: list[str] = []
        where = self.source
        machines = self.document.get("StateMachines", {})
        responses = self.document.get("MockedResponses", {})
        if not isinstance(machines, dict):
            return [f"{where}:/StateMachines: must be an object"]
        if not isinstance(responses, dict):
            return [f"{where}:/MockedResponses: must be an object"]
        for name, response in responses.items():
            here = json_pointer("MockedResponses", name)
            if not isinstance(response, dict) or not response:
                out.append(f"{where}:{here}: a mocked response is an object of invocation numbers")
                continue
            for key, body in response.items():
                match = _RANGE.match(key)
                at = f"{where}:{json_pointer('MockedResponses', name, key)}"
                if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
                    out.append(f"{at}: the key must be an invocation number or a range such as \"1-2\"")
                if not isinstance(body, dict) or len(set(body) & {"Return", "Throw"}) != 1 or \
                        set(body) - {"Return", "Throw"}:
                    out.append(f"{at}: a response has exactly one of Return or Throw")
                elif "Throw" in body and (not isinstance(body["Throw"], dict) or
                                          not isinstance(body["Throw"].get("Error"), str)):
                    out.append(f"{at}/Throw: needs an Error (string) and may have a Cause")
        for machine, spec in machines.items():
            cases = spec.get("TestCases") if isinstance(spec, dict) else None
            if not isinstance(cases, dict):
                out.append(f"{where}:{json_pointer('StateMachines', machine)}: needs a TestCases object")
                continue
            for case, mapping in cases.items():
                if not isinstance(mapping, dict):
                    out.append(f"{where}:{json_pointer('StateMachines', machine, 'TestCases', case)}: must map state "
                               "names to mocked response names")
                    continue
                for state, response_name in mapping.items():
                    if response_name not in responses:
                        out.append(f"{where}:{json_pointer('StateMachines', machine, 'TestCases', case, state)}: no "
                                   f"mocked response named {response_name!r}")
        return out

    def _response(self, name: str) -> MockedResponse:
        rows = []
        for key, body in self.document["MockedResponses"][name].items():
            match = _RANGE.match(key)
            assert match is not None  # checked in _problems
            first = int(match.group(1))
            last = int(match.group(2) or first)
            kind = "Return" if "Return" in body else "Throw"
            rows.append((first, last, kind, body[kind]))
        return MockedResponse(name, tuple(sorted(rows)))

    def case(self, state_machine: str, test_case: str) -> MockCase:
        """The test case's mocked states; a clear error naming what exists when it is not there."""
        machines = self.document.get("StateMachines", {})
        if state_machine not in machines:
            known = ", ".join(sorted(machines)) or "none"
            raise AslValidationError([f"{self.source}:{json_pointer('StateMachines', state_machine)}: no state machine "
                                      f"{state_machine!r} in the mock configuration (it has: {known})"])
        cases = machines[state_machine]["TestCases"]
        if test_case not in cases:
            known = ", ".join(sorted(cases)) or "none"
            where = json_pointer("StateMachines", state_machine, "TestCases", test_case)
            raise AslValidationError([f"{self.source}:{where}: no test case {test_case!r} (it has: {known})"])
        return MockCase(state_machine, test_case,
                        {state: self._response(name) for state, name in cases[test_case].items()})


def state_machine_name(path: str | Path) -> str:
    """The default state machine name of a definition file: its name without ``.asl.json`` (Step
    Functions Local's convention of naming the machine in the mock file after the definition)."""
    name = Path(path).name
    for suffix in (".asl.json", ".asl.yaml", ".asl.yml", ".json", ".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


__all__ = ["MockCase", "MockConfig", "MockedInvoker", "MockedResponse", "state_machine_name"]
