"""A branch's located causes, counted from the branch's start, placed where the join puts its events."""

from __future__ import annotations

import json

from asl_airflow.airflow.composite import _Recorded, relocated
from asl_airflow.asl.history import dumps


def _where(name: str, number: int) -> str:
    return f"An error occurred while executing the state '{name}' (entered at the event id #{number})."


def _entered(type_: str, name: str, data: object) -> dict[str, object]:
    return {"type": f"{type_}StateEntered", "stateEnteredEventDetails": {"name": name, "input": dumps(data)}}


def _exited(type_: str, name: str, data: object) -> dict[str, object]:
    return {"type": f"{type_}StateExited", "stateExitedEventDetails": {"name": name, "output": dumps(data)}}


QUOTED = 'Say "hi"'  # escaped inside the events' JSON texts


def _branch() -> _Recorded:
    received = {"old": _where("Prep", 1)}  # a cause the branch got in its input: it keeps its id
    caught = {**received, "err": {"Error": "States.Runtime", "Cause": f"{_where(QUOTED, 1)} bad path"}}
    return _Recorded(
        error={"Error": "States.Runtime", "Cause": f"{_where('Last', 3)} no such path"},
        events=[_entered("Task", QUOTED, received), _exited("Task", QUOTED, caught), _entered("Pass", "Last", caught)],
        output=None,
    )


def test_causes_of_the_states_the_branch_entered_move_by_the_base() -> None:
    branch = _branch()
    moved = relocated(branch, 10)
    assert moved.error == {"Error": "States.Runtime", "Cause": f"{_where('Last', 13)} no such path"}
    handed_on = json.loads(moved.events[2]["stateEnteredEventDetails"]["input"])
    assert handed_on["err"]["Cause"] == f"{_where(QUOTED, 11)} bad path"
    assert handed_on["old"] == _where("Prep", 1)
    assert json.loads(moved.events[0]["stateEnteredEventDetails"]["input"]) == {"old": _where("Prep", 1)}
    assert branch.error["Cause"].startswith(_where("Last", 3))  # the record itself is left as it was


def test_a_location_that_is_not_the_states_entered_event_stays() -> None:
    branch = _Recorded(output={"Cause": _where("Last", 1)}, events=[_entered("Pass", "First", {})])
    assert relocated(branch, 5).output == {"Cause": _where("Last", 1)}


def test_outputs_of_a_finished_branch_move_too() -> None:
    events = [_entered("Task", "T", {}), _exited("Task", "T", {"Cause": _where("T", 1)})]
    branch = _Recorded(output={"Cause": _where("T", 1)}, events=events)
    assert relocated(branch, 7).output == {"Cause": _where("T", 8)}
