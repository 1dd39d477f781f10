"""Amazon Athena: ``athena:startQueryExecution`` (request-response and ``.sync``),
``athena:getQueryExecution``, ``athena:getQueryResults``, ``athena:stopQueryExecution``.

Request-response calls are the API call through the provider's ``AthenaHook`` client, answered as
the API answers (Step Functions has no request-response optimisation for Athena), timestamps in
epoch milliseconds. ``.sync`` starts the query through the hook's client with the Parameters as
given, then waits in the provider's ``AthenaTrigger`` (resumed by ``AthenaOperator.execute_complete``);
the local engine polls with the hook's ``poll_query_status``. The result is GetQueryExecution
(``{"QueryExecution": {...}}``); a query that ends FAILED or CANCELLED fails the Task with
``States.TaskFailed`` and that description as the cause. Service errors are
``Athena.<Exception>`` (``Athena.InvalidRequestException``).

StartQueryExecution is idempotent by ``ClientRequestToken``: a ``.sync`` attempt sends the
Parameters' token or, without one, a token derived from the ASL attempt, so a re-run of the attempt
after a worker crash gets the same query back instead of starting another (an ASL retry has its
own token, and so its own query, as on Step Functions).
"""

from __future__ import annotations

import json
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS, epoch_ms, event_id, only, raise_v1
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, submit_once

_PREFIX, _SERVICE = "Athena", "AmazonAthena"
_START = frozenset({
    "ClientRequestToken", "ExecutionParameters", "QueryExecutionContext", "QueryString", "ResultConfiguration",
    "ResultReuseConfiguration", "WorkGroup",
})
_ENDED_BADLY = ("FAILED", "CANCELLED")


def _hook(call: ServiceCall) -> Any:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    return AthenaHook(aws_conn_id=call.aws_conn_id, region_name=call.region_name, log_query=False)


def _api(call: ServiceCall, method: str, allowed: frozenset[str]) -> Any:
    params = only(call.parameters, allowed, call.resource)
    try:
        return epoch_ms(getattr(_hook(call).get_conn(), method)(**params))
    except Exception as exc:
        raise_v1(exc, _PREFIX, _SERVICE)
        raise


def _operator(call: ServiceCall) -> Any:
    """The provider's operator, for its ``execute_complete`` after the trigger fired."""
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    params = only(call.parameters, _START, call.resource)
    return AthenaOperator(
        task_id=call.task_id, query=params.get("QueryString", ""), log_query=False, deferrable=True,
        aws_conn_id=call.aws_conn_id, region_name=call.region_name, do_xcom_push=False,
    )


def _finish(call: ServiceCall, query_execution_id: str) -> Any:
    result = epoch_ms(_hook(call).get_conn().get_query_execution(QueryExecutionId=query_execution_id))
    if result.get("QueryExecution", {}).get("Status", {}).get("State") in _ENDED_BADLY:
        raise AslError("States.TaskFailed", json.dumps(result, separators=(",", ":")))
    return result


def start_query(call: ServiceCall, context: Any) -> Any:
    if call.pattern != SYNC:
        return _api(call, "start_query_execution", _START)
    params = only(call.parameters, _START, call.resource)
    if "QueryString" not in params:
        raise AslError("States.Runtime", f"{call.resource} needs Parameters.QueryString")
    if call.attempt_token and "ClientRequestToken" not in params:
        params["ClientRequestToken"] = call.attempt_token
    hook = _hook(call)
    try:
        query_execution_id = submit_once(
            call, submit=lambda: hook.get_conn().start_query_execution(**params)["QueryExecutionId"])
    except Exception as exc:
        raise_v1(exc, _PREFIX, _SERVICE)
        raise
    if call.deferrable:
        from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger
        from airflow.sdk.exceptions import TaskDeferred

        raise TaskDeferred(
            trigger=AthenaTrigger(query_execution_id=query_execution_id, waiter_delay=POLL_SECONDS,
                                  waiter_max_attempts=MAX_POLLS, aws_conn_id=call.aws_conn_id,
                                  region_name=call.region_name),
            method_name="execute_complete",
        )
    hook.poll_query_status(query_execution_id, max_polling_attempts=MAX_POLLS, sleep_time=POLL_SECONDS)
    return _finish(call, query_execution_id)


def resume_query(call: ServiceCall, context: Any, method_name: str, event: Any) -> Any:
    query_execution_id = event_id(event, "value")
    if not query_execution_id:
        raise AslError("States.TaskFailed", f"the Athena trigger reported no query: {event!r}")
    try:
        getattr(_operator(call), method_name)(context, event=event)
    except AslError:
        raise
    except Exception:  # the trigger saw the query fail: the description says how, and is the cause
        pass
    return _finish(call, query_execution_id)


def _error_name(exc: BaseException, call: ServiceCall) -> str | None:
    from asl_airflow.integrations._optimized import v1_error

    error = v1_error(exc, _PREFIX, _SERVICE)
    return error.error if error else None


def _simple(action: str, method: str, allowed: frozenset[str]) -> Integration:
    def start(call: ServiceCall, context: Any) -> Any:
        return _api(call, method, allowed)

    return Integration("athena", action, frozenset({REQUEST_RESPONSE}), _PREFIX, start, error_name=_error_name)


START_QUERY_EXECUTION = Integration(
    "athena", "startQueryExecution", frozenset({REQUEST_RESPONSE, SYNC}), _PREFIX, start_query, resume_query,
    _error_name,
)
GET_QUERY_EXECUTION = _simple("getQueryExecution", "get_query_execution", frozenset({"QueryExecutionId"}))
GET_QUERY_RESULTS = _simple("getQueryResults", "get_query_results",
                            frozenset({"QueryExecutionId", "MaxResults", "NextToken"}))
STOP_QUERY_EXECUTION = _simple("stopQueryExecution", "stop_query_execution", frozenset({"QueryExecutionId"}))

ENTRIES = (START_QUERY_EXECUTION, GET_QUERY_EXECUTION, GET_QUERY_RESULTS, STOP_QUERY_EXECUTION)
