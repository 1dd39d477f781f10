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

from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from asl_airflow.integrations._waiter_hook import ModelWaiterHook

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


class MediaConvertHook(ModelWaiterHook):
    """``AwsBaseHook`` for the ``mediaconvert`` client, with the waiter above."""

    client_type_name = "mediaconvert"
    waiter_model = WAITER_MODEL


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
