"""Amazon Athena: ``athena:startQueryExecution`` (request-response and ``.sync``),
``athena:getQueryExecution``, ``athena:getQueryResults``, ``athena:stopQueryExecution``.

Request-response calls are the API call through the provider's ``AthenaHook`` client, answered as
the API answers (Step Functions has no request-response optimisation for Athena), timestamps in
epoch milliseconds. ``.sync`` runs the provider's ``AthenaOperator``: deferrable, it waits in
``AthenaTrigger``; the local engine lets the operator poll. The result is GetQueryExecution
(``{"QueryExecution": {...}}``); a query that ends FAILED or CANCELLED fails the Task with
``States.TaskFailed`` and that description as the cause. Service errors are
``Athena.<Exception>`` (``Athena.InvalidRequestException``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from asl_airflow.asl.errors import AslError
from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS, epoch_ms, event_id, only, raise_v1
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, Integration, ServiceCall, run_nested

_PREFIX, _SERVICE = "Athena", "AmazonAthena"
_START = frozenset({
    "ClientRequestToken", "ExecutionParameters", "QueryExecutionContext", "QueryString", "ResultConfiguration",
    "ResultReuseConfiguration", "WorkGroup",
})
#: what the provider's AthenaOperator can pass on; the rest is refused for .sync rather than dropped
_OPERATOR_KEYS = frozenset({"ClientRequestToken", "QueryExecutionContext", "QueryString", "ResultConfiguration",
                            "WorkGroup"})
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
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    params = only(call.parameters, _START, call.resource)
    extra = sorted(set(params) - _OPERATOR_KEYS)
    if extra:
        raise AslError("States.Runtime", f"{call.resource}: {', '.join(extra)} not supported for .sync here")
    if "QueryString" not in params:
        raise AslError("States.Runtime", f"{call.resource} needs Parameters.QueryString")
    context = copy.deepcopy(params.get("QueryExecutionContext") or {})
    return AthenaOperator(
        task_id=call.task_id, query=params["QueryString"], client_request_token=params.get("ClientRequestToken"),
        workgroup=params.get("WorkGroup", "primary"), query_execution_context=context,
        catalog=context.get("Catalog", "AwsDataCatalog"),
        result_configuration=copy.deepcopy(params.get("ResultConfiguration") or {}),
        sleep_time=POLL_SECONDS, max_polling_attempts=MAX_POLLS, log_query=False, deferrable=call.deferrable,
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
    operator = _operator(call)
    try:
        query_execution_id = run_nested(operator, context)  # deferrable: raises TaskDeferred here
    except AslError:
        raise
    except Exception as exc:
        raise_v1(exc, _PREFIX, _SERVICE)
        if not operator.query_execution_id:  # failed before the query existed
            raise
        query_execution_id = operator.query_execution_id  # the query ended badly: described below
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
