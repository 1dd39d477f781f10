"""Resource ARNs to integration entries, and exceptions to Step Functions error names."""

from __future__ import annotations

import pytest
from asl_airflow.integrations import resolve
from asl_airflow.integrations.base import parse_resource
from asl_airflow.integrations.errors import to_asl_error


@pytest.mark.parametrize(("resource", "expected"), [
    ("arn:aws:states:::lambda:invoke", ("lambda", "invoke", "")),
    ("arn:aws:states:::lambda:invoke.waitForTaskToken", ("lambda", "invoke", ".waitForTaskToken")),
    ("arn:aws:states:::sagemaker:createTrainingJob.sync", ("sagemaker", "createTrainingJob", ".sync")),
    ("arn:aws-us-gov:states:::sagemaker:createModel", ("sagemaker", "createModel", "")),
    ("arn:aws:lambda:us-east-1:123456789012:function:f", ("lambda", "arn", "")),
    ("arn:aws:lambda:us-east-1:123456789012:function:f:prod", ("lambda", "arn", "")),
    ("arn:aws:states:::aws-sdk:s3:listBuckets", ("aws-sdk:s3", "listBuckets", "")),
])
def test_parse_resource(resource, expected):
    assert parse_resource(resource) == expected


def test_unsupported_pattern_is_a_clear_error():
    with pytest.raises(Exception, match="does not support the .sync pattern"):
        resolve("arn:aws:states:::sagemaker:createModel.sync")


class _ClientError(Exception):
    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


def test_service_errors_get_step_functions_names():
    entry, *_ = resolve("arn:aws:states:::lambda:invoke")
    from asl_airflow.integrations.base import ServiceCall

    call = ServiceCall("r", "lambda", "invoke", "", {})
    assert to_asl_error(_ClientError("ServiceException", 500), entry, call).error == "Lambda.ServiceException"
    assert to_asl_error(_ClientError("TooManyRequestsException", 429), entry, call).error == \
        "Lambda.TooManyRequestsException"
    sm, *_ = resolve("arn:aws:states:::sagemaker:createModel")
    assert to_asl_error(_ClientError("ValidationException", 400), sm, call).error == \
        "SageMaker.AmazonSageMakerException"
    assert to_asl_error(RuntimeError("boom"), None, None).error == "States.TaskFailed"
