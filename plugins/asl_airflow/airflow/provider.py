"""Provider metadata (entry point ``apache_airflow_provider``), so Airflow lists asl-airflow as a provider."""

from __future__ import annotations

from typing import Any

from asl_airflow import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "asl-airflow",
        "name": "AWS Step Functions (ASL) on Airflow",
        "description": "Run Amazon States Language state machines as Airflow DAGs.",
        "versions": [__version__],
        "plugins": [{"name": "asl_airflow", "plugin-class": "asl_airflow.airflow.plugin.AslAirflowPlugin"}],
    }
