"""The parse-time catalog of supported Resources is the integration table, without importing it."""

from __future__ import annotations

import pytest
from asl_airflow.integrations import TABLE, resolve
from asl_airflow.integrations.catalog import SUPPORTED, problem


def test_catalog_lists_exactly_the_table():
    assert {key: set(patterns) for key, patterns in SUPPORTED.items()} == \
        {key: set(entry.patterns) for key, entry in TABLE.items()}


@pytest.mark.parametrize("resource", [
    "arn:aws:states:::sagemaker:createTrainingJob.sync",
    "arn:aws:states:::sagemaker:createModel.sync",
    "arn:aws:states:::aws-sdk:s3:getObject",
    "arn:aws:states:::nope:doIt",
    "arn:aws:lambda:us-east-1:123456789012:function:f",
    "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "arn:aws:states:us-east-1:123456789012:activity:resize",
    "arn:aws:states:us-east-1:123456789012:activity:resize.waitForTaskToken",
    "arn:aws:states:us-east-1:123456789012:stateMachine:child",
])
def test_catalog_answers_as_resolve_does(resource):
    try:
        resolve(resource)
        expected = None
    except Exception as exc:
        expected = exc.cause if hasattr(exc, "cause") else str(exc)
    assert problem(resource) == expected
