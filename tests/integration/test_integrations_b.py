"""Integrations part B through Airflow on the local stack: SageMaker tuning and endpoints, AWS Batch,
EMR Serverless, EMR on EC2; Step Functions-shaped outputs and error names.

Two Airflow runs: one machine that runs every integration successfully (on the session's stack),
one that drives a failure per service into Catch (on a stack whose Batch jobs fail:
``MOTO_SIMPLE_BATCH_FAIL_AFTER=0`` in the moto server's environment). The same machines also run
on the local engine, which must agree.
"""

from __future__ import annotations

import json

import asl_airflow
import pytest
from asl_airflow import devstack

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/asl-airflow-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
BUCKET = "asl-airflow-ml"  # seeded by include/seeds/ml_training.py, with csv/train.csv


def _resources(stack, tag: str) -> dict:
    """What a platform team would have deployed: a SageMaker model, a Batch queue and job definition,
    an EMR Serverless application and an EMR cluster. Created with boto3, as infrastructure is."""
    sm = stack.client("sagemaker")
    model = f"asl-b-model-{tag}"
    sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})

    batch = stack.client("batch")
    ec2 = stack.client("ec2")
    iam = stack.client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"asl-b-{tag}", Description="batch", VpcId=vpc)["GroupId"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["batch.amazonaws.com", "emr-serverless.amazonaws.com"]}}]}
    role = iam.create_role(RoleName=f"asl-b-{tag}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName=f"asl-b-{tag}", type="MANAGED", state="ENABLED", serviceRole=role,
        computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [sg]},
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=f"asl-b-{tag}", state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=f"asl-b-{tag}", type="container",
        containerProperties={"image": "busybox", "command": ["echo", "Ref::greeting"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "512"}]},
    )["jobDefinitionArn"]

    app = stack.client("emr-serverless").create_application(
        name=f"asl-b-{tag}", releaseLabel="emr-7.0.0", type="SPARK")["applicationId"]

    cluster = stack.client("emr").run_job_flow(
        Name=f"asl-b-{tag}", ReleaseLabel="emr-7.0.0", ServiceRole="EMR_DefaultRole",
        JobFlowRole="EMR_EC2_DefaultRole",
        Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge", "InstanceCount": 1,
                   "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]

    # DMS and DataSync are aws-sdk-only in Step Functions: the generic entry drives them
    dms = stack.client("dms")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=f"asl-b-{tag}", ReplicationInstanceClass="dms.t3.micro",
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    source = dms.create_endpoint(EndpointIdentifier=f"asl-b-src-{tag}", EndpointType="source", EngineName="postgres",
                                 ServerName="db.local", Port=5432, DatabaseName="orders", Username="u",
                                 Password="p")["Endpoint"]["EndpointArn"]
    target = dms.create_endpoint(
        EndpointIdentifier=f"asl-b-dst-{tag}", EndpointType="target", EngineName="s3",
        S3Settings={"BucketName": BUCKET, "ServiceAccessRoleArn": role},
    )["Endpoint"]["EndpointArn"]
    replication = dms.create_replication_task(
        ReplicationTaskIdentifier=f"asl-b-{tag}", SourceEndpointArn=source, TargetEndpointArn=target,
        ReplicationInstanceArn=instance, MigrationType="full-load",
        TableMappings=json.dumps({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                                             "object-locator": {"schema-name": "%", "table-name": "%"},
                                             "rule-action": "include"}]}),
    )["ReplicationTask"]["ReplicationTaskArn"]
    datasync = stack.client("datasync")
    locations = [datasync.create_location_s3(S3BucketArn=f"arn:aws:s3:::{BUCKET}", Subdirectory=sub,
                                             S3Config={"BucketAccessRoleArn": role})["LocationArn"]
                 for sub in ("/csv", f"/copy-{tag}")]
    task = datasync.create_task(SourceLocationArn=locations[0], DestinationLocationArn=locations[1],
                                Name=f"asl-b-{tag}")["TaskArn"]
    return {"model": model, "queue": queue, "definition": definition, "app": app, "role": role,
            "cluster": cluster, "replication": replication, "datasync": task}


TUNING = {
    "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]},
    },
    "TrainingJobDefinition": {
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "StaticHyperParameters": {"num_round": "10"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/csv/train.csv"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    },
}

SPARK = {"SparkSubmit": {"EntryPoint": "s3://asl-airflow-ml/jobs/etl.py", "EntryPointArguments": ["--day", "1"]}}
STEP = {"Name": "etl", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://asl-airflow-ml/jobs/etl.py"]}}


def _chain(states: list[tuple[str, dict]]) -> dict:
    """A machine that runs ``states`` one after the other."""
    names = [name for name, _ in states]
    built = {}
    for i, (name, state) in enumerate(states):
        nxt = names[i + 1] if i + 1 < len(names) else None
        state = dict(state)
        if nxt:
            state["Next"] = nxt
        else:
            state["End"] = True
        built[name] = state
    return {"StartAt": names[0], "States": built}


def _t(resource: str, parameters: dict, result_path: str, **extra) -> dict:
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": parameters,
            "ResultPath": result_path, **extra}


SUCCESS = _chain([
    ("Tune (sync)", _t("sagemaker:createHyperParameterTuningJob.sync",
                       {"HyperParameterTuningJobName.$": "States.Format('{}-s', $$.Execution.Name)", **TUNING},
                       "$.tuning")),
    ("Tune (request-response)", _t("sagemaker:createHyperParameterTuningJob",
                                   {"HyperParameterTuningJobName.$": "States.Format('{}-r', $$.Execution.Name)",
                                    **TUNING}, "$.tuningStarted")),
    ("Endpoint config", _t("sagemaker:createEndpointConfig", {
        "EndpointConfigName.$": "States.Format('{}-c1', $$.Execution.Name)",
        "ProductionVariants": [{"VariantName": "main", "ModelName.$": "$.res.model", "InitialInstanceCount": 1,
                                "InstanceType": "ml.m5.large"}]}, "$.config1")),
    ("Endpoint", _t("sagemaker:createEndpoint", {
        "EndpointName.$": "$$.Execution.Name",
        "EndpointConfigName.$": "States.Format('{}-c1', $$.Execution.Name)"}, "$.endpoint")),
    ("Batch (request-response)", _t("batch:submitJob", {
        "JobName": "submitted", "JobQueue.$": "$.res.queue", "JobDefinition.$": "$.res.definition",
        "Parameters": {"greeting": "hello"}}, "$.batchSubmitted")),
    ("Batch (sync)", _t("batch:submitJob.sync", {
        "JobName": "synced", "JobQueue.$": "$.res.queue", "JobDefinition.$": "$.res.definition",
        "Parameters": {"greeting": "hello"}, "Tags": {"layer": "batch"},
        "ContainerOverrides": {"Environment": [{"Name": "STAGE", "Value": "test"}]}}, "$.batch")),
    ("EMR Serverless (request-response)", _t("emr-serverless:startJobRun", {
        "ApplicationId.$": "$.res.app", "ExecutionRoleArn.$": "$.res.role", "Name": "started",
        "JobDriver": SPARK}, "$.sparkStarted")),
    ("EMR Serverless (sync)", _t("emr-serverless:startJobRun.sync", {
        "ApplicationId.$": "$.res.app", "ExecutionRoleArn.$": "$.res.role", "Name": "synced",
        "JobDriver": SPARK}, "$.spark")),
    ("EMR add step", _t("elasticmapreduce:addStep", {"ClusterId.$": "$.res.cluster", "Step": STEP}, "$.step")),
    ("EMR create cluster", _t("elasticmapreduce:createCluster.sync", {
        "Name": "asl-b-transient", "ReleaseLabel": "emr-7.0.0", "ServiceRole": "EMR_DefaultRole",
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "Instances": {"MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
                      "KeepJobFlowAliveWhenNoSteps": True}}, "$.cluster")),
    ("EMR terminate cluster", _t("elasticmapreduce:terminateCluster.sync",
                                 {"ClusterId.$": "$.cluster.ClusterId"}, "$.terminated")),
    ("DMS start", _t("aws-sdk:databasemigration:startReplicationTask", {
        "ReplicationTaskArn.$": "$.res.replication", "StartReplicationTaskType": "start-replication"}, "$.dms")),
    ("DMS describe", _t("aws-sdk:databasemigration:describeReplicationTasks", {
        "Filters": [{"Name": "replication-task-arn", "Values.$": "States.Array($.res.replication)"}]},
        "$.dmsTasks")),
    ("DataSync start", _t("aws-sdk:datasync:startTaskExecution", {"TaskArn.$": "$.res.datasync"}, "$.datasync")),
    ("DataSync describe", _t("aws-sdk:datasync:describeTaskExecution", {
        "TaskExecutionArn.$": "$.datasync.TaskExecutionArn"}, "$.datasyncExecution")),
])


def _caught(resource: str, parameters: dict, key: str) -> dict:
    """A Task whose error is caught into ``$.errors.<key>`` (its catcher goes where the Task would)."""
    return _t(resource, parameters, f"$.{key}",
              Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.errors.{key}"}])


def _catching_chain(states: list[tuple[str, dict]]) -> dict:
    machine = _chain([*states, ("Done", {"Type": "Pass"})])
    for state in machine["States"].values():
        for catcher in state.get("Catch", []):
            catcher["Next"] = state["Next"]
    return machine


FAILURES = _catching_chain([
    ("Failing Batch job", _caught("batch:submitJob.sync", {
        "JobName": "fails", "JobQueue.$": "$.res.queue", "JobDefinition.$": "$.res.definition"}, "batchFailed")),
    ("Missing Batch queue", _caught("batch:submitJob", {
        "JobName": "nowhere", "JobQueue": "no-such-queue", "JobDefinition.$": "$.res.definition"}, "batchQueue")),
    ("Missing EMR Serverless application", _caught("emr-serverless:startJobRun.sync", {
        "ApplicationId": "00nosuchapp", "ExecutionRoleArn.$": "$.res.role", "JobDriver": SPARK}, "spark")),
    ("Missing endpoint config", _caught("sagemaker:createEndpoint", {
        "EndpointName": "orphan", "EndpointConfigName": "no-such-config"}, "endpoint")),
    ("Tuning without data", _caught("sagemaker:createHyperParameterTuningJob.sync", {
        "HyperParameterTuningJobName": "no-data", **TUNING,
        "TrainingJobDefinition": {**TUNING["TrainingJobDefinition"], "InputDataConfig": [{
            "ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://asl-airflow-no-such-bucket/train.csv"}}}]}}, "tuning")),
    ("Missing EMR cluster", _caught("elasticmapreduce:addStep", {"ClusterId": "j-NOSUCHCLUSTER", "Step": STEP},
                                    "step")),
    ("Missing DMS task", _caught("aws-sdk:databasemigration:startReplicationTask", {
        "ReplicationTaskArn": "arn:aws:dms:us-east-1:123456789012:task:NOSUCHTASK",
        "StartReplicationTaskType": "start-replication"}, "dms")),
    ("Missing DataSync execution", _caught("aws-sdk:datasync:describeTaskExecution", {
        "TaskExecutionArn": "arn:aws:datasync:us-east-1:123456789012:task/task-0000000000000000f/execution/"
                            "exec-0000000000000000f"}, "datasync")),
])


def _check_success(result: dict, res: dict) -> None:
    assert result["status"] == "SUCCEEDED", (result["error"], result["cause"])
    out = result["output"]
    # .sync tuning: the Describe response, timestamps as epoch milliseconds
    assert out["tuning"]["HyperParameterTuningJobStatus"] == "Completed"
    assert isinstance(out["tuning"]["CreationTime"], int)
    assert out["tuning"]["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 2
    assert set(out["tuningStarted"]) == {"HyperParameterTuningJobArn"}
    assert out["tuningStarted"]["HyperParameterTuningJobArn"].endswith("-r")
    assert out["config1"]["EndpointConfigArn"].startswith("arn:aws:sagemaker:")
    # (sagemaker:updateEndpoint is not exercised: moto 5.2.5 does not implement UpdateEndpoint)
    assert set(out["endpoint"]) == {"EndpointArn"}
    # Batch request-response: the SubmitJob response in PascalCase, with the SDK metadata
    assert {"JobArn", "JobId", "JobName", "SdkHttpMetadata", "SdkResponseMetadata"} <= set(out["batchSubmitted"])
    assert out["batchSubmitted"]["JobName"] == "submitted"
    # Batch .sync: the job description in PascalCase; user keys (Parameters, Tags) untouched
    job = out["batch"]
    assert job["Status"] == "SUCCEEDED" and job["JobName"] == "synced"
    assert job["JobQueue"] == res["queue"] and isinstance(job["CreatedAt"], int)
    assert job["Parameters"] == {"greeting": "hello"} and job["Tags"] == {"layer": "batch"}
    assert {"Name": "STAGE", "Value": "test"} in job["Container"]["Environment"]
    for key in ("sparkStarted", "spark"):
        assert set(out[key]) == {"ApplicationId", "JobRunId", "Arn"}
        assert out[key]["ApplicationId"] == res["app"]
    assert out["step"]["StepId"].startswith("s-")
    assert out["cluster"]["ClusterId"].startswith("j-") and out["terminated"] == {}
    # DMS and DataSync through the generic aws-sdk entry: PascalCase responses
    assert out["dms"]["ReplicationTask"]["ReplicationTaskArn"] == res["replication"]
    assert out["dmsTasks"]["ReplicationTasks"][0]["Status"] == "running"
    assert out["datasync"]["TaskExecutionArn"].startswith(res["datasync"] + "/execution/")
    assert out["datasyncExecution"]["TaskExecutionArn"] == out["datasync"]["TaskExecutionArn"]
    assert out["datasyncExecution"]["Status"] in ("INITIALIZING", "PREPARING", "TRANSFERRING", "VERIFYING", "SUCCESS")


def _check_failures(result: dict) -> None:
    assert result["status"] == "SUCCEEDED", (result["error"], result["cause"])
    errors = result["output"]["errors"]
    assert errors["batchFailed"]["Error"] == "States.TaskFailed"
    failed_job = json.loads(errors["batchFailed"]["Cause"])  # the job description, as on AWS
    assert failed_job["Status"] == "FAILED" and failed_job["JobName"] == "fails"
    assert errors["batchQueue"]["Error"] == "Batch.ClientException"
    assert errors["spark"]["Error"] == "EMRServerless.ResourceNotFoundException"
    assert errors["endpoint"]["Error"] == "SageMaker.AmazonSageMakerException"
    assert errors["tuning"]["Error"] == "States.TaskFailed"
    assert "asl-airflow-no-such-bucket" in errors["tuning"]["Cause"]
    assert errors["step"]["Error"].startswith("ElasticMapReduce.")
    assert errors["dms"]["Error"] == "DatabaseMigration.ResourceNotFoundException"
    assert errors["datasync"]["Error"] == "DataSync.InvalidRequestException"
    assert set(errors) == {"batchFailed", "batchQueue", "spark", "endpoint", "tuning", "step", "dms", "datasync"}


@pytest.fixture(scope="module")
def failing_stack():
    """A second endpoint whose Batch jobs fail (moto reads the switch from its server environment)."""
    stack = devstack.start(extra_env={"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"})
    try:
        yield stack
    finally:
        devstack.stop(stack.pid)


@pytest.mark.parametrize("engine", ["airflow", "local"])
def test_part_b_integrations_succeed(stack_env, engine):
    res = _resources(stack_env, engine)
    result = asl_airflow.run(SUCCESS, {"res": res}, engine=engine, history=True)
    _check_success(result, res)
    types = [e["type"] for e in result["history"]]
    assert types.count("TaskSucceeded") == len(SUCCESS["States"])
    assert types[-1] == "ExecutionSucceeded"
    if engine == "airflow":
        # the .sync tuning job, EMR Serverless run and EMR cluster waits really deferred to triggers
        assert types.count("TaskSubmitted") >= 3, types


@pytest.mark.parametrize("engine", ["airflow", "local"])
def test_part_b_failures_have_step_functions_names(failing_stack, monkeypatch, engine):
    for key, value in failing_stack.env().items():
        monkeypatch.setenv(key, value)
    res = _resources(failing_stack, engine)
    result = asl_airflow.run(FAILURES, {"res": res}, engine=engine)
    _check_failures(result)


def test_batch_sync_resumes_from_the_provider_trigger(stack_env):
    """moto finishes Batch jobs inside SubmitJob, so the ``.sync`` Task never has to defer there;
    the deferred path is checked piece by piece: the provider's ``BatchJobTrigger`` really polls the
    endpoint, and the entry's ``resume`` turns its event into the Step Functions output."""
    import asyncio

    from airflow.providers.amazon.aws.triggers.batch import BatchJobTrigger
    from asl_airflow.integrations import make_call

    res = _resources(stack_env, "trigger")
    job_id = stack_env.client("batch").submit_job(
        jobName="deferred", jobQueue=res["queue"], jobDefinition=res["definition"])["jobId"]

    async def first_event():
        trigger = BatchJobTrigger(job_id=job_id, waiter_delay=1, waiter_max_attempts=3)
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event["status"] == "success" and event["job_id"] == job_id
    entry, call = make_call("arn:aws:states:::batch:submitJob.sync", {"JobName": "deferred"})
    job = entry.resume(call, {}, "execute_complete", event)
    assert job["JobId"] == job_id and job["Status"] == "SUCCEEDED" and job["JobName"] == "deferred"
