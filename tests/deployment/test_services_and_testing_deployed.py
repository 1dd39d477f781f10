"""Issue 11's new integrations and issue 14's deployed testing features on a real deployment.

No ``dag.test()``: ``airflow scheduler``, ``dag-processor``, ``triggerer`` and ``api-server`` run as
processes on PostgreSQL (``deployment_harness``, LocalExecutor), the local stack (moto) is AWS and
a small MediaConvert endpoint (``tests/integration/fake_mediaconvert.py``) a thread of this test.
One deployment holds four DAGs:

- ``deploy_services``: Bedrock ``createModelCustomizationJob.sync``, ECS ``runTask.sync`` and
  MediaConvert ``createJob.sync``, each to a job that ends well and one that fails (caught), waited
  for by the provider's triggers in the triggerer; the run must agree with the local engine.
- ``deploy_activity``: an activity Task deferred in the triggerer while a worker (the README's
  example, boto3's ``stepfunctions`` client) polls the api-server's GetActivityTask; two runs wait
  before the worker starts, and the one scheduled first is handed out first.
- ``deploy_mocked``: ``[asl_airflow] mock_config`` (a file) answers its Tasks, with a Retry over
  two thrown mocks and a Catch; the other DAGs of the deployment, not in the file, run unmocked.
- ``deploy_redrive``: a run fails on a missing S3 object; the object is put and the run's failed
  tasks cleared through the REST API (the UI's "Clear, only failed"): it continues as
  RedriveExecution does and agrees with the local engine's ``--redrive`` of the same failure.

About 3.5 minutes on an idle 2-core machine; ``make test`` runs it (it skips without PostgreSQL).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asl_airflow
import pytest
from asl_airflow import devstack
from deployment_harness import Deployment, compare, history_steps, until, write_machine_dag

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import fake_agentcore  # noqa: E402 - shared with the integration test
from fake_endpoints import connection_env  # noqa: E402
from fake_mediaconvert import serve  # noqa: E402 - shared with the integration test
from readme_code import activity_worker  # noqa: E402

pytestmark = pytest.mark.timeout(int(os.environ.get("ASL_DEPLOY_TIMEOUT", "1800")))

PROJECT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/asl-deploy"
RESIZE = "arn:aws:states:us-east-1:123456789012:activity:deploy-resize"
APPROVE = "arn:aws:states:us-east-1:123456789012:activity:deploy-approve"
AUDIT = "arn:aws:states:us-east-1:123456789012:activity:deploy-audit"


def _task(resource: str, parameters: dict[str, Any], next_state: str, result_path: str,
          selector: dict[str, Any] | None = None, catch: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "Parameters": parameters,
                             "ResultPath": result_path, "Next": next_state}
    if selector:
        state["ResultSelector"] = selector
    if catch:
        state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": result_path, "Next": next_state}]
    return state


def services_machine(bucket: str, ecs: dict[str, str], project: str) -> dict[str, Any]:
    """Each .sync service to a job that ends well and to one that fails (caught); a summary keeps
    what does not change between runs (names and ids of the jobs each run creates do)."""
    bedrock = "arn:aws:states:::bedrock:createModelCustomizationJob.sync"
    ecs_run = "arn:aws:states:::ecs:runTask.sync"
    media = "arn:aws:states:::mediaconvert:createJob.sync"
    build = "arn:aws:states:::codebuild:startBuild.sync"
    harness = "arn:aws:states:::bedrockagentcore:invokeHarness"

    def customization(data: str) -> dict[str, Any]:
        return {"JobName.$": "States.Format('j-{}', States.UUID())",
                "CustomModelName.$": "States.Format('m-{}', States.UUID())",
                "RoleArn": ROLE, "BaseModelIdentifier": "amazon.titan-text-express-v1",
                "HyperParameters": {"epochCount": "1"}, "TrainingDataConfig": {"S3Uri": f"s3://{bucket}/{data}"},
                "OutputDataConfig": {"S3Uri": f"s3://{bucket}/out/"}}

    def transcode(source: str) -> dict[str, Any]:
        return {"Role": ROLE, "Settings": {
            "Inputs": [{"FileInput": f"s3://{bucket}/{source}"}],
            "OutputGroups": [{"Name": "File Group", "OutputGroupSettings": {
                "Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": {"Destination": f"s3://{bucket}/media/"}},
                "Outputs": [{"ContainerSettings": {"Container": "MP4"}}]}]}}

    run_task = {"Cluster": ecs["cluster"], "LaunchType": "FARGATE"}
    return {"Comment": "Bedrock, ECS, MediaConvert and CodeBuild .sync jobs, waited for by triggers",
            "StartAt": "Customize", "States": {
                "Customize": _task(bedrock, customization("train.jsonl"), "Customize without data", "$.bedrock",
                                   {"status.$": "$.Status", "model.$": "$.BaseModelArn"}),
                "Customize without data": _task(bedrock, customization("missing.jsonl"), "Run", "$.bedrockFailed",
                                                catch="States.TaskFailed"),
                "Run": _task(ecs_run, {**run_task, "TaskDefinition": ecs["job"]}, "Run unpullable", "$.ecs",
                             {"lastStatus.$": "$.LastStatus", "exitCode.$": "$.Containers[0].ExitCode"}),
                "Run unpullable": _task(ecs_run, {**run_task, "TaskDefinition": ecs["unpullable"]}, "Transcode",
                                        "$.ecsFailed", catch="States.TaskFailed"),
                "Transcode": _task(media, transcode("in/clip.mp4"), "Transcode missing input", "$.media",
                                   {"status.$": "$.Job.Status", "percent.$": "$.Job.JobPercentComplete"}),
                "Transcode missing input": _task(media, transcode("in/missing.mp4"), "Build", "$.mediaFailed",
                                                 catch="States.TaskFailed"),
                "Build": _task(build, {"ProjectName": project, "SourceVersion": "main"}, "Ask", "$.build",
                               {"status.$": "$.Build.BuildStatus", "phase.$": "$.Build.CurrentPhase"}),
                "Ask": _task(harness, {"HarnessArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:harness/h",
                                       "RuntimeSessionId": "deployment-session-0123456789abcdef01",
                                       "Messages": [{"Role": "user", "Content": [{"Text": "sum"}]}]},
                             "Summary", "$.agent", {"text.$": "$.Output.Message.Content[0].Text",
                                                    "tokens.$": "$.Usage.TotalTokens"}),
                "Summary": {"Type": "Pass", "End": True, "Parameters": {
                    "bedrock.$": "$.bedrock", "bedrockFailed.$": "$.bedrockFailed.Error",
                    "ecs.$": "$.ecs", "ecsFailed.$": "$.ecsFailed.Error",
                    "media.$": "$.media", "mediaFailed.$": "$.mediaFailed.Error", "build.$": "$.build",
                    "agent.$": "$.agent"}},
            }}


ACTIVITY = {
    "Comment": "Three activities: one a worker completes, one whose worker may refuse (caught), one a "
               "worker takes and never answers (its TimeoutSeconds, counted from ActivityStarted; caught)",
    "StartAt": "Resize",
    "States": {
        "Resize": {"Type": "Task", "Resource": RESIZE, "Parameters": {"image.$": "$.image", "width": 64},
                   "TimeoutSeconds": 600, "ResultPath": "$.resized", "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": APPROVE, "ResultPath": "$.approval", "Next": "Audit",
                    "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.rejected", "Next": "Audit"}]},
        "Audit": {"Type": "Task", "Resource": AUDIT, "TimeoutSeconds": 5, "ResultPath": "$.audit", "End": True,
                  "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.audit", "Next": "Unaudited"}]},
        "Unaudited": {"Type": "Pass", "End": True},
    },
}

LAMBDA = "arn:aws:states:::lambda:invoke"
MOCKED = {
    "Comment": "Every Task names AWS resources that do not exist: only the mock file answers them",
    "StartAt": "Score",
    "States": {
        "Score": {"Type": "Task", "Resource": LAMBDA,
                  "Parameters": {"FunctionName": "no-such-scorer", "Payload.$": "$"},
                  "ResultSelector": {"score.$": "$.Payload.score"}, "ResultPath": "$.score", "Next": "Train",
                  "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1,
                             "MaxAttempts": 3, "BackoffRate": 1.0}]},
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                  "Parameters": {"JobName": "no-such-job"}, "ResultSelector": {"state.$": "$.JobRunState"},
                  "ResultPath": "$.train", "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "no-such-publisher"},
                    "Catch": [{"ErrorEquals": ["Publish.Refused"], "ResultPath": "$.refused", "Next": "Kept"}],
                    "End": True},
        "Kept": {"Type": "Pass", "End": True},
    },
}
MOCKS = {
    "StateMachines": {"deploy_mocked": {"TestCases": {"Throttled": {
        "Score": "ThrottledTwice", "Train": "TrainSucceeded", "Publish": "Refused"}}}},
    "MockedResponses": {
        "ThrottledTwice": {
            "0-1": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}},
            "2": {"Return": {"StatusCode": 200, "Payload": {"score": 0.93}}}},
        "TrainSucceeded": {"0": {"Return": {"JobRunState": "SUCCEEDED", "Id": "jr_mocked"}}},
        "Refused": {"0": {"Throw": {"Error": "Publish.Refused", "Cause": "not on Sundays"}}},
    },
}


def redrive_machine(bucket: str) -> dict[str, Any]:
    """A stamp (an object per run of the state: a re-run would leave two), then a Parallel whose
    second branch reads the input's key after 20 s (so the first branch has surely ended)."""
    return {"Comment": "Fails while the input's object is missing; redriven once it is there",
            "StartAt": "Stamp", "States": {
                "Stamp": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                          "Parameters": {"Bucket": bucket, "Body": "ran",
                                         "Key.$": "States.Format('stamps/{}/{}', $.id, States.UUID())"},
                          "ResultPath": None, "Next": "Fan"},
                "Fan": {"Type": "Parallel", "ResultPath": "$.fan", "Next": "Count", "Branches": [
                    {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "Result": "quick", "End": True}}},
                    {"StartAt": "Later", "States": {
                        "Later": {"Type": "Wait", "Seconds": 20, "Next": "Read"},
                        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                                 "Parameters": {"Bucket": bucket, "Key.$": "$.key"},
                                 "ResultSelector": {"length.$": "$.ContentLength"}, "End": True}}}]},
                "Count": {"Type": "Pass", "End": True, "Parameters": {
                    "redrives.$": "$$.Execution.RedriveCount", "fan.$": "$.fan"}},
            }}


@pytest.fixture(scope="module")
def world(pg_template, tmp_path_factory):
    """The local stack, the MediaConvert endpoint, the AWS resources, and the started deployment."""
    tmp = tmp_path_factory.mktemp("services-deployment")
    stack = devstack.start(log_dir=tmp)
    s3 = stack.client("s3")
    bucket = f"asl-deploy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="train.jsonl", Body=b'{"prompt": "a", "completion": "b"}\n')
    s3.put_object(Bucket=bucket, Key="in/clip.mp4", Body=b"\x00\x00\x00\x18ftypmp42")
    ecs_client = stack.client("ecs")
    tag = uuid.uuid4().hex[:8]
    ecs = {"cluster": ecs_client.create_cluster(clusterName=f"asl-{tag}")["cluster"]["clusterArn"],
           "job": f"job-{tag}", "unpullable": f"unpullable-{tag}"}
    for family, image in ((ecs["job"], "busybox"),
                          (ecs["unpullable"], "123456789012.dkr.ecr.us-east-1.amazonaws.com/asl-missing:1")):
        # bridge networking: moto's server fails on awsvpc tasks (its ENI has no private_dns_name)
        ecs_client.register_task_definition(family=family, networkMode="bridge",
                                            containerDefinitions=[{"name": "app", "image": image, "memory": 128}])
    project = f"build-{tag}"
    stack.client("codebuild").create_project(
        name=project, source={"type": "S3", "location": f"{bucket}/source.zip"}, artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"}, serviceRole=ROLE)
    mediaconvert, _ = serve(s3)
    agentcore, _ = fake_agentcore.serve()
    dags = tmp / "dags"
    dags.mkdir()
    write_machine_dag(dags, "deploy_services", services_machine(bucket, ecs, project))
    write_machine_dag(dags, "deploy_activity", ACTIVITY)
    write_machine_dag(dags, "deploy_mocked", MOCKED)
    write_machine_dag(dags, "deploy_redrive", redrive_machine(bucket))
    mocks = tmp / "mocks.json"
    mocks.write_text(json.dumps(MOCKS))
    env = connection_env(stack.env(), {"mediaconvert": mediaconvert.endpoint,
                                       "bedrock-agentcore": agentcore.endpoint})
    deployment = Deployment("LocalExecutor", tmp, pg_template("services"), dags, extra_env={
        **env,
        "AIRFLOW__ASL_AIRFLOW__MOCK_CONFIG": str(mocks), "AIRFLOW__ASL_AIRFLOW__MOCK_TEST_CASE": "Throttled",
        "AIRFLOW__ASL_AIRFLOW__ACTIVITY_POLL_SECONDS": "5",
    })
    try:
        deployment.start()
        deployment.wait_for_dags(["deploy_services", "deploy_activity", "deploy_mocked", "deploy_redrive"])
        yield {"deployment": deployment, "stack": stack, "s3": s3, "bucket": bucket, "ecs": ecs,
               "mediaconvert": mediaconvert, "env": env}
    finally:
        deployment.stop()
        mediaconvert.shutdown()
        mediaconvert.server_close()
        agentcore.shutdown()
        agentcore.server_close()
        devstack.stop(stack.pid)


def _task_instances(deployment: Deployment, run: Any) -> list[dict[str, Any]]:
    status, body = deployment.api("GET", f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances")
    assert status == 200, body
    return body["task_instances"]


def _one(deployment: Deployment, run: Any) -> dict[str, Any]:
    return deployment.results([run])[0]


def test_sync_services_wait_in_the_triggerer_and_agree_with_the_local_engine(world):
    deployment = world["deployment"]
    reference = deployment.probe_answer(deployment.references([("deploy_services", {})]))[0]
    run = deployment.trigger("deploy_services")
    deployment.wait_for_runs([run], timeout=900)
    result = _one(deployment, run)
    assert result["status"] == "SUCCEEDED", (result, deployment.log_tail("triggerer"))
    assert result["output"] == {
        "bedrock": {"status": "Completed", "model": reference["output"]["bedrock"]["model"]},
        "bedrockFailed": "States.TaskFailed",
        "ecs": {"lastStatus": "STOPPED", "exitCode": 0}, "ecsFailed": "States.TaskFailed",
        "media": {"status": "COMPLETE", "percent": 100}, "mediaFailed": "States.TaskFailed",
        "build": {"status": "SUCCEEDED", "phase": "COMPLETED"},
        "agent": {"text": '{"total": 2}', "tokens": 300},
    }, result["output"]
    assert not compare(reference, result, volatile=True), compare(reference, result, volatile=True)
    assert history_steps(result).count("TaskSubmitted") == 7
    # every .sync wait was deferred to the triggerer (the provider's triggers for Bedrock and ECS, our
    # MediaConvert and CodeBuild waiter triggers), which fired its event: the triggerer's log says so
    for task in ("Customize", "Customize_without_data", "Run", "Run_unpullable", "Transcode",
                 "Transcode_missing_input", "Build"):
        assert "Trigger fired event" in _trigger_log(deployment, run, task), f"{task} did not defer"


def _trigger_log(deployment: Deployment, run: Any, task_id: str) -> str:
    """What the triggerer logged for the task's first try (Airflow writes it next to the task's log)."""
    folder = deployment.home / "logs" / f"dag_id={run.dag_id}" / f"run_id={run.run_id}" / f"task_id={task_id}"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.glob("attempt=1.log.trigger.*.log")))


def test_an_activity_worker_polls_the_api_server_while_the_triggerer_waits(world):
    deployment = world["deployment"]

    def deferred(run) -> bool:
        return any(t["task_display_name"] == "Resize" and t["state"] == "deferred"
                   for t in _task_instances(deployment, run))

    first = deployment.trigger("deploy_activity", {"image": "first.png"})
    until("the first run's activity to be deferred", lambda: deferred(first), 300, every=2)
    second = deployment.trigger("deploy_activity", {"image": "second.png"})
    until("the second run's activity to be deferred", lambda: deferred(second), 300, every=2)

    readme = activity_worker()
    sfn = readme["activity_client"](deployment.base, deployment.jwt)
    taken: list[str] = []

    def resize(task: dict[str, Any]) -> dict[str, Any]:
        taken.append(task["image"])
        return {"resized": task["image"], "px": task["width"]}

    def approve(task: dict[str, Any]) -> Any:
        if task["image"] == "second.png":
            raise ValueError("over budget")
        return {"approved": True}

    stop = threading.Event()
    errors: list[BaseException] = []
    silent: list[str] = []  # the audit tasks taken and never answered

    def work() -> None:
        while not stop.is_set():
            try:
                readme["serve_one"](sfn, RESIZE, resize)
                readme["serve_one"](sfn, APPROVE, approve)
                audit = sfn.get_activity_task(activityArn=AUDIT, workerName="silent-auditor")
                if audit.get("taskToken"):
                    silent.append(json.loads(audit["input"])["image"])
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    worker = threading.Thread(target=work, name="activity-worker", daemon=True)
    worker.start()
    try:
        deployment.wait_for_runs([first, second], timeout=600)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not errors, errors
    assert taken[:2] == ["first.png", "second.png"], taken  # the task scheduled first is handed out first
    one, two = deployment.results([first, second])
    assert one["status"] == two["status"] == "SUCCEEDED", (one, two)
    assert sorted(silent) == ["first.png", "second.png"], silent
    for result in (one, two):  # taken, never answered: ActivityTimedOut 5 s after ActivityStarted, caught
        assert result["output"].pop("audit")["Error"] == "States.Timeout", result["output"]
        started = [e for e in result["history"] if e["type"] == "ActivityStarted"][-1]  # the Audit's
        timed_out = next(e for e in result["history"] if e["type"] == "ActivityTimedOut")
        waited = (datetime.fromisoformat(timed_out["timestamp"]) - datetime.fromisoformat(started["timestamp"]))
        assert 4 <= waited.total_seconds() < 60, waited
    assert one["output"] == {"image": "first.png", "resized": {"resized": "first.png", "px": 64},
                             "approval": {"approved": True}}
    assert two["output"] == {"image": "second.png", "resized": {"resized": "second.png", "px": 64},
                             "rejected": {"Error": "ValueError", "Cause": "over budget"}}
    assert [s for s in history_steps(two) if s.startswith("Activity")] == [
        "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",
        "ActivityScheduled", "ActivityStarted", "ActivityFailed",
        "ActivityScheduled", "ActivityStarted", "ActivityTimedOut"]
    # while it waited, each activity Task was deferred: its trigger ran in the triggerer, not a worker slot
    for run in (first, second):
        assert "Trigger fired event" in _trigger_log(deployment, run, "Resize")


def test_mock_config_answers_a_deployed_dags_tasks_with_retry_and_catch(world):
    deployment = world["deployment"]
    run = deployment.trigger("deploy_mocked", {"order": 7})
    deployment.wait_for_runs([run], timeout=600)
    result = _one(deployment, run)
    reference = asl_airflow.run(MOCKED, {"order": 7}, history=True, mock_config=MOCKS, test_case="Throttled",
                                state_machine="deploy_mocked")
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"order": 7, "score": {"score": 0.93}, "train": {"state": "SUCCEEDED"},
                                "refused": {"Error": "Publish.Refused", "Cause": "not on Sundays"}}
    assert not compare(reference, result, volatile=False), compare(reference, result, volatile=False)
    steps = history_steps(result)
    assert steps.count("TaskFailed") == 3 and steps.count("TaskSubmitted") == 1  # two retries, one caught
    score = next(s for s in result["states"] if s["state"] == "Score")
    assert score["retries"] == 2, score  # Airflow's own retries, one per ASL retry


def test_clearing_a_failed_run_redrives_it_as_aws_does(world, monkeypatch):
    deployment, s3, bucket = world["deployment"], world["s3"], world["bucket"]
    for key, value in world["env"].items():  # the local engine's reference, against the same stack
        monkeypatch.setenv(key, value)
    local_first = asl_airflow.run(redrive_machine(bucket), {"id": "local", "key": "inputs/local.json"},
                                  history=True)
    run = deployment.trigger("deploy_redrive", {"id": "deployed", "key": "inputs/deployed.json"})
    deployment.wait_for_runs([run], timeout=600)
    first = _one(deployment, run)
    assert first["status"] == local_first["status"] == "FAILED", first
    assert first["error"] == "S3.NoSuchKeyException", first
    assert not compare(local_first, first, volatile=False), compare(local_first, first, volatile=False)

    for who in ("local", "deployed"):  # the cause is fixed
        s3.put_object(Bucket=bucket, Key=f"inputs/{who}.json", Body=b'{"n": 12345}')
    local = asl_airflow.run(redrive_machine(bucket), history=True, redrive=local_first)
    status, body = deployment.api("POST", "/dags/deploy_redrive/clearTaskInstances", {
        "dry_run": False, "dag_run_id": run.run_id, "only_failed": True})
    assert status == 200 and body["task_instances"], body
    run.state = None
    time.sleep(3)  # the run is queued again by the clear
    deployment.wait_for_runs([run], timeout=600)
    redriven = _one(deployment, run)
    assert redriven["status"] == "SUCCEEDED", redriven
    assert redriven["output"] == {"redrives": 1, "fan": ["quick", {"length": 12}]}
    assert not compare(local, redriven, volatile=False), compare(local, redriven, volatile=False)
    steps = history_steps(redriven)
    assert steps[:len(history_steps(first))] == history_steps(first)
    assert steps[len(history_steps(first))] == "ExecutionRedriven"
    # the Stamp that succeeded was not run again: one object per run of it
    stamps = s3.list_objects_v2(Bucket=bucket, Prefix="stamps/deployed/").get("KeyCount")
    assert stamps == 1, stamps

