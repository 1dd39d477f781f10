"""What the Amazon provider has for other services and lacks for AWS Elemental MediaConvert: a hook,
a waiter for a job to end, and the trigger a ``mediaconvert:createJob.sync`` Task defers on.

botocore ships no MediaConvert waiter, so the waiter is a botocore waiter model (the JSON format
the provider keeps in its ``waiters/`` folder, here as data) built by the provider's own
``BaseBotoWaiter``; the trigger is the provider's ``AwsBaseWaiterTrigger`` driving it, as the
provider's triggers for other services do. Kept apart from ``mediaconvert`` (and private to the
integrations table, which skips ``_`` modules) because a hook and a trigger class subclass the
provider's classes at import time.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

#: GetJob until the job ends: COMPLETE succeeds, ERROR and CANCELED are terminal failures
JOB_COMPLETE = "job_complete"
WAITER_MODEL: dict[str, Any] = {
    "version": 2,
    "waiters": {
        JOB_COMPLETE: {
            "operation": "GetJob",
            "delay": 30,
            "maxAttempts": 2880,
            "acceptors": [
                {"matcher": "path", "argument": "Job.Status", "expected": "COMPLETE", "state": "success"},
                {"matcher": "path", "argument": "Job.Status", "expected": "ERROR", "state": "failure"},
                {"matcher": "path", "argument": "Job.Status", "expected": "CANCELED", "state": "failure"},
                {"matcher": "path", "argument": "Job.Status", "expected": "SUBMITTED", "state": "retry"},
                {"matcher": "path", "argument": "Job.Status", "expected": "PROGRESSING", "state": "retry"},
            ],
        }
    },
}


class MediaConvertHook(AwsBaseHook):
    """``AwsBaseHook`` for the ``mediaconvert`` client, with the job waiter above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "mediaconvert"
        super().__init__(*args, **kwargs)

    def get_waiter(self, waiter_name: str, parameters: dict[str, str] | None = None,
                   config_overrides: dict[str, Any] | None = None, deferrable: bool = False,
                   client: Any = None) -> Any:
        if waiter_name != JOB_COMPLETE:
            return super().get_waiter(waiter_name, parameters, config_overrides, deferrable, client)
        from airflow.providers.amazon.aws.waiters.base_waiter import BaseBotoWaiter

        if deferrable and not client:
            raise ValueError("client must be provided for a deferrable waiter.")
        model = copy.deepcopy(WAITER_MODEL)
        if config_overrides:
            model["waiters"][waiter_name].update(config_overrides)
        return BaseBotoWaiter(client=client or self.conn, model_config=model, deferrable=deferrable).waiter(waiter_name)


class MediaConvertJobCompleteTrigger(AwsBaseWaiterTrigger):
    """Fires when a MediaConvert job has ended (``{"status": "success", "job_id"}``, or ``"error"``
    when it ended ERROR or CANCELED)."""

    aws_hook_class = MediaConvertHook

    def __init__(self, *, job_id: str, waiter_delay: int = 30, waiter_max_attempts: int = 2880,
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None) -> None:
        super().__init__(
            serialized_fields={"job_id": job_id},
            waiter_name=JOB_COMPLETE,
            waiter_args={"Id": job_id},
            failure_message="MediaConvert job failed",
            status_message="Status of the MediaConvert job is",
            status_queries=["Job.Status", "Job.ErrorMessage"],
            return_key="job_id",
            return_value=job_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
        )
