"""Request shaping, failure rules and error names of ``ecs:runTask``, without a network (RunTask's
``Failures`` answered by botocore's Stubber)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import ecs
from asl_airflow.integrations.base import CallJournal, ServiceCall

RUN = "arn:aws:states:::ecs:runTask"
PARAMETERS = {
    "Cluster": "c", "TaskDefinition": "job:3", "LaunchType": "FARGATE", "PropagateTags": "TASK_DEFINITION",
    "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["s-1"], "AssignPublicIp": "ENABLED"}},
    "Overrides": {"ContainerOverrides": [{"Name": "app", "Command": ["run", "--fast"],
                                          "Environment": [{"Name": "TOKEN", "Value": "t"}]}]},
    "Tags": [{"Key": "team", "Value": "data"}], "NotARunTaskField": 1,
}


class Store(dict):
    def set(self, key, value):
        self[key] = value


def _call(resource: str, pattern: str, journal: CallJournal | None = None, parameters=None) -> ServiceCall:
    return ServiceCall(resource, "ecs", "runTask", pattern, PARAMETERS if parameters is None else parameters,
                       journal=journal)


def test_request_is_renamed_by_the_model():
    assert ecs.run_task_request(_call(RUN, "")) == {
        "cluster": "c", "taskDefinition": "job:3", "launchType": "FARGATE", "propagateTags": "TASK_DEFINITION",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s-1"], "assignPublicIp": "ENABLED"}},
        "overrides": {"containerOverrides": [{"name": "app", "command": ["run", "--fast"],
                                              "environment": [{"name": "TOKEN", "value": "t"}]}]},
        "tags": [{"key": "team", "value": "data"}],
    }


def test_sync_is_started_by_step_functions_with_the_attempt_token():
    journal = CallJournal(Store(), 0, "6a1f0f9e-8c4e-5b0e-9d4c-3f1e2d7a9b10")
    request = ecs.run_task_request(_call(f"{RUN}.sync", ".sync", journal))
    assert request["startedBy"] == "AWS Step Functions"
    assert request["clientToken"] == "6a1f0f9e-8c4e-5b0e-9d4c-3f1e2d7a9b10"
    own = ecs.run_task_request(_call(f"{RUN}.sync", ".sync", journal, {**PARAMETERS, "ClientToken": "mine"}))
    assert own["clientToken"] == "mine"
    assert "clientToken" not in ecs.run_task_request(_call(f"{RUN}.sync", ".sync"))  # local engine: no attempt


@pytest.mark.parametrize(("containers", "failed"), [
    ([{"name": "app", "exitCode": 0}], False),
    ([{"name": "app", "exitCode": 0}, {"name": "log_router", "exitCode": 137}], True),  # any container, as AWS
    ([{"name": "app", "exitCode": 1}], True),
    ([{"name": "app", "reason": "CannotPullContainerError: ..."}], True),  # never ran to an exit
    ([], True),
])
def test_a_stopped_task_failed_when_a_container_did_not_exit_zero(containers, failed):
    assert ecs.task_failed({"lastStatus": "STOPPED", "containers": containers}) is failed


def _stubbed(monkeypatch, response: dict):
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(client)
    stubber.add_response("run_task", response)
    stubber.activate()
    monkeypatch.setattr(ecs, "_hook", lambda call: SimpleNamespace(conn=client))
    return stubber


INSTANCE = "arn:aws:ecs:us-east-1:1:container-instance/x"
FAILURES = {"tasks": [], "failures": [{"arn": INSTANCE, "reason": "RESOURCE:MEMORY"}]}


def test_failures_do_not_fail_request_response(monkeypatch):
    _stubbed(monkeypatch, FAILURES)
    result = ecs.start(_call(RUN, ""), {})
    assert result["Failures"] == [{"Arn": INSTANCE, "Reason": "RESOURCE:MEMORY"}]
    assert result["Tasks"] == []


@pytest.mark.parametrize("resource", [f"{RUN}.waitForTaskToken", f"{RUN}.sync"])
def test_failures_fail_sync_and_task_token_with_amazon_ecs_unknown(monkeypatch, resource):
    _stubbed(monkeypatch, FAILURES)
    pattern = ".sync" if resource.endswith(".sync") else ""  # the token wrapper makes the request-response call
    with pytest.raises(AslError) as caught:
        ecs.start(_call(resource, pattern), {})
    assert caught.value.error == "AmazonECS.Unknown"
    assert '"Reason":"RESOURCE:MEMORY"' in caught.value.cause


def test_errors_keep_their_declared_names_and_the_rest_is_amazon_ecs_exception():
    import boto3
    from botocore.exceptions import ClientError, ParamValidationError

    client = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    meta = {"HTTPStatusCode": 400, "RequestId": "r1"}
    declared = client.exceptions.ClusterNotFoundException(
        {"Error": {"Code": "ClusterNotFoundException", "Message": "Cluster not found."}, "ResponseMetadata": meta},
        "RunTask")
    assert ecs.ecs_error(declared).error == "ECS.ClusterNotFoundException"
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                             "ResponseMetadata": meta}, "RunTask")
    error = ecs.ecs_error(throttled)
    assert error.error == "ECS.AmazonECSException"
    assert error.cause == ("Rate exceeded (Service: AmazonECS; Status Code: 400; Error Code: ThrottlingException; "
                           "Request ID: r1; Proxy: null)")
    assert ecs.ecs_error(ParamValidationError(report="Missing taskDefinition")).error == "ECS.InvalidParameterException"
    assert ecs.ecs_error(ValueError("not AWS")) is None
