"""Provider metadata (entry point ``apache_airflow_provider``), so Airflow lists asl-airflow as a provider.

The plugin is NOT declared here: the ``airflow.plugins`` entry point registers it, and declaring it
in both places made Airflow load it twice ("Plugin 'asl_airflow' already registered, skipping",
shown as a plugin import error on the home page). The ``[asl_airflow]`` options are declared here
so ``airflow config list`` / ``get-value`` know them and their defaults.
"""

from __future__ import annotations

from typing import Any

from asl_airflow import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "asl-airflow",
        "name": "AWS Step Functions (ASL) on Airflow",
        "description": "Run Amazon States Language state machines as Airflow DAGs.",
        "versions": [__version__],
        "config": {"asl_airflow": {"description": "asl-airflow: how ASL states run on this deployment.",
                                   "options": _OPTIONS}},
    }


def _option(description: str, type_: str, default: str) -> dict[str, Any]:
    return {"description": description, "version_added": "0.1.0", "type": type_, "example": None,
            "default": default}


_OPTIONS = {
    "min_defer_seconds": _option(
        "A Wait (or a loop region's Wait) shorter than this many seconds waits in the worker instead of "
        "deferring, and a deferred Task's trigger event is held until this long after the deferral. "
        "Below a few seconds a deferral can come back before the scheduler has processed it, and "
        "LocalExecutor then fails the task ('finished with state success, but the task instance's "
        "state attribute is queued'). A re-run of the same attempt holds twice as long each time. "
        "Raise it when the scheduler lags more than this behind its executor. 0 always defers.", "float", "5"),
    "task_token_poll_interval": _option(
        "Seconds between two looks of a .waitForTaskToken or activity trigger for its callback.", "float", "2"),
    "activity_poll_seconds": _option(
        "How long GetActivityTask holds an activity worker's poll when no task is offered before it answers "
        "with no task (Step Functions holds it 60 seconds).", "float", "60"),
    "reconnect_tries": _option(
        "Airflow tries a Task gets on top of its ASL retries, to re-run an attempt a worker crash cut "
        "short (0 turns crash recovery off).", "integer", "3"),
    "reconnect_delay": _option(
        "Seconds before such a re-run (Airflow's retry_delay for failures no ASL retrier sees).", "float", "5"),
    "stop_poll_interval": _option(
        "Seconds between two looks, by a waiting Parallel branch task, at whether a sibling branch failed "
        "(Step Functions then stops the branch).", "float", "2"),
    "mock_config": _option(
        "Path of a Step Functions Local MockConfigFile: the Task states of mock_test_case are answered from it "
        "(no AWS call), for a dev deployment without AWS.", "string", ""),
    "mock_config_json": _option("The same MockConfigFile as JSON text (instead of mock_config).", "string", ""),
    "mock_test_case": _option("The MockConfigFile's test case to run.", "string", ""),
    "mock_state_machine": _option(
        "The MockConfigFile's state machine name (default: each DAG's definition file name).", "string", ""),
}
