"""The console's routes on the plugin's FastAPI app (mounted at ``/asl-airflow``):

- ``GET /executions/{dag_id}/{run_id}``: the execution view (HTML: the diagram as inline SVG, the
  states' data, the event table; a running execution refreshes itself);
- ``GET /executions/{dag_id}/{run_id}/history``: ``{"events": [...]}`` shaped like ``GetExecutionHistory``;
- ``GET /executions/{dag_id}/{run_id}/describe``: shaped like ``DescribeExecution``;
- ``GET /definitions/{dag_id}/diagram.svg``: the machine's diagram, the picture in the DAG's docs.

Airflow does not authenticate plugin apps: every route depends on Airflow's own
``requires_access_dag`` (the JWT or the UI's session cookie, then the auth manager), asking for read
access to the DAG's runs, as the core API's ``GET /dags/{dag_id}/dagRuns/{dag_run_id}`` does; a
Viewer may look. The API server never parses DAG files, so the definition comes from the serialized
DAG's docs (:func:`~asl_airflow.airflow.console.docs.definition_from_doc`) and the run's records.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.responses import HTMLResponse, Response

from asl_airflow.airflow.console import execution as ex
from asl_airflow.airflow.console.diagram import DiagramUnavailable, render_svg
from asl_airflow.airflow.console.docs import definition_from_doc
from asl_airflow.asl.context import ExecutionInfo

_READ_RUN = [Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.RUN))]
_READ_DAG = [Depends(requires_access_dag(method="GET"))]
_RUNNING_RUN_STATES = frozenset({"queued", "running"})


class _StateTask:
    """A serialized task seen as :func:`~asl_airflow.airflow.results.execution_result` expects the
    compiled operator (serialization keeps the display name, not the operator's own attributes)."""

    def __init__(self, task: Any, top: dict[str, Any], every: dict[str, Any], timeout: float | None) -> None:
        display = str(getattr(task, "task_display_name", None) or task.task_id)
        name = display.removesuffix(" (join)")
        if name.startswith("loop: "):
            name = name.removeprefix("loop: ").split(" → ")[0]
        self.task_id = task.task_id
        self.state_name = name if name in every else task.task_id
        self.state_type = every.get(name, {}).get("Type", "?")
        self.nested = name in every and name not in top
        self.execution_timeout_seconds = timeout


class _MachineDag:
    def __init__(self, dag: Any, machine: dict[str, Any]) -> None:
        from asl_airflow.airflow.compiler import execution_timeout_seconds

        every = ex.machine_states(machine)
        timeout = execution_timeout_seconds(machine)
        self.tasks = [_StateTask(t, machine["States"], every, timeout) for t in dag.tasks]
        self._by_id = {t.task_id: t for t in self.tasks}

    def has_task(self, task_id: str) -> bool:
        return task_id in self._by_id

    def get_task(self, task_id: str) -> _StateTask:
        return self._by_id[task_id]


@cache
def _dag_bag() -> Any:
    from airflow.models.dagbag import DBDagBag

    return DBDagBag()


def _machine_of(dag: Any, dag_id: str) -> dict[str, Any]:
    machine = definition_from_doc(getattr(dag, "doc_md", None)) if dag is not None else None
    if machine is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"DAG {dag_id!r} is not a state machine compiled by asl-airflow")
    return machine


def execution(dag_id: str, run_id: str) -> dict[str, Any]:
    """Everything the view shows for one DAG run: the definition, describe, history, per-state views."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from asl_airflow.airflow.operators import execution_input, execution_name
    from asl_airflow.airflow.results import execution_result
    from asl_airflow.asl.history import dumps

    with create_session() as session:
        dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if dag_run is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No DAG run {run_id!r} of DAG {dag_id!r}")
        dag = _dag_bag().get_dag_for_run(dag_run, session=session)
        machine = _machine_of(dag, dag_id)
        heading = str(dag.doc_md).splitlines()[0]  # docs.doc_md starts with "# <state machine name>"
        machine_name = heading.removeprefix("# ").strip() if heading.startswith("# ") else dag_id
        result = execution_result(_MachineDag(dag, machine), dag_run)
        run_state = str(dag_run.state or "")
        start, stop = dag_run.start_date, dag_run.end_date
        redrives = int(getattr(dag_run, "clear_number", 0) or 0)
        name = execution_name(run_id, dag_id)
        conf = dag_run.conf
    history = result["history"]
    running = run_state in _RUNNING_RUN_STATES
    status_ = ex.RUNNING if running else result["status"]
    if running and history and history[-1]["type"] in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut"):
        history = history[:-1]  # the run is not over: no execution event yet
    if history and history[0]["type"] == "ExecutionStarted":  # as the local engine and AWS write it
        history[0]["executionStartedEventDetails"].setdefault("roleArn", ExecutionInfo(input=None).role_arn)
    started = history[0]["executionStartedEventDetails"]["input"] if history else dumps(execution_input(conf or {}))
    live: dict[str, list[str]] = {}
    for row in result["states"]:
        live.setdefault(row["state"], []).append(row["status"])
    describe = ex.describe_execution(
        machine_name=machine_name, execution_name=name, status=status_, input_=started,
        output=dumps(result["output"]) if status_ == ex.SUCCEEDED else None,
        error=result["error"] if status_ != ex.RUNNING else None,
        cause=result["cause"] if status_ != ex.RUNNING else None,
        start=start, stop=None if running else stop, redrive_count=redrives,
    )
    return {
        "machine": machine,
        "describe": describe,
        "history": history,
        "states": ex.state_views(machine, history, status_, live),
        "rows": ex.event_rows(history),
        "dag_id": dag_id,
        "run_id": run_id,
    }


def _asset(name: str) -> str:
    return resources.files("asl_airflow.airflow.console").joinpath(name).read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``, no HTML comment)."""
    return (json.dumps(value, default=str).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def render_page(view: dict[str, Any]) -> str:
    """The execution view's HTML: one self-contained page (CSS and script inline, no CDN)."""
    states = view["states"]
    try:
        diagram = render_svg(view["machine"], {n: s["status"] for n, s in states.items()},
                             {n: s["iterations"] for n, s in states.items()},
                             {n: s["type"] for n, s in states.items()})
    except DiagramUnavailable as exc:
        diagram = f'<p class="asl-unavailable">The diagram is not available: {html.escape(str(exc))}</p>'
    describe = view["describe"]
    model = {
        "dagId": view["dag_id"], "runId": view["run_id"], "describe": describe,
        "states": states, "rows": view["rows"],
    }
    replacements = {
        "{{title}}": html.escape(f"{describe['name']} · {view['dag_id']}"),
        "{{css}}": _asset("console.css"),
        "{{script}}": _asset("console.js"),
        "{{diagram}}": diagram,
        "{{model}}": _script_json(model),
        "{{machine}}": html.escape(view["dag_id"]),
        "{{name}}": html.escape(describe["name"]),
        "{{status}}": html.escape(describe["status"]),
    }
    page = _asset("page.html")
    for key, value in replacements.items():
        page = page.replace(key, value)
    return page


def add_routes(app: FastAPI) -> None:
    """Register the console's routes on the plugin's app."""

    @app.get("/executions/{dag_id}/{run_id}", response_class=HTMLResponse, dependencies=_READ_RUN)
    def execution_view(dag_id: str, run_id: str) -> HTMLResponse:
        """The "ASL execution" view of one DAG run."""
        return HTMLResponse(render_page(execution(dag_id, run_id)), headers={"Cache-Control": "no-store"})

    @app.get("/executions/{dag_id}/{run_id}/history", dependencies=_READ_RUN)
    def execution_history(dag_id: str, run_id: str) -> dict[str, Any]:
        """``GetExecutionHistory``: the run's events, oldest first."""
        return {"events": execution(dag_id, run_id)["history"]}

    @app.get("/executions/{dag_id}/{run_id}/describe", dependencies=_READ_RUN)
    def execution_describe(dag_id: str, run_id: str) -> dict[str, Any]:
        """``DescribeExecution``: status, input, output, error, cause, start and stop dates, ARNs."""
        return execution(dag_id, run_id)["describe"]

    @app.get("/definitions/{dag_id}/diagram.svg", dependencies=_READ_DAG)
    def definition_diagram(dag_id: str) -> Response:
        """The machine's diagram without an execution: the picture in the DAG's docs."""
        from airflow.utils.session import create_session

        with create_session() as session:
            dag = _dag_bag().get_latest_version_of_dag(dag_id, session=session)
        machine = _machine_of(dag, dag_id)
        try:
            types = {n: s.get("Type", "?") for n, s in ex.machine_states(machine).items()}
            svg = render_svg(machine, None, None, types)
        except DiagramUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})
