"""AWS CodeBuild ``startBuild`` (request-response and ``.sync``) and ``stopBuild`` on the local stack,
on both engines: Step Functions' PascalCase in and out over CodeBuild's camelCase API, the ``.sync``
wait until the build ends, and errors named as Step Functions names them. (moto's builds always end
SUCCEEDED, so the failed-build path is tested in ``tests/unit/integrations/test_codebuild.py``.)"""

from __future__ import annotations

import uuid

import asl_airflow
import pytest
from task_states import task as _task

START = "arn:aws:states:::codebuild:startBuild"
STOP = "arn:aws:states:::codebuild:stopBuild"


def machine(project: str) -> dict:
    return {"StartAt": "Start", "States": {
        "Start": _task(START, {"ProjectName": project, "SourceVersion.$": "$.commit",
                               "EnvironmentVariablesOverride": [{"Name": "STAGE", "Value": "test",
                                                                 "Type": "PLAINTEXT"}]},
                       "$.started", "Stop"),
        "Stop": _task(STOP, {"Id.$": "$.started.Build.Id"}, "$.stopped", "Build"),
        "Build": _task(f"{START}.sync", {"ProjectName": project}, "$.built", "Report"),
        # what AWS's CodeBuild sample reads next: the ended build's fields, in PascalCase
        "Report": {"Type": "Pass", "Parameters": {"status.$": "$.built.Build.BuildStatus",
                                                  "phase.$": "$.built.Build.CurrentPhase"},
                   "ResultPath": "$.report", "Next": "Build a missing project"},
        "Build a missing project": _task(f"{START}.sync", {"ProjectName": project + "-missing"}, "$.missing",
                                         "Start with a bad name", "CodeBuild.ResourceNotFoundException"),
        "Start with a bad name": _task(START, {"ProjectName": "9 not a name!"}, "$.refused", "Done",
                                       "CodeBuild.InvalidInputException"),
        "Done": {"Type": "Succeed"},
    }}


@pytest.fixture(scope="module")
def project(local_stack):
    name = f"asl-build-{uuid.uuid4().hex[:8]}"
    local_stack.client("codebuild").create_project(
        name=name, source={"type": "S3", "location": "bucket/source.zip"}, artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/asl-codebuild")
    return name


@pytest.fixture(scope="module")
def runs(local_stack, project, environment):
    with environment(local_stack.env()):
        local = asl_airflow.run(machine(project), {"commit": "abc123"}, engine="local", history=True)
        airflow = asl_airflow.run(machine(project), {"commit": "def456"}, engine="airflow", history=True)
    return {"local": local, "airflow": airflow}


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_start_build_answers_the_build_in_step_functions_names(runs, engine, project):
    out = runs[engine]["output"]
    build = out["started"]["Build"]
    assert build["ProjectName"] == project and build["BuildStatus"] == "IN_PROGRESS"
    assert build["Id"].startswith(f"{project}:") and build["SourceVersion"] == out["commit"]
    assert build["Arn"].endswith(f":build/{build['Id']}") and build["Phases"][0]["PhaseType"] == "SUBMITTED"
    assert out["stopped"]["Build"]["Id"] == build["Id"] and out["stopped"]["Build"]["BuildStatus"] == "STOPPED"


@pytest.mark.parametrize("engine", ENGINES)
def test_sync_waits_for_the_build_to_end(runs, engine):
    out = runs[engine]["output"]
    assert out["built"]["Build"]["BuildStatus"] == "SUCCEEDED"
    assert out["report"] == {"status": "SUCCEEDED", "phase": "COMPLETED"}
    assert out["built"]["Build"]["Phases"][-1]["PhaseType"] == "COMPLETED"


@pytest.mark.parametrize("engine", ENGINES)
def test_errors_have_step_functions_names(runs, engine):
    out = runs[engine]["output"]
    assert out["missing"]["Error"] == "CodeBuild.ResourceNotFoundException"
    assert "(Service: AWSCodeBuild; Status Code: 400; Error Code: ResourceNotFoundException;" in out["missing"]["Cause"]
    assert out["refused"]["Error"] == "CodeBuild.InvalidInputException"


def test_both_engines_agree_on_history(runs):
    def types(result):
        return [e["type"] for e in result["history"]]

    assert types(runs["local"]) == types(runs["airflow"])
    # the .sync build was submitted; the missing project's StartBuild failed, so it never was
    assert types(runs["local"]).count("TaskSubmitted") == 1
