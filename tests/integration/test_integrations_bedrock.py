"""Amazon Bedrock on the local stack, on both engines: ``invokeModel`` (a JSON Body, a body read from
S3 and an answer written to S3, a malformed body refused as ``Bedrock.ValidationException``) and
``createModelCustomizationJob`` (request-response; ``.sync`` to Completed, and to Failed when the
training data is missing, ``States.TaskFailed`` with the job as the Cause; a refused request).

moto runs no model: InvokeModel answers ``{}`` whatever the model and body; the local stack ends a
customization job at its first GetModelCustomizationJob (see ``devstack._bedrock``)."""

from __future__ import annotations

import json
import uuid

import asl_airflow
import pytest
from task_states import chain

INVOKE = "arn:aws:states:::bedrock:invokeModel"
CUSTOMIZE = "arn:aws:states:::bedrock:createModelCustomizationJob"
MODEL = "amazon.titan-text-express-v1"
ROLE = "arn:aws:iam::123456789012:role/asl-bedrock"


def _job(bucket: str, data_key: str, suffix: str) -> dict:
    return {
        "JobName.$": f"States.Format('{{}}-{suffix}', $.tag)",
        "CustomModelName.$": f"States.Format('m-{{}}-{suffix}', $.tag)",
        "RoleArn": ROLE, "BaseModelIdentifier": MODEL, "HyperParameters": {"epochCount": "1"},
        "TrainingDataConfig": {"S3Uri": f"s3://{bucket}/{data_key}"},
        "OutputDataConfig": {"S3Uri": f"s3://{bucket}/out/"},
    }


def machine(bucket: str) -> dict:
    steps = [
        ("Invoke", INVOKE, {"ModelId": MODEL, "Body": {"inputText.$": "$.prompt", "textGenerationConfig": {
            "maxTokenCount": 10}}, "ContentType": "application/json", "Accept": "application/json"}, "$.invoke", None),
        ("Invoke through S3", INVOKE, {
            "ModelId": MODEL, "Input": {"S3Uri": f"s3://{bucket}/prompt.json"},
            "Output": {"S3Uri.$": f"States.Format('s3://{bucket}/answers/{{}}.json', $.tag)"}},
         "$.invoke_s3", None),
        ("Invoke malformed", INVOKE, {"ModelId": MODEL, "Body": "not json {", "ContentType": "application/json"},
         "$.invoke_bad", "Bedrock.ValidationException"),
        ("Customize", CUSTOMIZE, _job(bucket, "train.jsonl", "rr"), "$.created", None),
        ("Customize and wait", f"{CUSTOMIZE}.sync", _job(bucket, "train.jsonl", "sync"), "$.completed", None),
        ("Customize without data", f"{CUSTOMIZE}.sync", _job(bucket, "missing.jsonl", "nodata"), "$.failed",
         "States.TaskFailed"),
        ("Customize invalid", CUSTOMIZE, {**_job(bucket, "x", "bad"), "TrainingDataConfig": {"S3Uri": "train.jsonl"}},
         "$.invalid", "Bedrock.ValidationException"),
    ]
    return chain(steps)


@pytest.fixture(scope="module")
def bucket(local_stack):
    name = f"asl-bedrock-{uuid.uuid4().hex[:8]}"
    s3 = local_stack.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="train.jsonl", Body=b'{"prompt": "a", "completion": "b"}\n')
    s3.put_object(Bucket=name, Key="prompt.json", Body=b'{"inputText": "from s3"}', ContentType="application/json")
    return name


@pytest.fixture(scope="module")
def runs(local_stack, bucket, environment):
    tag = uuid.uuid4().hex[:8]
    with environment(local_stack.env()):
        local = asl_airflow.run(machine(bucket), {"prompt": "hi", "tag": f"l{tag}"}, engine="local", history=True)
        airflow = asl_airflow.run(machine(bucket), {"prompt": "hi", "tag": f"a{tag}"}, engine="airflow", history=True)
    return {"local": local, "airflow": airflow}


ENGINES = ["local", "airflow"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_succeeds(runs, engine):
    assert runs[engine]["status"] == "SUCCEEDED", runs[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_invoke_model_returns_the_parsed_body_and_its_content_type(runs, engine):
    assert runs[engine]["output"]["invoke"] == {"Body": {}, "ContentType": "application/json"}  # moto runs no model


@pytest.mark.parametrize("engine", ENGINES)
def test_invoke_model_reads_input_from_s3_and_writes_the_answer_to_s3(runs, engine, local_stack, bucket):
    out = runs[engine]["output"]
    uri = f"s3://{bucket}/answers/{out['tag']}.json"
    assert out["invoke_s3"] == {"Body": {"S3Uri": uri}, "ContentType": "application/json"}
    written = local_stack.client("s3").get_object(Bucket=bucket, Key=f"answers/{out['tag']}.json")
    assert json.loads(written["Body"].read()) == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_invoke_model_errors_are_named_as_step_functions_names_them(runs, engine):
    bad = runs[engine]["output"]["invoke_bad"]
    assert bad["Error"] == "Bedrock.ValidationException"
    assert "Malformed input request" in bad["Cause"]
    assert "(Service: AmazonBedrockRuntime; Status Code: 400; Error Code: ValidationException;" in bad["Cause"]


@pytest.mark.parametrize("engine", ENGINES)
def test_create_model_customization_job(runs, engine, bucket):
    out = runs[engine]["output"]
    arn = f"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/{out['tag']}-rr"
    assert out["created"] == {"JobArn": arn}
    done = out["completed"]
    assert done["Status"] == "Completed" and done["JobName"] == f"{out['tag']}-sync"
    assert done["TrainingDataConfig"] == {"S3Uri": f"s3://{bucket}/train.jsonl"}  # PascalCase, as sent
    assert isinstance(done["CreationTime"], int)  # epoch milliseconds
    assert done["ClientRequestToken"]  # the attempt's (Airflow) or botocore's (local) token


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_customization_job_is_task_failed_with_the_job_as_cause(runs, engine):
    out = runs[engine]["output"]
    failed = out["failed"]
    assert failed["Error"] == "States.TaskFailed"
    job = json.loads(failed["Cause"])
    assert job["Status"] == "Failed" and job["JobName"] == f"{out['tag']}-nodata"
    assert "missing.jsonl" in job["FailureMessage"]
    invalid = out["invalid"]
    assert invalid["Error"] == "Bedrock.ValidationException"
    assert "Error Code: ValidationException;" in invalid["Cause"]


def test_both_engines_agree_on_history_and_shapes(runs):
    def types(result):
        return [e["type"] for e in result["history"]]

    assert types(runs["local"]) == types(runs["airflow"])
    assert types(runs["local"]).count("TaskSubmitted") == 2  # the two .sync jobs


def test_sync_job_is_created_once_per_attempt_with_the_attempt_token(local_stack, bucket, environment,
                                                                       journaled_call):
    """A worker that died after CreateModelCustomizationJob left only the pending mark: the re-run of the
    attempt finds the job by its name and this attempt's client token instead of creating another."""
    name = f"crash-{uuid.uuid4().hex[:8]}"
    parameters = {**{k: v for k, v in _job(bucket, "train.jsonl", "x").items() if not k.endswith(".$")},
                  "JobName": name, "CustomModelName": f"m-{name}"}
    with environment(local_stack.env()):
        attempt = journaled_call(f"{CUSTOMIZE}.sync", parameters)
        first = attempt.start()
        attempt.lose_id()  # the id never made it
        again = attempt.start()  # moto would refuse a second job of that name (ResourceInUseException)
    assert first["JobName"] == again["JobName"] == name
    assert first["ClientRequestToken"] == attempt.call.attempt_token
    assert attempt.store["asl_call"]["id"] == name
