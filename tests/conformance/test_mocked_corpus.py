"""Mocked service integrations on the public corpus: LocalStack's ``local_mocking`` executions.

Each execution there was recorded against real AWS services (AWS-validated snapshot). We turn what
each Task's service answered, invocation by invocation, into a Step Functions Local mock
configuration, run the template with it on the local engine (no AWS, no endpoint) and require
AWS's status, output or error/cause, and the history's event types. The template of a recording
is found among the corpus templates by the states it entered and the resources it scheduled; the
recording must be reproduced by one of them. ``ASL_MOCKED_AIRFLOW=1`` also runs each on the
Airflow engine (``dag.test()`` in a child process, ~15 s each).
"""

from __future__ import annotations

import json
import os
from typing import Any

import asl_corpus as corpus
import pytest
from asl_airflow.asl.history import loads_detail
from asl_airflow.runner import run

SNAPSHOTS = [f"tests/aws/services/stepfunctions/v2/local_mocking/test_base_{name}.snapshot.json"
             for name in ("scenarios", "callbacks")]


def _machines(machine: dict[str, Any], acc: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for name, state in (machine.get("States") or {}).items():
        acc[name] = state
        for branch in state.get("Branches") or []:
            _machines(branch, acc)
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                _machines(state[key], acc)
    return acc


def recordings() -> list[tuple[str, dict[str, Any]]]:
    if not corpus.available():
        return []
    out = []
    for path in SNAPSHOTS:
        snap = json.loads((corpus.CORPUS / path).read_text())
        validated = json.loads((corpus.CORPUS / path.replace("snapshot", "validation")).read_text())
        for key, value in snap.items():
            if key not in validated:
                continue
            for part in value["recorded-content"].values():
                if isinstance(part, dict) and isinstance(part.get("events"), list):
                    out.append((key.split("::")[-1], part))
    return out


def mock_config(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What each state's service answered, in order, as a MockConfigFile test case ``recorded``."""
    answers: dict[str, list[dict[str, Any]]] = {}
    by_id = {event["id"]: event for event in events if isinstance(event.get("id"), int)}
    open_tasks = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"]

    def state_of(event: dict[str, Any]) -> str:
        """Follow previousEventId back to the state entered; where the snapshot redacted the ids of
        concurrent branches, the n-th answer belongs to the n-th Task entered."""
        if not isinstance(event.get("id"), int):
            return open_tasks.pop(0)
        while "stateEnteredEventDetails" not in event:
            event = by_id[event["previousEventId"]]
        return event["stateEnteredEventDetails"]["name"]

    for event in events:
        for kind in ("task", "lambdaFunction"):
            succeeded = event.get(f"{kind}SucceededEventDetails")
            failed = event.get(f"{kind}FailedEventDetails")
            if succeeded is not None:
                answers.setdefault(state_of(event), []).append({"Return": loads_detail(succeeded.get("output"))})
            if failed is not None:
                throw = {"Error": failed.get("error", "")}
                if "cause" in failed:
                    throw["Cause"] = failed["cause"]
                answers.setdefault(state_of(event), []).append({"Throw": throw})
    responses = {f"R_{name}": {str(i): answer for i, answer in enumerate(seq)} for name, seq in answers.items()}
    return {"StateMachines": {"M": {"TestCases": {"recorded": {n: f"R_{n}" for n in answers}}}},
            "MockedResponses": responses}


def _scheduled_resources(events: list[dict[str, Any]]) -> dict[str, str]:
    """State name -> the Resource ARN the recording scheduled (to fill a template's placeholder)."""
    out: dict[str, str] = {}
    current = ""
    for event in events:
        if "stateEnteredEventDetails" in event:
            current = event["stateEnteredEventDetails"]["name"]
        lam = event.get("lambdaFunctionScheduledEventDetails")
        task = event.get("taskScheduledEventDetails")
        if lam:
            out[current] = lam["resource"].replace("<partition>", "aws").replace("<region>", "us-east-1")
        elif task:
            out[current] = f"arn:aws:states:::{task['resourceType']}:{task['resource']}"
    return out


def candidates(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    entered = {e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e}
    scheduled = _scheduled_resources(events)
    templates = corpus._load()[1]
    out = []
    for path, doc in sorted(templates.items()):
        if not (isinstance(doc, dict) and "States" in doc and entered <= set(_machines(doc, {}))):
            continue
        doc = json.loads(json.dumps(doc))
        for name, state in _machines(doc, {}).items():
            if state.get("Resource") in ("__tbd__", "_tbd_") and name in scheduled:
                state["Resource"] = scheduled[name]  # the test filled it in with what it created
        out.append((path, doc))
    return out


def expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    last = events[-1]
    out: dict[str, Any] = {"types": [e["type"] for e in events]}
    if last["type"] == "ExecutionSucceeded":
        out.update(status="SUCCEEDED", output=loads_detail(last["executionSucceededEventDetails"].get("output")))
    else:
        details = last.get("executionFailedEventDetails") or {}
        out.update(status="FAILED", error=details.get("error"), cause=details.get("cause"))
    return out


def reproduce(events: list[dict[str, Any]], engine: str = "local") -> tuple[str | None, list[str]]:
    """The template whose mocked run gives AWS's recorded execution, and what each candidate gave."""
    want = expected(events)
    start = events[0]["executionStartedEventDetails"]
    config = mock_config(events)
    tried = []
    for path, doc in candidates(events):
        try:
            got = run(doc, loads_detail(start.get("input")), engine=engine, history=True, mock_config=config,
                      test_case="recorded", state_machine="M", time_scale=0)
        except Exception as exc:  # noqa: BLE001 - a candidate that does not fit this recording
            tried.append(f"{path}: {type(exc).__name__}: {exc}"[:300])
            continue
        if agrees(got, want):
            return path, tried
        tried.append(f"{path}: {got['status']} {[e['type'] for e in got['history']]}")
    return None, tried


def agrees(got: dict[str, Any], want: dict[str, Any]) -> bool:
    """AWS's status, output or error/cause and history event types (in order, except where
    concurrent branches interleave them by time)."""
    types, wanted = [e["type"] for e in got["history"]], list(want["types"])
    if any(t.startswith("ParallelState") for t in wanted):
        types, wanted = sorted(types), sorted(wanted)
    redacted = want.get("output") == "executionSucceededEventDetails.output"  # the snapshot hid it
    return types == wanted and got["status"] == want["status"] and (
        (redacted or corpus.values_match(want.get("output"), got["output"])) if want["status"] == "SUCCEEDED"
        else (got["error"], got["cause"]) == (want["error"], want["cause"]))


_CHILDREN_NOT_RECORDED = "the Distributed Map's child executions are not in the recorded history, so the " \
    "answers of the Task inside them cannot be rebuilt from it"


CASES = recordings()


@pytest.mark.parametrize("name,recording", CASES, ids=[name for name, _ in CASES])
def test_mocked_recording_on_the_local_engine(corpus_available: None, name: str, recording: dict[str, Any]) -> None:
    if name == "test_map_state_lambda":
        pytest.skip(_CHILDREN_NOT_RECORDED)
    template, tried = reproduce(recording["events"])
    assert template is not None, f"no template reproduced {name} with its mocks:\n" + "\n".join(tried)


@pytest.mark.skipif(os.environ.get("ASL_MOCKED_AIRFLOW") != "1", reason="set ASL_MOCKED_AIRFLOW=1 (slow)")
@pytest.mark.parametrize("name,recording", CASES, ids=[name for name, _ in CASES])
def test_mocked_recording_on_the_airflow_engine(corpus_available: None, name: str,
                                                recording: dict[str, Any]) -> None:
    if name == "test_map_state_lambda":
        pytest.skip(_CHILDREN_NOT_RECORDED)
    template, _ = reproduce(recording["events"])
    assert template is not None
    doc = dict(candidates(recording["events"]))[template]
    start = recording["events"][0]["executionStartedEventDetails"]
    got = run(doc, loads_detail(start.get("input")), engine="airflow", history=True,
              mock_config=mock_config(recording["events"]), test_case="recorded", state_machine="M", time_scale=0)
    assert agrees(got, expected(recording["events"])), (got["status"], got["error"], got["cause"],
                                                        [e["type"] for e in got["history"]])
