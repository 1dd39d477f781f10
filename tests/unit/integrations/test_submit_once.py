"""At most one AWS submission per ASL attempt (``submit_once``, the job lookups, the task-token call),
and trigger failures under their Step Functions names. No Airflow DB: the task_state_store is a dict."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asl_airflow.integrations import make_call
from asl_airflow.integrations.base import CallJournal, ServiceCall, reentered, submit_once
from asl_airflow.integrations.errors import trigger_failure_error


class Store(dict):
    """``task_state_store`` as the task sees it (get/set), JSON round-tripped like the real one."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        import json

        return json.loads(self[key]) if key in self else default

    def set(self, key: str, value: Any) -> None:
        import json

        self[key] = json.dumps(value)


def _call(store: Store | None, attempt: int = 0, pattern: str = "sync") -> ServiceCall:
    journal = CallJournal(store, attempt, f"token-{attempt}") if store is not None else None
    return ServiceCall("arn:aws:states:::glue:startJobRun.sync", "glue", "startJobRun", pattern, {},
                       journal=journal)


def test_first_run_marks_pending_before_the_call_and_records_the_id_after():
    store = Store()
    seen = []

    def submit() -> str:
        seen.append(store.get("asl_call"))  # what a crash right now would leave behind
        return "jr_1"

    assert submit_once(_call(store), submit) == "jr_1"
    assert seen[0]["pending"] and "id" not in seen[0]
    assert store.get("asl_call")["id"] == "jr_1"
    assert _call(store).attempt_token == "token-0" and reentered(_call(store))


def test_a_rerun_of_the_attempt_reuses_the_recorded_job():
    store = Store()
    submit_once(_call(store), lambda: "jr_1")
    assert submit_once(_call(store), lambda: pytest.fail("submitted twice")) == "jr_1"


def test_a_pending_submission_is_looked_up_before_submitting_again():
    store = Store()
    _call(store).journal.set(pending="2026-01-01T00:00:00+00:00")
    found = submit_once(_call(store), lambda: pytest.fail("submitted twice"),
                        find=lambda record: f"found since {record['pending']}")
    assert found == "found since 2026-01-01T00:00:00+00:00"
    assert store.get("asl_call")["id"] == found


def test_a_pending_submission_the_service_never_got_is_made_once_keeping_the_first_mark():
    store = Store()
    _call(store).journal.set(pending="2026-01-01T00:00:00+00:00")
    calls = []
    assert submit_once(_call(store), lambda: calls.append(1) or "jr_2", find=lambda record: None) == "jr_2"
    assert calls == [1]
    assert store.get("asl_call")["pending"] == "2026-01-01T00:00:00+00:00"  # the earliest window


def test_an_asl_retry_submits_anew_and_the_local_engine_has_no_journal():
    store = Store()
    submit_once(_call(store, attempt=0), lambda: "jr_1")
    assert not reentered(_call(store, attempt=1))
    assert submit_once(_call(store, attempt=1), lambda: "jr_2") == "jr_2"
    assert submit_once(_call(None), lambda: "jr_3") == "jr_3" and _call(None).attempt_token is None


# -- the lookups of services without an idempotency token ---------------------------------------


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self.pages


def test_glue_finds_the_run_with_this_attempts_arguments_started_since_the_mark():
    from asl_airflow.integrations import glue

    mark = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    runs = [
        {"Id": "old", "StartedOn": mark - timedelta(minutes=5), "Arguments": {"--day": "1"}},
        {"Id": "other-args", "StartedOn": mark + timedelta(seconds=1), "Arguments": {"--day": "2"}},
        {"Id": "mine", "StartedOn": mark + timedelta(seconds=2), "Arguments": {"--day": "1"}},
        {"Id": "later", "StartedOn": mark + timedelta(seconds=9), "Arguments": {"--day": "1"}},
    ]

    class Conn:
        def get_paginator(self, name: str) -> _Pages:
            assert name == "get_job_runs"
            return _Pages([{"JobRuns": runs}])

    class Hook:
        conn = Conn()

    params = {"JobName": "j", "Arguments": {"--day": "1"}}
    assert glue._find_run(Hook(), params, {"pending": mark.isoformat()}) == "mine"
    assert glue._find_run(Hook(), {"JobName": "j", "Arguments": {"--day": "3"}}, {"pending": mark.isoformat()}) is None


def test_batch_finds_the_job_of_this_name_definition_and_parameters_created_since_the_mark():
    from asl_airflow.integrations import batch

    mark = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    ms = int(mark.timestamp() * 1000)
    jobs = {
        "old": {"jobId": "old", "jobName": "n", "createdAt": ms - 300_000, "parameters": {"g": "1"},
                "jobDefinition": "arn:aws:batch:r:1:job-definition/d:1"},
        "other": {"jobId": "other", "jobName": "n", "createdAt": ms + 1000, "parameters": {"g": "2"},
                  "jobDefinition": "arn:aws:batch:r:1:job-definition/d:1"},
        "mine": {"jobId": "mine", "jobName": "n", "createdAt": ms + 2000, "parameters": {"g": "1"},
                 "jobDefinition": "arn:aws:batch:r:1:job-definition/d:1"},
    }

    class Client:
        def get_paginator(self, name: str) -> _Pages:
            assert name == "list_jobs"
            return _Pages([{"jobSummaryList": [{k: v for k, v in j.items() if k != "parameters"}
                                                for j in jobs.values()]}])

        def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
            return {"jobs": [all_jobs[j] for j in jobs]}

    all_jobs = jobs

    class Hook:
        client = Client()

    request = {"jobName": "n", "jobQueue": "q", "jobDefinition": "d", "parameters": {"g": "1"}}
    assert batch._find_job(Hook(), request, {"pending": mark.isoformat()}) == "mine"
    assert batch._find_job(Hook(), {**request, "jobDefinition": "e"}, {"pending": mark.isoformat()}) is None


# -- .waitForTaskToken: the service call at most once per attempt -------------------------------


def _token_call(store: Store, queue: str = "https://sqs.us-east-1.amazonaws.com/1/q") -> tuple[Any, ServiceCall]:
    from asl_airflow.integrations.callbacks import TokenTarget, encode_task_token

    token = encode_task_token(TokenTarget("d", "r", "t", -1, 1), "x" * 43)
    entry, call = make_call("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                            {"QueueUrl": queue, "MessageBody": {"token": token}}, extra={"task_token": token})
    call.journal = CallJournal(store, 0, "token-0")
    return entry, call


def _start(entry: Any, call: ServiceCall, sent: list[Any]) -> None:
    import dataclasses

    from airflow.sdk.exceptions import TaskDeferred
    from asl_airflow.integrations import callbacks

    inner = dataclasses.replace(entry, start=lambda c, ctx: sent.append(c.parameters))
    with pytest.raises(TaskDeferred):
        callbacks._start(inner, call, {})


def test_a_task_token_is_sent_once_per_attempt_and_a_rerun_waits_for_it():
    store, sent = Store(), []
    entry, call = _token_call(store)
    _start(entry, call, sent)
    assert len(sent) == 1 and store.get("asl_call")["sent"]
    _start(entry, call, sent)  # the worker died after the call: the re-run only waits
    assert len(sent) == 1


def test_a_call_cut_short_is_not_repeated_unless_the_queue_deduplicates():
    store, sent = Store(), []
    entry, call = _token_call(store)
    call.journal.set(pending=datetime.now(UTC).isoformat())
    _start(entry, call, sent)
    assert sent == [] and store.get("asl_call")["unsure"] is True
    fifo_store = Store()
    entry, call = _token_call(fifo_store, "https://sqs.us-east-1.amazonaws.com/1/q.fifo")
    call.journal.set(pending=datetime.now(UTC).isoformat())
    _start(entry, call, sent)
    assert len(sent) == 1  # FIFO: a repeat within five minutes is dropped by SQS


# -- a trigger that raised instead of reporting an event ----------------------------------------


def _raised(exc_factory: Any) -> list[str]:
    try:
        exc_factory()
    except Exception as exc:  # noqa: BLE001 - the traceback Airflow hands the task
        return traceback.format_exception(type(exc), exc, exc.__traceback__)
    raise AssertionError("nothing raised")


def test_an_unreachable_endpoint_is_the_services_sdk_client_exception():
    import boto3
    from asl_airflow.devstack import free_port

    client = boto3.client("glue", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}",
                          aws_access_key_id="k", aws_secret_access_key="s",
                          config=__import__("botocore.config").config.Config(retries={"max_attempts": 0},
                                                                             connect_timeout=1))
    lines = _raised(lambda: client.get_job_run(JobName="j", RunId="r"))
    entry, _ = make_call("arn:aws:states:::glue:startJobRun.sync", {"JobName": "j"})
    error = trigger_failure_error(lines, entry, "Trigger failure")
    assert error.error == "Glue.SdkClientException"
    assert "Could not connect to the endpoint URL" in error.cause


def test_trigger_failures_keep_service_error_names():
    from botocore.exceptions import ClientError

    def denied() -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetJobRun")

    entry, _ = make_call("arn:aws:states:::glue:startJobRun.sync", {"JobName": "j"})
    assert trigger_failure_error(_raised(denied), entry, "x").error == "Glue.ThrottlingException"
    assert trigger_failure_error(_raised(lambda: 1 / 0), entry, "x").error == "States.TaskFailed"
    assert trigger_failure_error(None, entry, "Trigger failure").cause == "Trigger failure: Trigger failure"


def test_the_task_fails_with_the_trigger_error_and_its_catch_applies():
    from asl_airflow.airflow.operators import AslTaskOperator

    class Ti:
        dag_id, run_id, task_id, map_index, try_number = "d", "r", "Job", -1, 2
        pushed: dict[str, Any] = {}

        def xcom_push(self, key: str, value: Any) -> None:
            self.pushed[key] = value

    class Run:
        dag_id, run_id, conf = "d", "r", {}
        start_date = datetime(2026, 1, 1, tzinfo=UTC)

    state = {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "Parameters": {"JobName": "j"},
             "Catch": [{"ErrorEquals": ["Glue.SdkClientException"], "ResultPath": "$.error", "Next": "Next"}],
             "Next": "Next"}
    task = AslTaskOperator(task_id="Job", state_name="Job", state=state, successors={"Next": "Next"})
    store = Store()
    store.set("asl_progress", {"counters": [], "events": [], "entered": "2026-01-01T00:00:00.000Z", "data": {},
                               "variables": {}, "parameters": {"JobName": "j"}, "called": 0})
    ti = Ti()
    context = {"ti": ti, "dag_run": Run(), "task_state_store": store}
    lines = ["Traceback (most recent call last):\n", '  File "x.py", line 1, in run\n',
             "botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "
             '"http://127.0.0.1:1/"\n']
    output = task.resume_execution("__fail__", {"error": "Trigger failure", "traceback": lines}, context)
    assert output["error"]["Error"] == "Glue.SdkClientException"
    assert ti.pushed["asl_state"]["next"] == "Next"

