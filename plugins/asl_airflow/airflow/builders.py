"""The public builders: ``asl_dag`` (a whole DAG) and ``AslTaskGroup`` (a machine inside a DAG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG, TaskGroup

from asl_airflow.airflow.compiler import compile_states, execution_timeout_seconds
from asl_airflow.airflow.console.docs import doc_md
from asl_airflow.asl.definition import Definition, load_definition


def _doc(definition: Definition, dag_id: str, extra: str | None = None) -> str:
    """The DAG's docs (:func:`~asl_airflow.airflow.console.docs.doc_md`): the diagram as a picture,
    the way to the execution view, the definition file named as the project names it, and the ASL,
    which is also how the API server's execution view learns the machine."""
    return doc_md(definition.name, dag_id, definition.document, definition.source, extra)


def asl_dag(
    definition: str | Path | dict[str, Any] | Definition,
    dag_id: str | None = None,
    *,
    substitutions: dict[str, Any] | None = None,
    aws_conn_id: str = "aws_default",
    region_name: str | None = None,
    state_machine: str | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG that runs the state machine; extra keyword arguments go to ``DAG`` (schedule, tags, ...).
    ``state_machine`` names the resource when ``definition`` is a SAM/CloudFormation template."""
    loaded = load_definition(definition, substitutions, state_machine=state_machine)
    dag_kwargs.setdefault("schedule", None)
    timeout = execution_timeout_seconds(loaded.document)
    if timeout:  # the scheduler's backstop for the machine's TimeoutSeconds (tasks check it themselves)
        from datetime import timedelta

        dag_kwargs.setdefault("dagrun_timeout", timedelta(seconds=timeout))
    dag_kwargs.setdefault("catchup", False)
    dag_id = dag_id or loaded.name.replace(" ", "_")
    dag_kwargs["doc_md"] = _doc(loaded, dag_id, dag_kwargs.pop("doc_md", None))  # yours first, then the machine
    dag_kwargs.setdefault("description", loaded.document.get("Comment", f"ASL state machine {loaded.name}")[:200])
    tags = set(dag_kwargs.pop("tags", None) or [])
    dag_kwargs["tags"] = sorted(tags | {"asl"})
    with DAG(dag_id, **dag_kwargs) as dag:
        compile_states(loaded, aws_conn_id=aws_conn_id, region_name=region_name)
    return dag


def AslTaskGroup(  # noqa: N802 - reads like the TaskGroup it returns
    definition: str | Path | dict[str, Any] | Definition,
    group_id: str,
    *,
    substitutions: dict[str, Any] | None = None,
    aws_conn_id: str = "aws_default",
    region_name: str | None = None,
    state_machine: str | None = None,
    **group_kwargs: Any,
) -> TaskGroup:
    """A TaskGroup running the machine inside a larger DAG (input: the DAG run's conf)."""
    loaded = load_definition(definition, substitutions, state_machine=state_machine)
    group_kwargs.setdefault("tooltip", loaded.document.get("Comment", loaded.name))
    with TaskGroup(group_id, **group_kwargs) as group:
        compile_states(loaded, aws_conn_id=aws_conn_id, region_name=region_name)
    return group


def success_ends(dag_or_group: Any, state: str | None = None) -> list[Any]:
    """The tasks through which the compiled machine ends SUCCEEDED (``state``: only the ones of
    that end state, when the machine has several ends and only one of them landed the data).

    Hang work that must run only after the execution succeeded (a data-quality check, a dataset
    event for the next layer) below these with ``trigger_rule="none_failed_min_one_success"``:
    exactly one of them runs in a successful execution, and none succeeds in a failed one.
    """
    tasks = dag_or_group.iter_tasks() if hasattr(dag_or_group, "iter_tasks") else dag_or_group.tasks
    return [task for task in tasks if getattr(task, "ends_execution", False)
            and (state is None or getattr(task, "state_name", None) == state)]
