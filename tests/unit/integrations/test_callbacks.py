"""Task tokens and the ``.waitForTaskToken`` wait, without an Airflow DB: the token's format, the
wrapping of any entry, the events' outcomes, and the trigger's clock (its XCom channel replaced)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import callbacks, resolve
from asl_airflow.integrations.base import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN, Integration, ServiceCall

TARGET = callbacks.TokenTarget("etl", "manual__2026-01-01T00:00:00+00:00", "ask.for_approval", 3, 2)


class _Store:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


def _context(store: _Store) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id=TARGET.dag_id, run_id=TARGET.run_id, task_id=TARGET.task_id,
                         map_index=TARGET.map_index, try_number=TARGET.try_number)
    return {"ti": ti, "task_state_store": store}


# -- the token --------------------------------------------------------------------------------------


def test_token_names_the_attempt_and_only_its_digest_is_stored():
    store = _Store()
    token = callbacks.new_task_token(_context(store))
    assert callbacks.parse_task_token(token) == TARGET
    assert store.values[callbacks.TOKEN_KEY] == {"sha256": callbacks.token_digest(token), "try_number": 2}
    assert token not in json.dumps(store.values)


def test_tokens_are_unguessable_each_attempt_gets_a_new_one():
    tokens = {callbacks.new_task_token(_context(_Store())) for _ in range(50)}
    assert len(tokens) == 50
    secrets_ = [t.rsplit(".", 1)[1] for t in tokens]
    assert min(len(s) for s in secrets_) >= 43  # 256 random bits


@pytest.mark.parametrize("bad", [
    "", "abc", "AAAAKgAAAAIAAAAAAAAAAQ", "v2.e30." + "s" * 43, "v1.!!!." + "s" * 43,
    "v1." + callbacks._b64(b'["d","r","t",-1]') + "." + "s" * 43,  # an id missing
    "v1." + callbacks._b64(b'["d","r","t","-1",1]') + "." + "s" * 43,  # map_index not an int
    callbacks.encode_task_token(TARGET, "short"),
])
def test_malformed_tokens_are_invalid(bad):
    with pytest.raises(callbacks.InvalidTaskToken):
        callbacks.parse_task_token(bad)


# -- the wrapping ------------------------------------------------------------------------------------


def _entry(calls: list[ServiceCall], raises: BaseException | None = None) -> Integration:
    def start(call: ServiceCall, context: Any) -> Any:
        calls.append(call)
        if raises is not None:
            raise raises
        return {"MessageId": "m-1"}

    return Integration("svc", "act", frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN}), "Svc", start)


def _call(**extra: Any) -> ServiceCall:
    token = callbacks.encode_task_token(TARGET, "s" * 43)
    return ServiceCall("arn:aws:states:::svc:act.waitForTaskToken", "svc", "act", WAIT_FOR_TASK_TOKEN,
                       {"Token": token}, extra={"task_token": token, **extra})


def test_resolve_wraps_only_the_wait_for_task_token_pattern():
    plain, *_ = resolve("arn:aws:states:::lambda:invoke")
    waiting, _, _, pattern = resolve("arn:aws:states:::lambda:invoke.waitForTaskToken")
    assert pattern == WAIT_FOR_TASK_TOKEN
    assert plain.start is not waiting.start and waiting.resume is not None
    assert (waiting.service, waiting.action, waiting.error_name) == (plain.service, plain.action, plain.error_name)


def test_local_engine_fails_clearly_before_calling_the_service():
    calls: list[ServiceCall] = []
    wrapped = callbacks.wait_for_task_token(_entry(calls))
    with pytest.raises(AslError) as failure:
        wrapped.start(dataclasses.replace(_call(), deferrable=False), {})
    assert failure.value.error == "States.Runtime"
    assert "engine='airflow'" in failure.value.cause
    assert calls == []


def test_the_service_call_is_made_request_response_then_the_task_defers_on_the_token():
    from airflow.sdk.exceptions import TaskDeferred

    calls: list[ServiceCall] = []
    wrapped = callbacks.wait_for_task_token(_entry(calls))
    call = _call(timeout_seconds=300.0, heartbeat_seconds=60.0)
    before = datetime.now(UTC)
    with pytest.raises(TaskDeferred) as deferred:
        wrapped.start(call, {})
    assert [c.pattern for c in calls] == [REQUEST_RESPONSE]
    assert calls[0].parameters == call.parameters
    assert deferred.value.method_name == callbacks.WAIT_METHOD
    assert deferred.value.timeout == timedelta(seconds=360)  # Airflow's own timeout only as a backstop
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "asl_airflow.integrations._callback_trigger.TaskTokenTrigger"
    assert kwargs["token_sha256"] == callbacks.token_digest(call.extra["task_token"])
    assert (kwargs["dag_id"], kwargs["run_id"], kwargs["task_id"], kwargs["map_index"]) == (
        TARGET.dag_id, TARGET.run_id, TARGET.task_id, TARGET.map_index)
    assert (kwargs["timeout_seconds"], kwargs["heartbeat_seconds"]) == (300.0, 60.0)
    assert datetime.fromisoformat(kwargs["started_at"]) >= before


def test_service_errors_surface_before_any_wait():
    wrapped = callbacks.wait_for_task_token(_entry([], raises=AslError("SQS.QueueDoesNotExistException", "x")))
    with pytest.raises(AslError, match="QueueDoesNotExist"):
        wrapped.start(_call(), {})


def test_an_entry_that_defers_cannot_also_wait_for_a_token():
    from airflow.sdk.exceptions import TaskDeferred

    wrapped = callbacks.wait_for_task_token(_entry([], raises=TaskDeferred(trigger=None, method_name="m")))
    with pytest.raises(AslError, match="cannot also wait for a task token"):
        wrapped.start(_call(), {})


@pytest.mark.parametrize(("event", "expected"), [
    ({"status": "FAILED", "error": "Approval.Rejected", "cause": "over budget"}, ("Approval.Rejected", "over budget")),
    ({"status": "FAILED", "error": None, "cause": None}, ("", None)),
    ({"status": "TIMED_OUT"}, ("States.Timeout", None)),
    ({"status": "HEARTBEAT_TIMED_OUT"}, ("States.HeartbeatTimeout", None)),
    ({"status": "??"}, ("States.Runtime", None)),
])
def test_events_that_fail_the_task(event, expected):
    wrapped = callbacks.wait_for_task_token(_entry([]))
    with pytest.raises(AslError) as failure:
        wrapped.resume(_call(), {}, callbacks.WAIT_METHOD, event)
    assert failure.value.error == expected[0]
    if expected[0] != "States.Runtime":
        assert failure.value.cause == expected[1]


def test_success_event_is_the_task_result():
    wrapped = callbacks.wait_for_task_token(_entry([]))
    output = {"approved": True, "by": ["ops"]}
    assert wrapped.resume(_call(), {}, callbacks.WAIT_METHOD, {"status": "SUCCEEDED", "output": output}) == output


# -- the trigger's clock (the XCom channel replaced by a script) ------------------------------------


class _Scripted:
    """Records, keyed by elapsed seconds, as the API would have written them."""

    def __init__(self, trigger: Any, script: list[tuple[float, dict[str, Any]]]) -> None:
        self.start = datetime.now(UTC)
        self.script = script
        self.spent: list[str] = []
        trigger._read = self.read
        trigger._spend = self.spend

    def read(self) -> dict[str, Any] | None:
        elapsed = (datetime.now(UTC) - self.start).total_seconds()
        due = [record for at, record in self.script if at <= elapsed]
        return due[-1] if due else None

    def spend(self, status: str) -> dict[str, Any]:
        self.spent.append(status)
        return {"status": status}


def _run(trigger: Any) -> tuple[dict[str, Any], float]:
    async def first() -> Any:
        return await anext(trigger.run())

    began = datetime.now(UTC)
    event = asyncio.run(asyncio.wait_for(first(), timeout=20))
    return event.payload, (datetime.now(UTC) - began).total_seconds()


def _trigger(**kwargs: Any) -> Any:
    from asl_airflow.integrations._callback_trigger import TaskTokenTrigger

    defaults = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1, "token_sha256": "h",
                "started_at": datetime.now(UTC).isoformat(), "poll_interval": 0.05}
    trigger = TaskTokenTrigger(**{**defaults, **kwargs})
    classpath, serialized = trigger.serialize()
    assert serialized == {**defaults, "timeout_seconds": None, "heartbeat_seconds": None, **kwargs}
    return trigger


def test_trigger_fires_with_the_result_the_api_recorded():
    trigger = _trigger(heartbeat_seconds=5)
    script = _Scripted(trigger, [(0.2, {"status": None, "heartbeat": "x"}),
                                 (0.3, {"status": "SUCCEEDED", "output": {"ok": 1}})])
    script.script[0][1]["heartbeat"] = datetime.now(UTC).isoformat()
    payload, took = _run(trigger)
    assert payload == {"status": "SUCCEEDED", "output": {"ok": 1}}
    assert 0.25 <= took < 2 and script.spent == []


def test_heartbeats_postpone_the_heartbeat_timeout():
    trigger = _trigger(heartbeat_seconds=0.6)
    now = datetime.now(UTC)
    beats = [(t, {"status": None, "heartbeat": (now + timedelta(seconds=t)).isoformat()}) for t in (0.4, 0.8, 1.2)]
    script = _Scripted(trigger, beats)
    payload, took = _run(trigger)
    assert payload == {"status": "HEARTBEAT_TIMED_OUT"} and script.spent == ["HEARTBEAT_TIMED_OUT"]
    assert 1.7 <= took < 3  # last heartbeat at 1.2 s + 0.6 s


def test_timeout_seconds_counts_from_the_service_call_despite_heartbeats():
    started = datetime.now(UTC) - timedelta(seconds=0.5)
    trigger = _trigger(started_at=started.isoformat(), timeout_seconds=1.0, heartbeat_seconds=0.4)
    now = datetime.now(UTC)
    _Scripted(trigger, [(t / 10, {"status": None, "heartbeat": (now + timedelta(seconds=t / 10)).isoformat()})
                        for t in range(0, 30)])
    payload, took = _run(trigger)
    assert payload == {"status": "TIMED_OUT"}
    assert 0.4 <= took < 1.5
