"""The local stack's DataSync: an execution nobody polls to the end does not block the task forever.

moto frees a DataSync task only when a describe shows its execution SUCCESS; after one failed
ingestion run every later run failed in ``Start transfer`` (InvalidRequestException) until the
stack was restarted. The local stack's server lets executions finish by themselves, as AWS's do.
"""

from __future__ import annotations

import time

import pytest
from asl_airflow import devstack
from botocore.exceptions import ClientError

STEP = 0.5  # seconds per status in this test's server (ASL_DATASYNC_STATUS_SECONDS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = devstack.start(log_dir=tmp_path_factory.mktemp("datasync"), seed=False,
                           extra_env={"ASL_DATASYNC_STATUS_SECONDS": str(STEP)})
    try:
        yield stack
    finally:
        devstack.stop(stack.pid)


def _task(stack, name: str) -> tuple[object, str]:
    datasync, s3 = stack.client("datasync"), stack.client("s3")
    s3.create_bucket(Bucket=f"share-{name}")
    source = datasync.create_location_s3(S3BucketArn=f"arn:aws:s3:::share-{name}", Subdirectory="/a/",
                                         S3Config={"BucketAccessRoleArn": "arn:aws:iam::123456789012:role/r"})
    target = datasync.create_location_s3(S3BucketArn=f"arn:aws:s3:::share-{name}", Subdirectory="/b/",
                                         S3Config={"BucketAccessRoleArn": "arn:aws:iam::123456789012:role/r"})
    task = datasync.create_task(SourceLocationArn=source["LocationArn"],
                                DestinationLocationArn=target["LocationArn"], Name=name)["TaskArn"]
    return datasync, task


def test_an_abandoned_execution_finishes_and_frees_the_task(stack):
    datasync, task = _task(stack, "abandoned")
    first = datasync.start_task_execution(TaskArn=task)["TaskExecutionArn"]
    datasync.describe_task_execution(TaskExecutionArn=first)  # the run polled once, then failed
    with pytest.raises(ClientError) as busy:  # still transferring: the task is busy, as on AWS
        datasync.start_task_execution(TaskArn=task)
    assert busy.value.response["Error"]["Code"] == "InvalidRequestException"
    time.sleep(5 * STEP + 0.5)  # every status has had its time
    second = datasync.start_task_execution(TaskArn=task)["TaskExecutionArn"]
    assert second != first
    assert datasync.describe_task_execution(TaskExecutionArn=first)["Status"] == "SUCCESS"


def test_a_polled_execution_still_shows_every_status(stack):
    datasync, task = _task(stack, "polled")
    arn = datasync.start_task_execution(TaskArn=task)["TaskExecutionArn"]
    seen = [datasync.describe_task_execution(TaskExecutionArn=arn)["Status"] for _ in range(5)]
    assert seen == ["INITIALIZING", "PREPARING", "TRANSFERRING", "VERIFYING", "SUCCESS"]
    datasync.start_task_execution(TaskArn=task)  # free again at once
