"""CodeBuild's ``.sync`` ending and request (the paths moto cannot show: its builds always succeed and
it ignores idempotency tokens); the local stack runs the rest (tests/integration/test_integrations_codebuild.py)."""

from __future__ import annotations

import json

import pytest
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import codebuild
from asl_airflow.integrations.base import REQUEST_RESPONSE, SYNC, ServiceCall


@pytest.mark.parametrize("status", ["FAILED", "FAULT", "STOPPED", "TIMED_OUT"])
def test_a_build_that_ended_badly_is_task_failed_with_the_build_as_cause(status: str) -> None:
    build = {"Build": {"Id": "p:1", "BuildStatus": status, "CurrentPhase": "COMPLETED"}}
    with pytest.raises(AslError) as caught:
        codebuild.ended(build)
    assert caught.value.error == "States.TaskFailed" and json.loads(caught.value.cause) == build


def test_a_succeeded_build_is_the_output() -> None:
    build = {"Build": {"Id": "p:1", "BuildStatus": "SUCCEEDED"}}
    assert codebuild.ended(build) is build


class _Journal:
    """What ``attempt_token`` reads of the Airflow engine's journal of an ASL attempt."""

    def __init__(self, token: str) -> None:
        self.token = token


def _call(pattern: str, parameters: dict, token: str) -> ServiceCall:
    resource = "arn:aws:states:::codebuild:startBuild" + pattern
    return ServiceCall(resource, "codebuild", "startBuild", pattern, parameters, journal=_Journal(token))


def test_a_sync_attempt_sends_its_idempotency_token_in_codebuild_names() -> None:
    parameters = {"ProjectName": "p", "SourceVersion": "abc", "Unknown": 1,
                  "EnvironmentVariablesOverride": [{"Name": "A", "Value": "1", "Type": "PLAINTEXT"}]}
    request = codebuild.start_build_request(_call(SYNC, parameters, "tok-1"))
    assert request == {"projectName": "p", "sourceVersion": "abc", "idempotencyToken": "tok-1",
                       "environmentVariablesOverride": [{"name": "A", "value": "1", "type": "PLAINTEXT"}]}
    own = codebuild.start_build_request(_call(SYNC, {"ProjectName": "p", "IdempotencyToken": "mine"}, "tok-1"))
    assert own["idempotencyToken"] == "mine"
    assert "idempotencyToken" not in codebuild.start_build_request(_call(REQUEST_RESPONSE, {"ProjectName": "p"},
                                                                         "tok-1"))
