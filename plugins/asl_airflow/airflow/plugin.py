"""The AirflowPlugin (entry point ``airflow.plugins``)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class AslAirflowPlugin(AirflowPlugin):
    """Registers asl-airflow with Airflow; the task-token API app is added by the integrations work."""

    name = "asl_airflow"
