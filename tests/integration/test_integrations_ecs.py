"""Amazon ECS ``runTask`` on the local stack: request-response, ``.sync`` to a task that ran (exit code
0) and to one that failed to start (``States.TaskFailed``, the described task as the Cause), an ECS
error (``ECS.ClusterNotFoundException``) and, on Airflow, ``.waitForTaskToken`` with the token in the
container's environment, answered through the plugin's SendTaskSuccess.

The local engine runs the machine without its token state (it has no callback API); the Airflow engine
runs all of it once, compiled to a DAG under ``dag.test()`` in a child process while this process serves
the API and plays the container (``test_task_token.py``'s fixtures).

moto runs no container: the local stack stops a task at its first DescribeTasks as if its containers
exited 0, and fails to start one whose ECR image is not in the local ECR (``devstack._ecs``)."""

from __future__ import annotations

import json
import time
import uuid

import asl_airflow
import pytest
from test_task_token import Run, _send, airflow_home, api  # noqa: F401 - fixtures used by name

RUN = "arn:aws:states:::ecs:runTask"
MISSING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/asl-missing-image:1"


@pytest.fixture(scope="module")
def ecs(local_stack):
    """A cluster with a task definition whose image runs and one whose image cannot be pulled."""
    tag = uuid.uuid4().hex[:8]
    client = local_stack.client("ecs")
    cluster = client.create_cluster(clusterName=f"asl-{tag}")["cluster"]["clusterArn"]
    for family, image in ((f"job-{tag}", "busybox"), (f"unpullable-{tag}", MISSING_IMAGE)):
        # bridge networking: moto's server fails on awsvpc tasks (its ENI has no private_dns_name)
        client.register_task_definition(family=family, networkMode="bridge",
                                        containerDefinitions=[{"name": "app", "image": image, "memory": 128}])
    return {"client": client, "cluster": cluster, "job": f"job-{tag}", "unpullable": f"unpullable-{tag}"}


def machine(ecs: dict, token: bool) -> dict:
    common = {"Cluster": ecs["cluster"], "LaunchType": "FARGATE"}
    environment = [{"Name": "ORDER", "Value.$": "States.Format('{}', $.order)"}]
    steps = [
        ("Run", RUN, {**common, "TaskDefinition": ecs["job"],
                      "Overrides": {"ContainerOverrides": [{"Name": "app", "Environment": environment}]}},
         "$.run", None),
        ("Run and wait", f"{RUN}.sync", {**common, "TaskDefinition": ecs["job"]}, "$.done", None),
        ("Run unpullable", f"{RUN}.sync", {**common, "TaskDefinition": ecs["unpullable"]}, "$.failed",
         "States.TaskFailed"),
        ("Run on no cluster", RUN, {**common, "Cluster": "asl-no-such-cluster", "TaskDefinition": ecs["job"]},
         "$.no_cluster", "ECS.ClusterNotFoundException"),
    ]
    if token:
        steps.append(("Run and wait for callback", f"{RUN}.waitForTaskToken", {
            **common, "TaskDefinition": ecs["job"], "Overrides": {"ContainerOverrides": [
                {"Name": "app", "Environment": [{"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"}]}]}},
            "$.callback", None))
    states = {}
    for i, (name, resource, parameters, result_path, catch) in enumerate(steps):
        following = steps[i + 1][0] if i + 1 < len(steps) else "Done"
        state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "ResultPath": result_path,
                 "Next": following}
        if catch:
            state["Catch"] = [{"ErrorEquals": [catch], "ResultPath": result_path, "Next": following}]
        states[name] = state
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": "Run", "States": states}


def _token_from_container(ecs: dict, run: Run, timeout: float = 240) -> str:
    """The container's side: its TASK_TOKEN environment variable, as the task was started with it."""
    client, cluster = ecs["client"], ecs["cluster"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arns = client.list_tasks(cluster=cluster)["taskArns"]
        for task in client.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []:
            for override in task.get("overrides", {}).get("containerOverrides", []):
                for variable in override.get("environment", []):
                    if variable["name"] == "TASK_TOKEN":
                        return variable["value"]
        if run.proc.poll() is not None:
            out, err = run.proc.communicate()
            raise AssertionError(f"the run ended before starting its task:\n{out[-3000:]}\n{err[-3000:]}")
        time.sleep(1)
    raise AssertionError("no task with a task token was started")


@pytest.fixture(scope="module")
def runs(local_stack, ecs, airflow_home, api, environment):  # noqa: F811 - pytest fixtures
    with environment(local_stack.env()):
        local = asl_airflow.run(machine(ecs, token=False), {"order": 7}, engine="local", history=True)
        run = Run(airflow_home, "ecs_run_task", machine(ecs, token=True), {"order": 8})
        try:
            token = _token_from_container(ecs, run)
            sent = _send(api, "SendTaskSuccess", {"taskToken": token, "output": json.dumps({"exitCode": 0})})
            assert sent.status_code == 200, sent.text
            airflow = run.result(timeout=600)
        finally:
            run.kill()
    return {"local": local, "airflow": airflow}


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_request_response_returns_the_run_task_response(runs, engine, ecs):
    out = runs[engine]["output"]
    run = out["run"]
    assert run["Failures"] == [] and len(run["Tasks"]) == 1
    task = run["Tasks"][0]
    assert task["ClusterArn"] == ecs["cluster"] and task["LastStatus"] == "RUNNING"
    assert task["Overrides"]["ContainerOverrides"] == [
        {"Name": "app", "Environment": [{"Name": "ORDER", "Value": str(out["order"])}]}]
    assert run["SdkHttpMetadata"]["HttpStatusCode"] == 200 and run["SdkResponseMetadata"]["RequestId"]


@pytest.mark.parametrize("engine", ENGINES)
def test_sync_waits_for_the_stopped_task(runs, engine):
    done = runs[engine]["output"]["done"]
    assert done["LastStatus"] == "STOPPED" and done["StopCode"] == "EssentialContainerExited"
    assert done["StartedBy"] == "AWS Step Functions"
    assert [c["ExitCode"] for c in done["Containers"]] == [0]
    assert isinstance(done["StoppedAt"], int)  # epoch milliseconds


@pytest.mark.parametrize("engine", ENGINES)
def test_a_task_that_fails_is_task_failed_with_the_task_as_cause(runs, engine, ecs):
    out = runs[engine]["output"]
    failed = out["failed"]
    assert failed["Error"] == "States.TaskFailed"
    task = json.loads(failed["Cause"])
    assert task["StopCode"] == "TaskFailedToStart" and task["LastStatus"] == "STOPPED"
    assert task["Containers"][0]["Reason"].startswith("CannotPullContainerError")
    assert "ExitCode" not in task["Containers"][0]
    no_cluster = out["no_cluster"]
    assert no_cluster["Error"] == "ECS.ClusterNotFoundException"
    assert "(Service: AmazonECS; Status Code: 400; Error Code: ClusterNotFoundException;" in no_cluster["Cause"]


def test_wait_for_task_token_passes_the_token_to_the_container(runs):
    out = runs["airflow"]["output"]
    assert out["callback"] == {"exitCode": 0}
    types = [e["type"] for e in runs["airflow"]["history"]]
    assert types.count("TaskSubmitted") == 3  # two .sync tasks and the callback wait


def test_both_engines_agree_on_history_and_shapes(runs):
    def types(result):
        events = [e["type"] for e in result["history"]]
        return events[:events.index("SucceedStateEntered")]

    local, airflow = types(runs["local"]), types(runs["airflow"])
    assert airflow[:len(local)] == local  # Airflow's run has the callback state on top
    assert local.count("TaskSubmitted") == 2


def test_sync_task_is_started_once_per_attempt_by_its_client_token(local_stack, ecs, environment, journaled_call):
    """A worker that died after RunTask left only the pending mark: the re-run of the attempt sends the
    same clientToken and gets the same task back (the local stack honours it as ECS does)."""
    parameters = {"Cluster": ecs["cluster"], "TaskDefinition": ecs["job"], "LaunchType": "FARGATE"}
    with environment(local_stack.env()):
        attempt = journaled_call(f"{RUN}.sync", parameters)
        before = set(ecs["client"].list_tasks(cluster=ecs["cluster"])["taskArns"])
        first = attempt.start()
        attempt.lose_id()  # the id never made it
        again = attempt.start()
        started = set(ecs["client"].list_tasks(cluster=ecs["cluster"])["taskArns"]) - before
    assert first["TaskArn"] == again["TaskArn"] and started == {first["TaskArn"]}
