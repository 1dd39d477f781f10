"""The AirflowPlugin (entry point ``airflow.plugins``)."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin


class _TaskTokenApps:
    """``fastapi_apps``, built on first read: only Airflow's API server reads it.

    Every Airflow process loads plugins (workers, the DAG processor, the triggerer); building the
    app there would import FastAPI and the API server's security module for nothing.
    """

    def __get__(self, instance: Any, owner: Any = None) -> list[dict[str, Any]]:
        from asl_airflow.airflow.callback_api import fastapi_apps

        return fastapi_apps()


def _execution_view() -> dict[str, Any]:
    from asl_airflow.airflow.console import URL_PREFIX
    from asl_airflow.airflow.console.docs import api_base_path

    return {
        "name": "ASL execution",
        "href": f"{api_base_path()}{URL_PREFIX}/executions/{{DAG_ID}}/{{RUN_ID}}",
        "destination": "dag_run",
        "url_route": "asl-execution",
    }


class AslAirflowPlugin(AirflowPlugin):
    """Registers asl-airflow with Airflow: the SendTaskSuccess/Failure/Heartbeat API for task tokens
    (``/asl-airflow/...`` on the API server, behind Airflow's authentication)."""

    name = "asl_airflow"
    fastapi_apps = _TaskTokenApps()  # type: ignore[assignment]
    #: the "ASL execution" tab of every DAG run: the plugin app's server-rendered page in the UI's
    #: iframe (``url_route``), so the same page is also a plain URL (bookmarks, tests, no UI build);
    #: ``react_apps`` would need a React bundle built against the UI's plugin contract for no gain
    external_views = [_execution_view()]
