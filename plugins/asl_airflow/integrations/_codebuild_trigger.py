"""What the Amazon provider lacks for AWS CodeBuild: a hook, a waiter for a build to end, and the
trigger a ``codebuild:startBuild.sync`` Task defers on.

botocore ships no CodeBuild waiter, so the waiter is a botocore waiter model (the JSON format the
provider keeps in its ``waiters/`` folder, here as data) built by the provider's ``BaseBotoWaiter``;
the trigger is the provider's ``AwsBaseWaiterTrigger`` driving it, as the provider's triggers for
other services do. Kept apart from ``codebuild`` (private to the integrations table, which skips
``_`` modules) because the hook and trigger subclass the provider's classes at import time.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from asl_airflow.integrations._waiter_hook import ModelWaiterHook

#: BatchGetBuilds until the build ends: SUCCEEDED succeeds; FAILED, FAULT, STOPPED, TIMED_OUT are
#: terminal failures (CodeBuild's buildStatus values)
BUILD_COMPLETE = "build_complete"
_STATUS = "builds[0].buildStatus"
WAITER_MODEL: dict[str, Any] = {
    "version": 2,
    "waiters": {
        BUILD_COMPLETE: {
            "operation": "BatchGetBuilds",
            "delay": 30,
            "maxAttempts": 2880,
            "acceptors": [
                {"matcher": "path", "argument": _STATUS, "expected": "SUCCEEDED", "state": "success"},
                *({"matcher": "path", "argument": _STATUS, "expected": status, "state": "failure"}
                  for status in ("FAILED", "FAULT", "STOPPED", "TIMED_OUT")),
                {"matcher": "path", "argument": _STATUS, "expected": "IN_PROGRESS", "state": "retry"},
            ],
        }
    },
}


class CodeBuildHook(ModelWaiterHook):
    """``AwsBaseHook`` for the ``codebuild`` client, with the waiter above."""

    client_type_name = "codebuild"
    waiter_model = WAITER_MODEL


class CodeBuildCompleteTrigger(AwsBaseWaiterTrigger):
    """Fires when a CodeBuild build has ended (``{"status": "success", "build_id"}``, or ``"error"``
    when it ended FAILED, FAULT, STOPPED or TIMED_OUT)."""

    aws_hook_class = CodeBuildHook

    def __init__(self, *, build_id: str, waiter_delay: int = 30, waiter_max_attempts: int = 2880,
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None) -> None:
        super().__init__(
            serialized_fields={"build_id": build_id},
            waiter_name=BUILD_COMPLETE,
            waiter_args={"ids": [build_id]},
            failure_message="CodeBuild build failed",
            status_message="Status of the CodeBuild build is",
            status_queries=[_STATUS, "builds[0].currentPhase"],
            return_key="build_id",
            return_value=build_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
        )
