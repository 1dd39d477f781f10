"""Request shaping, the job waiter and error names of ``mediaconvert:createJob``, without a network."""

from __future__ import annotations

import pytest
from asl_airflow.integrations import mediaconvert
from asl_airflow.integrations.base import CallJournal, ServiceCall

CREATE = "arn:aws:states:::mediaconvert:createJob"


class Store(dict):
    def set(self, key, value):
        self[key] = value


def _call(pattern: str, parameters: dict, journal: CallJournal | None = None) -> ServiceCall:
    return ServiceCall(CREATE + pattern, "mediaconvert", "createJob", pattern, parameters, journal=journal)


def test_the_job_is_tagged_for_step_functions_and_unknown_fields_are_dropped():
    request = mediaconvert.create_job_request(_call("", {
        "Role": "r", "Settings": {"Inputs": [{"FileInput": "s3://b/k"}]}, "Tags": {"team": "media"},
        "UserMetadata": {"lowercase key": "kept"}, "NotACreateJobField": 1}))
    assert request == {"Role": "r", "Settings": {"Inputs": [{"FileInput": "s3://b/k"}]},
                       "Tags": {"team": "media", "ManagedByService": "AWSStepFunctions"},
                       "UserMetadata": {"lowercase key": "kept"}}


def test_a_sync_attempt_sends_its_own_client_request_token():
    journal = CallJournal(Store(), 0, "1d3c2a6e-0b7e-5f4c-8a9d-2e6f4b1c0a99")
    assert mediaconvert.create_job_request(_call(".sync", {"Role": "r"}, journal))["ClientRequestToken"] == \
        "1d3c2a6e-0b7e-5f4c-8a9d-2e6f4b1c0a99"
    assert mediaconvert.create_job_request(
        _call(".sync", {"Role": "r", "ClientRequestToken": "mine"}, journal))["ClientRequestToken"] == "mine"
    assert "ClientRequestToken" not in mediaconvert.create_job_request(_call("", {"Role": "r"}, journal))


@pytest.mark.parametrize(("status", "state"), [
    ("COMPLETE", "success"), ("ERROR", "failure"), ("CANCELED", "failure"), ("PROGRESSING", "retry"),
    ("SUBMITTED", "retry"),
])
def test_the_job_waiter_ends_on_complete_error_and_canceled(status, state):
    from asl_airflow.integrations._mediaconvert_trigger import JOB_COMPLETE, WAITER_MODEL
    from botocore.waiter import WaiterModel

    waiter = WaiterModel(WAITER_MODEL).get_waiter(JOB_COMPLETE)
    assert waiter.operation == "GetJob"
    matched = [a.state for a in waiter.acceptors if a.matcher_func({"Job": {"Status": status}})]
    assert matched == [state]


def test_the_trigger_serializes_for_the_triggerer():
    from asl_airflow.integrations._mediaconvert_trigger import MediaConvertHook, MediaConvertJobCompleteTrigger

    classpath, kwargs = MediaConvertJobCompleteTrigger(job_id="123-abc", waiter_delay=5, waiter_max_attempts=9,
                                                       region_name="eu-west-1").serialize()
    assert classpath == "asl_airflow.integrations._mediaconvert_trigger.MediaConvertJobCompleteTrigger"
    assert kwargs["job_id"] == "123-abc" and kwargs["waiter_delay"] == 5 and kwargs["region_name"] == "eu-west-1"
    assert MediaConvertJobCompleteTrigger(**kwargs).hook().client_type == "mediaconvert"
    assert issubclass(MediaConvertJobCompleteTrigger.aws_hook_class, MediaConvertHook)


def test_errors_keep_their_declared_names_and_the_rest_is_the_generic_exception():
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("mediaconvert", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    meta = {"HTTPStatusCode": 400, "RequestId": "r1"}
    declared = client.exceptions.BadRequestException(
        {"Error": {"Code": "BadRequestException", "Message": "bad"}, "ResponseMetadata": meta}, "CreateJob")
    assert mediaconvert.mediaconvert_error(declared).error == "MediaConvert.BadRequestException"
    other = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}, "ResponseMetadata": meta},
                        "CreateJob")
    error = mediaconvert.mediaconvert_error(other)
    assert error.error == "MediaConvert.AWSMediaConvertException"
    assert error.cause.endswith("(Service: AWSMediaConvert; Status Code: 400; Error Code: AccessDeniedException; "
                                "Request ID: r1; Proxy: null)")
