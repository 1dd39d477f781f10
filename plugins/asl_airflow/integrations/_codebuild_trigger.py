"""What the Amazon provider lacks for AWS CodeBuild: a hook, a waiter for a build to end, and the
trigger a ``codebuild:startBuild.sync`` Task defers on.

botocore ships no CodeBuild waiter, so the waiter is a botocore waiter model (the JSON format the
provider keeps in its ``waiters/`` folder, here as data) built by the provider's ``BaseBotoWaiter``;
the trigger is the provider's ``AwsBaseWaiterTrigger`` driving it, as the provider's triggers for
other services do. Kept apart from ``codebuild`` (private to the integrations table, which skips
``_`` modules) because the hook and trigger subclass the provider's classes at import time.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

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


class CodeBuildHook(AwsBaseHook):
    """``AwsBaseHook`` for the ``codebuild`` client, with the build waiter above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "codebuild"
        super().__init__(*args, **kwargs)

    def get_waiter(self, waiter_name: str, parameters: dict[str, str] | None = None,
                   config_overrides: dict[str, Any] | None = None, deferrable: bool = False,
                   client: Any = None) -> Any:
        if waiter_name != BUILD_COMPLETE:
            return super().get_waiter(waiter_name, parameters, config_overrides, deferrable, client)
        from airflow.providers.amazon.aws.waiters.base_waiter import BaseBotoWaiter

        if deferrable and not client:
            raise ValueError("client must be provided for a deferrable waiter.")
        model = copy.deepcopy(WAITER_MODEL)
        if config_overrides:
            model["waiters"][waiter_name].update(config_overrides)
        return BaseBotoWaiter(client=client or self.conn, model_config=model, deferrable=deferrable).waiter(waiter_name)


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
