"""SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat for ``.waitForTaskToken`` Tasks.

A FastAPI app that Airflow's API server mounts through the plugin (``fastapi_apps``), at
:data:`URL_PREFIX`; only the API server imports this module. Airflow does not authenticate plugin
apps, so every route here depends on Airflow's own ``get_user`` (a JWT from ``POST /auth/token``
as ``Authorization: Bearer``, or the UI's session cookie), then asks the configured auth manager
whether the caller may edit task instances of the DAG the token belongs to (``PUT`` on
``TASK_INSTANCE``, like marking a task's state).

Bodies and errors follow the Step Functions API: ``{"taskToken", "output"}``,
``{"taskToken", "error", "cause"}``, ``{"taskToken"}``; ``200 {}`` on success, ``400`` with
``{"__type": "TaskDoesNotExist" | "InvalidToken" | "TaskTimedOut" | "InvalidOutput" |
"ValidationException", "message"}`` otherwise (the shape AWS's JSON protocol uses, so SDKs parse it).

What the API accepts is recorded as the waiting task instance's XCom ``asl_task_token``, where the
task's trigger picks it up (see ``asl_airflow.integrations.callbacks``).
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from asl_airflow.asl import strictjson
from asl_airflow.integrations import callbacks

URL_PREFIX = "/asl-airflow"
#: Step Functions' limits on the request fields
MAX_TOKEN = 4096  # AWS allows 2048; ours carry dag/run/task ids, which Airflow allows to be longer
MAX_OUTPUT = 262144
MAX_ERROR = 256
MAX_CAUSE = 32768


class SendTaskSuccess(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taskToken: str = Field(min_length=1, max_length=MAX_TOKEN)  # noqa: N815 - the AWS field name
    #: a JSON document as a string (as AWS takes it), or the JSON value itself
    output: Any


class SendTaskFailure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taskToken: str = Field(min_length=1, max_length=MAX_TOKEN)  # noqa: N815
    error: str | None = Field(default=None, max_length=MAX_ERROR)
    cause: str | None = Field(default=None, max_length=MAX_CAUSE)


class SendTaskHeartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taskToken: str = Field(min_length=1, max_length=MAX_TOKEN)  # noqa: N815


class StepFunctionsError(Exception):
    """An API error as Step Functions names it; answered ``400 {"__type", "message"}``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


# -- authentication and authorization (Airflow's own) --------------------------------------------


def _authorize(user: BaseUser, dag_id: str) -> None:
    """The auth manager decides, as for the core API: may ``user`` edit task instances of ``dag_id``?"""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    allowed = get_auth_manager().is_authorized_dag(
        method="PUT", access_entity=DagAccessEntity.TASK_INSTANCE,
        details=DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id)), user=user,
    )
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")


# -- the shared path: find the waiting attempt, record what arrived -------------------------------


def _waiting_states() -> frozenset[str]:
    from airflow.utils.state import TaskInstanceState

    # RUNNING: the service may call back before the task has deferred; QUEUED/SCHEDULED: the
    # trigger is running inline (dag.test) or the task is being resumed
    return frozenset({TaskInstanceState.RUNNING, TaskInstanceState.DEFERRED, TaskInstanceState.QUEUED,
                      TaskInstanceState.SCHEDULED})


def _decode(value: Any) -> Any:
    if isinstance(value, str):  # written through the Task SDK (serialised JSON text)
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def deliver(token: str, user: BaseUser, record: dict[str, Any]) -> None:
    """Check ``token`` and store ``record`` for the task attempt waiting on it (the XCom its trigger reads)."""
    from airflow._shared.state import TaskScope
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.state import get_state_backend
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        target = callbacks.parse_task_token(token)
    except callbacks.InvalidTaskToken as exc:
        raise StepFunctionsError("InvalidToken", str(exc)) from None
    _authorize(user, target.dag_id)
    where = {"dag_id": target.dag_id, "run_id": target.run_id, "task_id": target.task_id,
             "map_index": target.map_index}
    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).filter_by(**where).with_for_update()  # one callback at a time per task
        )
        if ti is None:
            raise StepFunctionsError("TaskDoesNotExist", "Task does not exist: no such task instance")
        # the stored digest is the current ASL attempt's token: an ASL retry replaces it, while an
        # Airflow re-run of the same attempt after a worker crash keeps it (the service has it), so
        # the token's own try number may be older than the task instance's
        stored = get_state_backend().get(TaskScope(**where), callbacks.TOKEN_KEY, session=session)
        expected = (_decode(stored) or {}).get("sha256", "")
        if not hmac.compare_digest(expected, callbacks.token_digest(token)):
            if target.try_number < ti.try_number:
                raise StepFunctionsError("TaskTimedOut", "Task Timed Out: the token is for an earlier attempt")
            raise StepFunctionsError("InvalidToken", "Invalid Token: not the token of this task attempt")
        current = _decode(session.scalar(select(XComModel.value).filter_by(key=callbacks.RESULT_KEY, **where)))
        spent = isinstance(current, dict) and current.get("status") in callbacks.FINAL
        if spent or ti.state not in _waiting_states():
            raise StepFunctionsError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
        value = {"token": expected, "at": datetime.now(UTC).isoformat(), **record}
        XComModel.set(callbacks.RESULT_KEY, value, serialize=False, session=session, **where)


def _output(value: Any) -> Any:
    """The Task's result from ``output``: JSON text (as AWS takes it) or the JSON value itself, read
    strictly. ``NaN``, ``Infinity`` or ``1e400`` (which Python's parser, and so the request body,
    would read as a float that is not JSON) are ``InvalidOutput``: the Task keeps waiting."""
    if isinstance(value, str):
        if len(value) > MAX_OUTPUT:
            raise StepFunctionsError("ValidationException", f"output is longer than {MAX_OUTPUT} characters")
        try:
            return strictjson.loads(value)
        except strictjson.JsonError as exc:
            raise StepFunctionsError("InvalidOutput", f"Invalid Output: {exc}") from None
    try:
        strictjson.check(value)
        too_long = strictjson.size_exceeds(value, MAX_OUTPUT) or len(strictjson.dumps(value)) > MAX_OUTPUT
    except strictjson.JsonError as exc:
        raise StepFunctionsError("InvalidOutput", f"Invalid Output: {exc}") from None
    if too_long:
        raise StepFunctionsError("ValidationException", f"output is longer than {MAX_OUTPUT} characters")
    return value


# -- the app --------------------------------------------------------------------------------------


def create_app() -> FastAPI:
    app = FastAPI(
        title="asl-airflow: Step Functions task tokens",
        description="SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat for `.waitForTaskToken` Tasks.",
    )

    @app.exception_handler(StepFunctionsError)
    async def _sfn_error(request: Request, exc: StepFunctionsError) -> JSONResponse:
        return JSONResponse({"__type": exc.name, "message": exc.message}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"__type": "ValidationException", "message": problems}, status_code=400)

    @app.post("/SendTaskSuccess")
    def send_task_success(body: SendTaskSuccess, user: GetUserDep) -> dict[str, Any]:
        """The Task succeeds with ``output`` as its result."""
        deliver(body.taskToken, user, {"status": callbacks.SUCCEEDED, "output": _output(body.output)})
        return {}

    @app.post("/SendTaskFailure")
    def send_task_failure(body: SendTaskFailure, user: GetUserDep) -> dict[str, Any]:
        """The Task fails with ``error``/``cause``; its Retry and Catch apply."""
        deliver(body.taskToken, user, {"status": callbacks.FAILED, "error": body.error, "cause": body.cause})
        return {}

    @app.post("/SendTaskHeartbeat")
    def send_task_heartbeat(body: SendTaskHeartbeat, user: GetUserDep) -> dict[str, Any]:
        """Restart the Task's HeartbeatSeconds clock."""
        deliver(body.taskToken, user, {"status": None, "heartbeat": datetime.now(UTC).isoformat()})
        return {}

    from asl_airflow.airflow.console.routes import add_routes

    add_routes(app)  # the execution view (HTML) and its JSON: history, describe
    return app


@cache
def fastapi_apps() -> list[dict[str, Any]]:
    """The plugin's ``fastapi_apps`` entry (built once, when the API server asks for it)."""
    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "asl-airflow task tokens"}]
