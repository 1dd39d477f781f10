"""SNS, SQS, Step Functions (nested), Athena, Glue and the generic aws-sdk entry, run through Airflow
against the local endpoint: outputs shaped as Step Functions returns them, and one failure per
service caught under the name Step Functions gives it.

Two machines keep the number of Airflow runs small: one for request-response messaging and SDK
calls, one for the job integrations (``.sync`` defers to the provider's triggers).
"""

from __future__ import annotations

import json
import re
import uuid

import asl_airflow
import pytest
from task_states import chain as _chain

ROLE = "arn:aws:iam::123456789012:role/asl-airflow-integrations"
BUCKET = "asl-airflow-integrations-a"


# -- messaging and SDK calls ------------------------------------------------------------------


@pytest.fixture(scope="module")
def messaging(local_stack):
    """Resources for the request-response machine, made with boto3 on the local endpoint."""
    tag = uuid.uuid4().hex[:8]
    sns, sqs, s3, glue = (local_stack.client(s) for s in ("sns", "sqs", "s3", "glue"))
    topic = sns.create_topic(Name=f"asl-a-{tag}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"asl-a-{tag}")["QueueUrl"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/hello.txt", Body=b"hello, states")
    crawler = f"asl-a-crawler-{tag}"
    glue.create_crawler(Name=crawler, Role=ROLE, DatabaseName="raw",
                        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/in/"}]})
    return {"topic": topic, "queue": queue, "crawler": crawler, "tag": tag}


MESSAGING_STEPS = [
    ("Publish", "arn:aws:states:::sns:publish",
     {"TopicArn.$": "$.topic", "Message": {"order": 7}, "Subject": "s", "Ignored": "dropped"}, "$.sns", None),
    ("Publish nowhere", "arn:aws:states:::sns:publish",
     {"TopicArn.$": "$.missing_topic", "Message": "m"}, "$.sns_error", "SNS.NotFoundException"),
    ("Send", "arn:aws:states:::sqs:sendMessage", {"QueueUrl.$": "$.queue", "MessageBody": {"order": 7}},
     "$.sqs", None),
    ("Send nowhere", "arn:aws:states:::sqs:sendMessage", {"QueueUrl.$": "$.missing_queue", "MessageBody": "m"},
     "$.sqs_error", "SQS.QueueDoesNotExistException"),
    ("Get object", "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "in/hello.txt"},
     "$.object", None),
    ("Get missing object", "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "in/none.txt"},
     "$.object_error", "S3.NoSuchKeyException"),
    ("Start crawler", "arn:aws:states:::aws-sdk:glue:startCrawler", {"Name.$": "$.crawler"}, "$.crawl", None),
    ("Get crawler", "arn:aws:states:::aws-sdk:glue:getCrawler", {"Name.$": "$.crawler"}, "$.crawler_state", None),
    ("Get missing crawler", "arn:aws:states:::aws-sdk:glue:getCrawler", {"Name": "asl-no-such-crawler"},
     "$.crawler_error", "Glue.EntityNotFoundException"),
    ("Execute statement", "arn:aws:states:::aws-sdk:redshiftdata:executeStatement",
     {"ClusterIdentifier": "asl-cluster", "Database": "dev", "DbUser": "etl", "Sql": "select 1"},
     "$.statement", None),
    ("Describe statement", "arn:aws:states:::aws-sdk:redshiftdata:describeStatement",
     {"Id.$": "$.statement.Id"}, "$.statement_state", None),
    ("Describe missing execution", "arn:aws:states:::aws-sdk:sfn:describeExecution",
     {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:asl-none:none"},
     "$.sfn_error", "Sfn.ExecutionDoesNotExistException"),
]


@pytest.fixture(scope="module")
def messaging_run(local_stack, messaging):
    import os

    saved = dict(os.environ)
    os.environ.update(local_stack.env())
    try:
        machine = _chain(MESSAGING_STEPS)
        inputs = {"topic": messaging["topic"], "queue": messaging["queue"], "crawler": messaging["crawler"],
                  "missing_topic": messaging["topic"] + "-missing",
                  "missing_queue": messaging["queue"] + "-missing"}
        return asl_airflow.run(machine, inputs, engine="airflow", history=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_messaging_run_succeeds(messaging_run):
    assert messaging_run["status"] == "SUCCEEDED", messaging_run


def test_sns_publish_output_and_missing_topic(messaging_run, local_stack, messaging):
    out = messaging_run["output"]
    assert set(out["sns"]) == {"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
    assert out["sns"]["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["sns"]["SdkResponseMetadata"]["RequestId"]
    assert out["sns_error"]["Error"] == "SNS.NotFoundException"
    assert "(Service: AmazonSNS; Status Code: 404; Error Code: NotFound;" in out["sns_error"]["Cause"]


def test_sqs_send_message_output_and_missing_queue(messaging_run, local_stack, messaging):
    out = messaging_run["output"]
    assert set(out["sqs"]) == {"MD5OfMessageBody", "MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
    received = local_stack.client("sqs").receive_message(QueueUrl=messaging["queue"])["Messages"]
    assert json.loads(received[0]["Body"]) == {"order": 7}  # a JSON body is sent as JSON text
    assert received[0]["MessageId"] == out["sqs"]["MessageId"]
    assert out["sqs_error"]["Error"] == "SQS.QueueDoesNotExistException"
    assert "Service: AmazonSQS" in out["sqs_error"]["Cause"]


def test_aws_sdk_s3_get_object(messaging_run):
    out = messaging_run["output"]
    assert out["object"]["Body"] == "hello, states"
    assert out["object"]["ContentLength"] == 13
    assert out["object"]["ETag"].startswith('"')
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", out["object"]["LastModified"])
    assert "ResponseMetadata" not in out["object"]
    assert out["object_error"]["Error"] == "S3.NoSuchKeyException"
    assert re.search(r"\(Service: S3, Status Code: 404, Request ID: [^)]*\)$", out["object_error"]["Cause"])


def test_aws_sdk_glue_crawler(messaging_run, messaging):
    out = messaging_run["output"]
    assert out["crawl"] == {}
    crawler = out["crawler_state"]["Crawler"]
    assert crawler["Name"] == messaging["crawler"]
    assert crawler["State"] in ("RUNNING", "READY", "STOPPING")
    assert isinstance(crawler["CreationTime"], str) and crawler["CreationTime"].endswith("Z")
    assert out["crawler_error"]["Error"] == "Glue.EntityNotFoundException"
    assert "(Service: Glue, Status Code: 400" in out["crawler_error"]["Cause"]


def test_aws_sdk_redshift_data(messaging_run):
    out = messaging_run["output"]
    statement_id = out["statement"]["Id"]
    assert out["statement"]["ClusterIdentifier"] == "asl-cluster"
    assert out["statement_state"]["Id"] == statement_id
    assert out["statement_state"]["QueryString"] == "select 1"
    assert out["statement_state"]["Status"]


def test_aws_sdk_sfn_error_name(messaging_run):
    assert messaging_run["output"]["sfn_error"]["Error"] == "Sfn.ExecutionDoesNotExistException"
    assert "(Service: Sfn, Status Code: 400" in messaging_run["output"]["sfn_error"]["Cause"]


def test_caught_errors_are_in_the_history(messaging_run):
    failed = [e for e in messaging_run["history"] if e["type"] == "TaskFailed"]
    errors = {e["taskFailedEventDetails"]["error"] for e in failed}
    assert errors == {"SNS.NotFoundException", "SQS.QueueDoesNotExistException", "S3.NoSuchKeyException",
                      "Glue.EntityNotFoundException", "Sfn.ExecutionDoesNotExistException"}


# -- jobs: Step Functions, Athena, Glue ---------------------------------------------------------


CHILD_OK = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Parameters": {"doubled.$": "$.n"},
                                                  "End": True}}}
CHILD_FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Child.Broken",
                                                    "Cause": "the child failed"}}}


@pytest.fixture(scope="module")
def jobs(local_stack):
    tag = uuid.uuid4().hex[:8]
    sfn, s3, glue = (local_stack.client(s) for s in ("stepfunctions", "s3", "glue"))
    ok = sfn.create_state_machine(name=f"asl-child-ok-{tag}", definition=json.dumps(CHILD_OK),
                                  roleArn=ROLE)["stateMachineArn"]
    bad = sfn.create_state_machine(name=f"asl-child-bad-{tag}", definition=json.dumps(CHILD_FAIL),
                                   roleArn=ROLE)["stateMachineArn"]
    s3.create_bucket(Bucket=f"{BUCKET}-athena")
    job = f"asl-a-job-{tag}"
    glue.create_job(Name=job, Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/x.py"})
    return {"ok": ok, "bad": bad, "job": job, "tag": tag}


def _jobs_machine() -> dict:
    output = {"OutputLocation": f"s3://{BUCKET}-athena/results/"}
    return _chain([
        ("Start child", "arn:aws:states:::states:startExecution",
         {"StateMachineArn.$": "$.ok", "Name.$": "States.Format('rr-{}', $.tag)", "Input": {"n": 1}}, "$.child",
         None),
        ("Run child", "arn:aws:states:::states:startExecution.sync",
         {"StateMachineArn.$": "$.ok", "Name.$": "States.Format('sync-{}', $.tag)", "Input": {"n": 2}},
         "$.child_sync", None),
        ("Run child v2", "arn:aws:states:::states:startExecution.sync:2",
         {"StateMachineArn.$": "$.ok", "Name.$": "States.Format('sync2-{}', $.tag)", "Input": {"n": 3}},
         "$.child_sync2", None),
        ("Run failing child", "arn:aws:states:::states:startExecution.sync",
         {"StateMachineArn.$": "$.bad", "Name.$": "States.Format('bad-{}', $.tag)"}, "$.child_failed",
         "States.TaskFailed"),
        ("Start missing machine", "arn:aws:states:::states:startExecution",
         {"StateMachineArn.$": "States.Format('{}-missing', $.ok)", "Name": "x"}, "$.child_missing",
         "StepFunctions.StateMachineDoesNotExistException"),
        ("Start query", "arn:aws:states:::athena:startQueryExecution",
         {"QueryString": "SELECT 1", "WorkGroup": "primary", "ResultConfiguration": output}, "$.query", None),
        ("Get query", "arn:aws:states:::athena:getQueryExecution",
         {"QueryExecutionId.$": "$.query.QueryExecutionId"}, "$.query_state", None),
        ("Get results", "arn:aws:states:::athena:getQueryResults",
         {"QueryExecutionId.$": "$.query.QueryExecutionId"}, "$.query_results", None),
        ("Stop query", "arn:aws:states:::athena:stopQueryExecution",
         {"QueryExecutionId.$": "$.query.QueryExecutionId"}, "$.query_stop", None),
        ("Run query", "arn:aws:states:::athena:startQueryExecution.sync",
         {"QueryString": "SELECT 2", "ResultConfiguration": output}, "$.query_sync", None),
        ("Query bad workgroup", "arn:aws:states:::athena:startQueryExecution",
         {"QueryString": "SELECT 3", "WorkGroup": "asl-no-such-workgroup"}, "$.query_error",
         "Athena.InvalidRequestException"),
        ("Start job", "arn:aws:states:::glue:startJobRun", {"JobName.$": "$.job"}, "$.job_run", None),
        ("Run job", "arn:aws:states:::glue:startJobRun.sync",
         {"JobName.$": "$.job", "Arguments": {"--day": "2024-01-01"}}, "$.job_sync", None),
        ("Run missing job", "arn:aws:states:::glue:startJobRun.sync", {"JobName": "asl-no-such-job"},
         "$.job_error", "Glue.EntityNotFoundException"),
    ])


@pytest.fixture(scope="module")
def jobs_run(local_stack, jobs):
    import os

    saved = dict(os.environ)
    os.environ.update(local_stack.env())
    try:
        return asl_airflow.run(_jobs_machine(), {k: jobs[k] for k in ("ok", "bad", "job", "tag")},
                               engine="airflow", history=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_jobs_run_succeeds(jobs_run):
    assert jobs_run["status"] == "SUCCEEDED", jobs_run


def test_start_execution_request_response(jobs_run, jobs):
    child = jobs_run["output"]["child"]
    assert child["ExecutionArn"].endswith(f":rr-{jobs['tag']}")
    assert isinstance(child["StartDate"], int) and child["StartDate"] > 1_600_000_000_000  # epoch ms
    assert child["SdkHttpMetadata"]["HttpStatusCode"] == 200


def test_start_execution_sync_and_sync2(jobs_run, jobs):
    sync, sync2 = jobs_run["output"]["child_sync"], jobs_run["output"]["child_sync2"]
    assert sync["Status"] == sync2["Status"] == "SUCCEEDED"
    assert sync["Output"] == '{"doubled":2}' or json.loads(sync["Output"]) == {"doubled": 2}  # .sync: JSON text
    assert sync["Input"] == '{"n":2}'
    assert sync2["Output"] == {"doubled": 3}  # .sync:2: parsed
    assert sync2["Input"] == {"n": 3}
    assert sync["ExecutionArn"].endswith(f":sync-{jobs['tag']}")
    assert sync["StateMachineArn"] == jobs["ok"]
    assert isinstance(sync["StartDate"], int) and isinstance(sync["StopDate"], int)


def test_start_execution_failures(jobs_run):
    failed = jobs_run["output"]["child_failed"]
    assert failed["Error"] == "States.TaskFailed"
    cause = json.loads(failed["Cause"])
    assert cause["Status"] == "FAILED"
    missing = jobs_run["output"]["child_missing"]
    assert missing["Error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert "Service: AWSStepFunctions" in missing["Cause"]


def test_athena(jobs_run):
    out = jobs_run["output"]
    query_id = out["query"]["QueryExecutionId"]
    assert out["query_state"]["QueryExecution"]["QueryExecutionId"] == query_id
    assert out["query_state"]["QueryExecution"]["Query"] == "SELECT 1"
    assert "ResultSet" in out["query_results"]
    assert out["query_stop"] == {}
    sync = out["query_sync"]["QueryExecution"]
    assert sync["Query"] == "SELECT 2"
    assert sync["Status"]["State"] == "SUCCEEDED"
    assert isinstance(sync["Status"]["SubmissionDateTime"], int)  # epoch ms, as the optimized integration
    assert out["query_error"]["Error"] == "Athena.InvalidRequestException"


def test_glue_jobs(jobs_run, jobs):
    out = jobs_run["output"]
    assert out["job_run"]["JobName"] == jobs["job"]
    assert out["job_run"]["JobRunId"]
    sync = out["job_sync"]
    assert sync["JobName"] == jobs["job"]
    assert sync["JobRunState"] == "SUCCEEDED"
    assert sync["Arguments"] == {"--day": "2024-01-01"}  # as given: nothing added (no --airflow_task_uuid)
    assert isinstance(sync["StartedOn"], int)
    assert out["job_error"]["Error"] == "Glue.EntityNotFoundException"


def test_sync_tasks_deferred(jobs_run):
    """.sync Tasks hand the wait to the provider's triggers: TaskSubmitted marks each deferral."""
    submitted = [e for e in jobs_run["history"] if e["type"] == "TaskSubmitted"]
    assert len(submitted) >= 4  # two child executions, one query, one job run
