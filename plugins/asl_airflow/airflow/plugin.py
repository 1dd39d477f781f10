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


class AslAirflowPlugin(AirflowPlugin):
    """Registers asl-airflow with Airflow: the SendTaskSuccess/Failure/Heartbeat API for task tokens
    (``/asl-airflow/...`` on the API server, behind Airflow's authentication)."""

    name = "asl_airflow"
    fastapi_apps = _TaskTokenApps()  # type: ignore[assignment]
