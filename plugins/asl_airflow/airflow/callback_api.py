"""SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat for ``.waitForTaskToken`` and activity Tasks,
and GetActivityTask for activity workers.

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

``GetActivityTask`` (``{"activityArn", "workerName"}``) long-polls (``[asl_airflow]
activity_poll_seconds``, 60 as on AWS) for an activity Task offered to that activity (the XCom
``asl_activity`` of a waiting task instance, see ``asl_airflow.integrations.activities``) in a DAG
whose task instances the caller may edit, claims the oldest, and answers ``{"taskToken", "input"}``;
``{"taskToken": null}`` when none came (AWS's "null string"; boto3 then shows no ``taskToken``).

The same four calls are served in AWS's JSON 1.0 protocol at the app's root (``POST /`` with
``X-Amz-Target: AWSStepFunctions.<Action>``), so boto3's ``stepfunctions`` client pointed at
``<api server>/asl-airflow`` works, given Airflow's JWT as a bearer token (README: Activities).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asl_airflow.asl import strictjson
from asl_airflow.integrations import callbacks

URL_PREFIX = "/asl-airflow"
#: Step Functions' limits on the request fields
MAX_TOKEN = 4096  # AWS allows 2048; ours carry dag/run/task ids, which Airflow allows to be longer
MAX_OUTPUT = 262144
MAX_ERROR = 256
MAX_CAUSE = 32768
MAX_ARN = 256
MAX_WORKER_NAME = 80
#: how long GetActivityTask holds a poll without work (AWS: 60 s); ``[asl_airflow] activity_poll_seconds``
DEFAULT_ACTIVITY_POLL_SECONDS = 60.0
#: how often a held poll looks for work
ACTIVITY_LOOK_INTERVAL = 0.5
_ACTIVITY_ARN = re.compile(r"^arn:[^:]+:states:[^:]*:[^:]*:activity:[^:]+$")
#: AWS's JSON 1.0 protocol: ``X-Amz-Target: AWSStepFunctions.<Action>``
TARGET_PREFIX = "AWSStepFunctions."


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


class GetActivityTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activityArn: str = Field(min_length=1, max_length=MAX_ARN)  # noqa: N815
    workerName: str | None = Field(default=None, max_length=MAX_WORKER_NAME)  # noqa: N815


class StepFunctionsError(Exception):
    """An API error as Step Functions names it; answered ``400 {"__type", "message"}``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


# -- authentication and authorization (Airflow's own) --------------------------------------------


def _may_edit(user: BaseUser, dag_id: str | None) -> bool:
    """The auth manager decides, as for the core API: may ``user`` edit task instances of ``dag_id``
    (None: of every DAG)?"""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    details = None if dag_id is None else DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))
    return get_auth_manager().is_authorized_dag(
        method="PUT", access_entity=DagAccessEntity.TASK_INSTANCE, details=details, user=user,
    )


def _authorize(user: BaseUser, dag_id: str) -> None:
    if not _may_edit(user, dag_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")


def _authorize_any(user: BaseUser) -> None:
    """A worker polls an activity, not a DAG: it needs the right to edit the task instances of some
    DAG (then it is offered tasks of those DAGs only); a caller who may edit none gets 403."""
    from airflow.api_fastapi.app import get_auth_manager

    if _may_edit(user, None) or get_auth_manager().get_authorized_dag_ids(user=user, method="PUT"):
        return
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


# -- GetActivityTask: claim the oldest offered task of an activity ----------------------------------

#: one claim at a time in this process: the TI row lock serialises claims across API servers on
#: PostgreSQL/MySQL; SQLite (one API server) has no row locks
_CLAIMING = threading.Lock()


def _activity_arn(arn: str) -> str:
    if not _ACTIVITY_ARN.match(arn):
        raise StepFunctionsError("InvalidArn", f"Invalid Arn: '{arn}' is not an activity ARN "
                                               "(arn:aws:states:<region>:<account>:activity:<name>)")
    return arn


def claim_activity_task(arn: str, worker_name: str | None, user: BaseUser) -> dict[str, Any] | None:
    """Give the oldest task offered to activity ``arn`` in a DAG ``user`` may edit to this worker:
    a new token (only its digest is kept) and the task's input; None when there is none."""
    from airflow._shared.state import TaskScope
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.state import get_state_backend
    from airflow.utils.session import create_session
    from sqlalchemy import and_, select

    from asl_airflow.integrations.activities import ACTIVITY_KEY

    waiting = _waiting_states()
    with _CLAIMING, create_session() as session:
        offers = session.execute(
            select(XComModel.dag_id, XComModel.run_id, XComModel.task_id, XComModel.map_index, XComModel.value)
            .join(TaskInstance, and_(TaskInstance.dag_id == XComModel.dag_id, TaskInstance.run_id == XComModel.run_id,
                                     TaskInstance.task_id == XComModel.task_id,
                                     TaskInstance.map_index == XComModel.map_index))
            .where(XComModel.key == ACTIVITY_KEY, TaskInstance.state.in_(waiting))
        ).all()
        candidates = []
        for dag_id, run_id, task_id, index, value in offers:
            offer = _decode(value)
            if isinstance(offer, dict) and offer.get("activity") == arn and not offer.get("started"):
                candidates.append((str(offer.get("scheduled", "")), dag_id, run_id, task_id, index))
        allowed: dict[str, bool] = {}
        for _, dag_id, run_id, task_id, index in sorted(candidates):  # oldest offer first
            if dag_id not in allowed:
                allowed[dag_id] = _may_edit(user, dag_id)
            if not allowed[dag_id]:
                continue
            where = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": index}
            ti = session.scalar(select(TaskInstance).filter_by(**where).with_for_update())
            offer = _decode(session.scalar(select(XComModel.value).filter_by(key=ACTIVITY_KEY, **where)))
            if (ti is None or ti.state not in waiting or not isinstance(offer, dict) or offer.get("started")
                    or offer.get("activity") != arn):
                continue  # taken or ended meanwhile
            token = callbacks.encode_task_token(
                callbacks.TokenTarget(dag_id, run_id, task_id, index, int(ti.try_number)), secrets.token_urlsafe(32))
            digest = callbacks.token_digest(token)
            get_state_backend().set(TaskScope(**where), callbacks.TOKEN_KEY,
                                    json.dumps({"sha256": digest, "try_number": int(ti.try_number)}), session=session)
            claim = {"workerName": worker_name, "at": datetime.now(UTC).isoformat(), "token": digest}
            XComModel.set(ACTIVITY_KEY, {**offer, "started": claim}, serialize=False, session=session, **where)
            return {"taskToken": token, "input": strictjson.dumps(offer.get("input"))}
    return None


def _activity_poll_seconds() -> float:
    from airflow.configuration import conf

    return max(conf.getfloat("asl_airflow", "activity_poll_seconds", fallback=DEFAULT_ACTIVITY_POLL_SECONDS), 0.0)


async def get_activity_task(body: GetActivityTask, user: BaseUser, request: Request | None = None) -> dict[str, Any]:
    """The long poll: a claimed task as soon as one is offered, else ``{"taskToken": null}`` after
    ``activity_poll_seconds``. Holding the poll costs no thread (it sleeps on the event loop); a
    worker that hung up claims nothing (its task would otherwise wait for a worker that is gone)."""
    arn = _activity_arn(body.activityArn)
    await run_in_threadpool(_authorize_any, user)
    deadline = time.monotonic() + _activity_poll_seconds()
    while True:
        if request is not None and await request.is_disconnected():
            return {"taskToken": None}
        task = await run_in_threadpool(claim_activity_task, arn, body.workerName, user)
        if task is not None:
            return task
        left = deadline - time.monotonic()
        if left <= 0:
            return {"taskToken": None}
        await asyncio.sleep(min(ACTIVITY_LOOK_INTERVAL, left))


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


# -- the actions ----------------------------------------------------------------------------------


def _send_task_success(body: SendTaskSuccess, user: BaseUser) -> dict[str, Any]:
    deliver(body.taskToken, user, {"status": callbacks.SUCCEEDED, "output": _output(body.output)})
    return {}


def _send_task_failure(body: SendTaskFailure, user: BaseUser) -> dict[str, Any]:
    deliver(body.taskToken, user, {"status": callbacks.FAILED, "error": body.error, "cause": body.cause})
    return {}


def _send_task_heartbeat(body: SendTaskHeartbeat, user: BaseUser) -> dict[str, Any]:
    deliver(body.taskToken, user, {"status": None, "heartbeat": datetime.now(UTC).isoformat()})
    return {}


#: X-Amz-Target action -> (request model, handler run in the thread pool; GetActivityTask is async)
_JSON_ACTIONS: dict[str, tuple[type[BaseModel], Callable[[Any, BaseUser], dict[str, Any]] | None]] = {
    "SendTaskSuccess": (SendTaskSuccess, _send_task_success),
    "SendTaskFailure": (SendTaskFailure, _send_task_failure),
    "SendTaskHeartbeat": (SendTaskHeartbeat, _send_task_heartbeat),
    "GetActivityTask": (GetActivityTask, None),
}


# -- the app --------------------------------------------------------------------------------------


def create_app() -> FastAPI:
    app = FastAPI(
        title="asl-airflow: Step Functions task tokens and activities",
        description="SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat for `.waitForTaskToken` and activity "
                    "Tasks; GetActivityTask for activity workers.",
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
        return _send_task_success(body, user)

    @app.post("/SendTaskFailure")
    def send_task_failure(body: SendTaskFailure, user: GetUserDep) -> dict[str, Any]:
        """The Task fails with ``error``/``cause``; its Retry and Catch apply."""
        return _send_task_failure(body, user)

    @app.post("/SendTaskHeartbeat")
    def send_task_heartbeat(body: SendTaskHeartbeat, user: GetUserDep) -> dict[str, Any]:
        """Restart the Task's HeartbeatSeconds clock."""
        return _send_task_heartbeat(body, user)

    @app.post("/GetActivityTask")
    async def get_activity_task_route(body: GetActivityTask, user: GetUserDep, request: Request) -> dict[str, Any]:
        """An activity worker asks for work: ``{"taskToken", "input"}``, or ``{"taskToken": null}``
        when none came within ``[asl_airflow] activity_poll_seconds`` (60)."""
        return await get_activity_task(body, user, request)

    @app.post("/", summary="Step Functions' JSON 1.0 protocol (X-Amz-Target), for AWS SDK clients")
    async def aws_json(request: Request, user: GetUserDep) -> JSONResponse:
        """``X-Amz-Target: AWSStepFunctions.<Action>`` with the action's JSON body: GetActivityTask,
        SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat; errors as the same ``{"__type", "message"}``."""
        target = request.headers.get("x-amz-target", "")
        action = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        if action not in _JSON_ACTIONS:
            raise StepFunctionsError("UnknownOperationException", f"Unknown operation {target!r}")
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise StepFunctionsError("SerializationException", f"The request body is not JSON: {exc}") from None
        model, handler = _JSON_ACTIONS[action]
        try:
            body = model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise StepFunctionsError("ValidationException", problems) from None
        if action == "GetActivityTask":
            answer = await get_activity_task(body, user, request)
        else:
            answer = await run_in_threadpool(handler, body, user)
        return JSONResponse(answer, media_type="application/x-amz-json-1.0")

    from asl_airflow.airflow.console.routes import add_routes

    add_routes(app)  # the execution view (HTML) and its JSON: history, describe
    return app


@cache
def fastapi_apps() -> list[dict[str, Any]]:
    """The plugin's ``fastapi_apps`` entry (built once, when the API server asks for it)."""
    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "asl-airflow task tokens"}]
