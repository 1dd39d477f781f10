"""A worker that dies between a ``.sync`` job's submission and the task's deferral: one job per ASL attempt.

For each ``.sync`` family (Glue, SageMaker, Batch, Athena, EMR Serverless, Step Functions) a one-Task
machine without Retry runs in a child process (``dag.test()`` on a SQLite metadata DB of its own).
A ``sitecustomize`` module put on that child's PYTHONPATH only (test code; the product has no
hook for it) wraps botocore's API call and SIGKILLs the process right after the submit call
(StartJobRun, CreateTrainingJob, SubmitJob, ...) returned: AWS has the job, the task has at most
its "pending" mark, and nothing ran after the answer. The test checks that the child really died
of SIGKILL in the middle of the task.

A second child then does what Airflow does with that task instance: the scheduler's handling of
a task that stopped heartbeating (``TaskInstance.handle_failure``, the same decision the
supervisor makes for a killed task process) must put it UP_FOR_RETRY although the state has no
Retry, with the next try due after ``[asl_airflow] reconnect_delay`` seconds (not Airflow's
300 s), and without counting an ASL retry. It then runs the same DAG run again (``dag.test()``
with the same logical date, so the same task instance and ``task_state_store``): the task must
reconnect to the job and finish. The local stack must have received exactly one job, and the
execution must succeed with that job's result and one TaskScheduled/TaskSubmitted in its history.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

ROLE = "arn:aws:iam::123456789012:role/asl-airflow-crash"
BUCKET = "asl-airflow-crash"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
LOGICAL_DATE = "2026-01-02T03:04:05+00:00"

#: the child's crash hook (test code only): SIGKILL right after the named AWS call returned, once
SITECUSTOMIZE = textwrap.dedent('''
    import json, os, signal
    _op, _mark, _log = (os.environ.get(k) for k in ("CRASH_AFTER", "CRASH_MARK", "CRASH_CALLS"))
    if _op and _mark:
        import botocore.client

        _call = botocore.client.BaseClient._make_api_call

        def _make_api_call(self, operation_name, api_params):
            answer = _call(self, operation_name, api_params)
            if operation_name == _op:
                with open(_log, "a") as calls:
                    calls.write(json.dumps({"pid": os.getpid(), "params": api_params}, default=str) + "\\n")
                if not os.path.exists(_mark):
                    open(_mark, "w").close()
                    os.kill(os.getpid(), signal.SIGKILL)  # AWS answered; the task never learns it
            return answer

        botocore.client.BaseClient._make_api_call = _make_api_call
''')

#: the child: ``crash`` runs the DAG with ``dag.test()`` (and dies in the hook); ``resume`` does what
#: Airflow does with the dead task instance, then drives the *same* DAG run on with dag.test()'s own
#: loop (dag.test() itself would delete and recreate the run, and the task_state_store with it)
CHILD = textwrap.dedent('''
    import json, sys, time
    from datetime import datetime
    mode, logical_date, conf = sys.argv[1], datetime.fromisoformat(sys.argv[2]), json.loads(sys.argv[3])
    from asl_airflow.airflow.testing import load_dag
    from asl_airflow.airflow.operators import run_conf
    from asl_airflow.airflow.results import execution_result
    dag = load_dag("asl_machine")
    if mode == "crash":
        dag.test(run_conf=run_conf(conf), logical_date=logical_date)
        raise SystemExit("the task was expected to die")

    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    report = {}
    with create_session() as session:
        ti = session.scalars(select(TaskInstance).filter_by(dag_id="asl_machine", task_id="Job")).one()
        report["state_after_crash"] = str(ti.state)
        report["crashed_try"] = ti.try_number
        ti.task = dag.get_task("Job")
        # the scheduler's handling of a task instance whose heartbeat stopped
        ti.handle_failure("heartbeat timeout: the task process was SIGKILLed", session=session)
        report["state_after_failure"] = str(ti.state)
        report["retry_in_seconds"] = (ti.next_retry_datetime() - ti.end_date).total_seconds()
        failed_at = ti.end_date
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    with create_session() as session:
        dr = session.scalars(select(DagRun).filter_by(dag_id="asl_machine")).one()
        dr.dag = scheduler_dag
        while dr.state == DagRunState.RUNNING:  # dag.test()'s loop, on the existing run
            session.expire_all()
            schedulable, _ = dr.update_state(session=session)
            for s in schedulable:
                s.try_number += 1
                s.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [t for t in dr.get_task_instances(session=session) if t.state == TaskInstanceState.SCHEDULED]
            if not scheduled:
                time.sleep(0.5)  # e.g. the retry delay
            for t in scheduled:
                _run_task(ti=t, task=dag.task_dict[t.task_id], run_triggerer=True)
        ti = session.scalars(select(TaskInstance).filter_by(dag_id="asl_machine", task_id="Job")).one()
        report["rerun_try"] = ti.try_number
        report["rerun_after_seconds"] = (ti.start_date - failed_at).total_seconds()
        result = execution_result(dag, dr, with_history=True)
    print(json.dumps({"result": result, "report": report}, default=str))
''')


def _machine(resource: str, parameters: dict) -> dict:
    return {"StartAt": "Job", "States": {"Job": {"Type": "Task", "Resource": f"arn:aws:states:::{resource}",
                                                  "Parameters": parameters, "End": True}}}


@pytest.fixture(scope="module")
def resources(local_stack):
    """What the jobs run on, created with boto3 as a platform team would have deployed it."""
    tag = uuid.uuid4().hex[:8]
    c = local_stack.client
    c("s3").create_bucket(Bucket=BUCKET)
    c("s3").put_object(Bucket=BUCKET, Key="train/train.csv", Body=b"1,2\n3,4\n")
    glue_job = f"asl-crash-{tag}"
    c("glue").create_job(Name=glue_job, Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/x.py"})

    ec2, iam, batch = c("ec2"), c("iam"), c("batch")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"asl-crash-{tag}", Description="batch", VpcId=vpc)["GroupId"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "Service": ["batch.amazonaws.com", "emr-serverless.amazonaws.com", "states.amazonaws.com"]}}]}
    role = iam.create_role(RoleName=f"asl-crash-{tag}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName=f"asl-crash-{tag}", type="MANAGED", state="ENABLED", serviceRole=role,
        computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [sg]},
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(jobQueueName=f"asl-crash-{tag}", state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=f"asl-crash-{tag}", type="container",
        containerProperties={"image": "busybox", "command": ["echo", "Ref::greeting"], "resourceRequirements": [
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]},
    )["jobDefinitionArn"]

    app = c("emr-serverless").create_application(name=f"asl-crash-{tag}", releaseLabel="emr-7.0.0",
                                                 type="SPARK")["applicationId"]
    child = c("stepfunctions").create_state_machine(
        name=f"asl-crash-child-{tag}", roleArn=role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    return {"tag": tag, "glue_job": glue_job, "queue": queue, "definition": definition, "app": app, "role": role,
            "child": child}


def _family(name: str, res: dict) -> tuple[dict, str]:
    """The one-Task machine of a family and the API call after which the worker dies."""
    tag = res["tag"]
    if name == "glue":
        return _machine("glue:startJobRun.sync", {"JobName": res["glue_job"], "Arguments": {"--day": "1"}}), \
            "StartJobRun"
    if name == "sagemaker":
        return _machine("sagemaker:createTrainingJob.sync", {
            "TrainingJobName": f"asl-crash-{tag}",
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/train.csv"}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        }), "CreateTrainingJob"
    if name == "batch":
        return _machine("batch:submitJob.sync", {"JobName": f"asl-crash-{tag}", "JobQueue": res["queue"],
                                                 "JobDefinition": res["definition"],
                                                 "Parameters": {"greeting": "hello"}}), "SubmitJob"
    if name == "athena":
        return _machine("athena:startQueryExecution.sync", {
            "QueryString": f"SELECT '{tag}'", "WorkGroup": "primary",
            "ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/athena/"}}), "StartQueryExecution"
    if name == "emr-serverless":
        return _machine("emr-serverless:startJobRun.sync", {
            "ApplicationId": res["app"], "ExecutionRoleArn": res["role"], "Name": f"asl-crash-{tag}",
            "JobDriver": {"SparkSubmit": {"EntryPoint": f"s3://{BUCKET}/etl.py"}}}), "StartJobRun"
    if name == "stepfunctions":
        return _machine("states:startExecution.sync", {"StateMachineArn": res["child"], "Input": {"n": 1}}), \
            "StartExecution"
    raise AssertionError(name)


def _jobs(name: str, stack, res: dict) -> list[str]:
    """The jobs the local stack received for this family's machine."""
    c, tag = stack.client, res["tag"]
    if name == "glue":
        return [r["Id"] for r in c("glue").get_job_runs(JobName=res["glue_job"])["JobRuns"]]
    if name == "sagemaker":
        jobs = c("sagemaker").list_training_jobs(NameContains=tag)["TrainingJobSummaries"]
        return [j["TrainingJobName"] for j in jobs]
    if name == "batch":
        jobs = c("batch").list_jobs(jobQueue=res["queue"],
                                    filters=[{"name": "JOB_NAME", "values": [f"asl-crash-{tag}"]}])["jobSummaryList"]
        return [j["jobId"] for j in jobs]
    if name == "athena":
        athena = c("athena")
        ids = athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]  # (moto: no BatchGet)
        queries = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
        return [q["QueryExecutionId"] for q in queries if q["Query"] == f"SELECT '{tag}'"]
    if name == "emr-serverless":
        runs = c("emr-serverless").list_job_runs(applicationId=res["app"])["jobRuns"]
        return [r["id"] for r in runs if r.get("name") == f"asl-crash-{tag}"]
    if name == "stepfunctions":
        executions = c("stepfunctions").list_executions(stateMachineArn=res["child"])["executions"]
        return [e["executionArn"] for e in executions]
    raise AssertionError(name)


def _job_id(name: str, output: dict) -> str:
    """The job id the execution's output names."""
    return {
        "glue": lambda: output["Id"], "sagemaker": lambda: output["TrainingJobName"],
        "batch": lambda: output["JobId"], "athena": lambda: output["QueryExecution"]["QueryExecutionId"],
        "emr-serverless": lambda: output["JobRunId"], "stepfunctions": lambda: output["ExecutionArn"],
    }[name]()


#: ``make test`` crashes one family (minutes each); ``make test-all`` (ASL_ALL_TESTS=1) crashes all six
_ALL = os.environ.get("ASL_ALL_TESTS") == "1"
_SLOW = pytest.mark.skipif(not _ALL, reason="one crash per family takes minutes: `make test-all` runs all six")


@pytest.mark.parametrize("family", ["glue", *(pytest.param(f, marks=_SLOW) for f in (
    "sagemaker", "batch", "athena", "emr-serverless", "stepfunctions"))])
def test_worker_crash_after_submission_starts_one_job(stack_env, resources, tmp_path, family, machine_home):
    machine, operation = _family(family, resources)
    _, env = machine_home(tmp_path, machine)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    calls = tmp_path / "calls.jsonl"
    child_env = {**env, "CRASH_AFTER": operation, "CRASH_MARK": str(tmp_path / "crashed"),
                 "CRASH_CALLS": str(calls), "PYTHONPATH": os.pathsep.join([str(hook), env["PYTHONPATH"]])}
    run = [sys.executable, "-c", CHILD]

    crashed = subprocess.run([*run, "crash", LOGICAL_DATE, "{}"], env=child_env, capture_output=True, text=True,
                             timeout=300)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    assert (tmp_path / "crashed").exists()  # killed by the hook, right after AWS answered
    assert len(_jobs(family, stack_env, resources)) == 1

    resumed = subprocess.run([*run, "resume", LOGICAL_DATE, "{}"], env=child_env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    answer = json.loads(resumed.stdout.strip().splitlines()[-1])
    report, result = answer["report"], answer["result"]

    # Airflow's own handling of the dead task: a retry (the state has no Retry), due after the
    # reconnect delay, not Airflow's default 300 s
    assert report["state_after_crash"] == "running"
    assert report["state_after_failure"] == "up_for_retry", report
    assert report["retry_in_seconds"] == pytest.approx(5.0), report
    assert 5.0 <= report["rerun_after_seconds"] < 150, report  # well before Airflow's default 300 s
    assert report["rerun_try"] == report["crashed_try"] + 1, report

    # the same ASL attempt reconnected: one job on the local stack, and it is the execution's result
    jobs = _jobs(family, stack_env, resources)
    assert result["status"] == "SUCCEEDED", (result["error"], result["cause"])
    assert len(jobs) == 1, jobs
    assert _job_id(family, result["output"]) == jobs[0]
    sent = [json.loads(line)["params"] for line in calls.read_text().splitlines()]
    if len(sent) > 1:  # sent again only where the service deduplicates it: the very same token
        token = {"athena": "ClientRequestToken", "emr-serverless": "clientToken"}[family]
        assert len({s[token] for s in sent}) == 1, sent
    types = [event["type"] for event in result["history"]]
    assert sum(t.endswith("Scheduled") for t in types) == 1, types
    assert types.count("TaskSubmitted") <= 1 and types[-1] == "ExecutionSucceeded", types
    assert not any(t.endswith("Failed") for t in types), types
