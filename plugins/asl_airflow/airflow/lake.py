"""Moving a checked batch from one lake zone to the next (raw -> curated), after its quality gate.

A layer's machine lands a batch under a raw-zone prefix; :class:`~asl_airflow.airflow.quality.GxCheckOperator`
validates exactly that prefix; :class:`PromoteOperator` below it copies the batch to the curated zone
and carries the ``outlets`` Asset, so the curated zone, and the layers scheduled on it, only ever see
batches that passed. Copies are server-side (S3 CopyObject through the Amazon provider's ``S3Hook``)
and keyed like the source, so promoting the same batch twice writes the same objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


class PromoteOperator(BaseOperator):
    """Copy every object under ``s3://bucket/source_prefix`` to ``target_prefix`` (same relative keys)."""

    template_fields: Sequence[str] = ("source_prefix", "target_prefix")
    ui_color = "#cfe8ff"

    def __init__(self, *, bucket: str, source_prefix: str, target_prefix: str,
                 aws_conn_id: str = "aws_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.source_prefix = source_prefix
        self.target_prefix = target_prefix
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> list[str]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.sdk.exceptions import AirflowFailException

        hook = S3Hook(aws_conn_id=self.aws_conn_id)
        keys = hook.list_keys(bucket_name=self.bucket, prefix=self.source_prefix) or []
        if not keys:
            raise AirflowFailException(f"nothing to promote under s3://{self.bucket}/{self.source_prefix}")
        promoted = []
        for key in sorted(keys):
            target = self.target_prefix + key[len(self.source_prefix):]
            hook.copy_object(source_bucket_key=key, dest_bucket_key=target,
                             source_bucket_name=self.bucket, dest_bucket_name=self.bucket)
            promoted.append(f"s3://{self.bucket}/{target}")
        self.log.info("promoted %d objects to s3://%s/%s", len(promoted), self.bucket, self.target_prefix)
        return promoted
