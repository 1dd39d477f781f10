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


@pytest.mark.parametrize("status,state", [("SUCCEEDED", "success"), ("IN_PROGRESS", "retry"), ("FAILED", "failure"),
                                          ("FAULT", "failure"), ("STOPPED", "failure"), ("TIMED_OUT", "failure")])
def test_the_waiter_model_reads_batch_get_builds(status: str, state: str) -> None:
    from asl_airflow.integrations._codebuild_trigger import BUILD_COMPLETE, WAITER_MODEL
    from botocore.waiter import WaiterModel

    waiter = WaiterModel(WAITER_MODEL).get_waiter(BUILD_COMPLETE)
    assert waiter.operation == "BatchGetBuilds"
    assert [a.state for a in waiter.acceptors if a.matcher_func({"builds": [{"buildStatus": status}]})] == [state]


def test_the_trigger_serializes_for_the_triggerer() -> None:
    from asl_airflow.integrations._codebuild_trigger import CodeBuildCompleteTrigger, CodeBuildHook

    classpath, kwargs = CodeBuildCompleteTrigger(build_id="p:1", waiter_delay=5, waiter_max_attempts=9,
                                                 region_name="eu-west-1").serialize()
    assert classpath == "asl_airflow.integrations._codebuild_trigger.CodeBuildCompleteTrigger"
    assert kwargs["build_id"] == "p:1" and kwargs["waiter_delay"] == 5 and kwargs["region_name"] == "eu-west-1"
    hook = CodeBuildCompleteTrigger(**kwargs).hook()
    assert isinstance(hook, CodeBuildHook) and hook.client_type == "codebuild"
