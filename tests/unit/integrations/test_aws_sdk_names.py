"""aws-sdk naming without AWS: SDK service names -> boto3 clients, actions -> methods, error names,
and the parameter/result shapes, checked against what the Step Functions documentation lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import aws_sdk, resolve


@pytest.mark.parametrize(
    "sdk_name, boto3_name, prefix",
    [
        # (the Task Resource's service name, the boto3 client, the documented exception prefix)
        ("s3", "s3", "S3"),
        ("sfn", "stepfunctions", "Sfn"),
        ("dynamodb", "dynamodb", "DynamoDb"),
        ("redshiftdata", "redshift-data", "RedshiftData"),
        ("databasemigration", "dms", "DatabaseMigration"),
        ("datasync", "datasync", "DataSync"),
        ("glue", "glue", "Glue"),
        ("quicksight", "quicksight", "QuickSight"),
        ("emrserverless", "emr-serverless", "EmrServerless"),
        ("sagemaker", "sagemaker", "SageMaker"),
        ("athena", "athena", "Athena"),
        ("sns", "sns", "Sns"),
        ("sqs", "sqs", "Sqs"),
        ("cloudwatchlogs", "logs", "CloudWatchLogs"),
        ("eventbridge", "events", "EventBridge"),
        ("acmpca", "acm-pca", "AcmPca"),
        ("elasticloadbalancingv2", "elbv2", "ElasticLoadBalancingV2"),
        ("costexplorer", "ce", "CostExplorer"),
        ("lexmodelbuilding", "lex-models", "LexModelBuilding"),
        ("apigatewayv2", "apigatewayv2", "ApiGatewayV2"),
        ("sesv2", "sesv2", "SesV2"),
        ("wafv2", "wafv2", "Wafv2"),
        ("fsx", "fsx", "FSx"),
        ("xray", "xray", "XRay"),
        ("ec2", "ec2", "Ec2"),
        ("directory", "ds", "Directory"),
        ("sagemakera2iruntime", "sagemaker-a2i-runtime", "SageMakerA2IRuntime"),
    ],
)
def test_sdk_service_names(sdk_name, boto3_name, prefix):
    assert aws_sdk.boto3_service(sdk_name) == (boto3_name, prefix)


def test_an_unknown_service_is_a_runtime_error():
    with pytest.raises(AslError) as err:
        aws_sdk.boto3_service("nosuchservicezz")
    assert err.value.error == "States.Runtime"


@pytest.mark.parametrize(
    "service_id, name",
    [("DynamoDB", "DynamoDb"), ("SFN", "Sfn"), ("Database Migration Service", "DatabaseMigration"),
     ("CloudWatch Logs", "CloudWatchLogs"), ("AWSHealth", "Health"), ("IoTAnalytics", "IoTAnalytics"),
     ("Lex Models V2", "LexModelsV2"), ("EMR Serverless", "EmrServerless"), ("Redshift Data", "RedshiftData")],
)
def test_java_service_name(service_id, name):
    assert aws_sdk.java_service_name(service_id) == name


@pytest.mark.parametrize(
    "shape, name",
    [("NoSuchKey", "NoSuchKeyException"), ("QueueDoesNotExist", "QueueDoesNotExistException"),
     ("ExecutionDoesNotExist", "ExecutionDoesNotExistException"),
     ("EntityNotFoundException", "EntityNotFoundException"), ("BucketAlreadyExists", "BucketAlreadyExistsException"),
     ("DBInstanceNotFoundFault", "DbInstanceNotFoundException"),
     ("KMSInvalidStateException", "KmsInvalidStateException")],
)
def test_java_exception_name(shape, name):
    assert aws_sdk.java_exception_name(shape) == name


@pytest.mark.parametrize(
    "service, action, method",
    [("s3", "getObject", "get_object"), ("glue", "startCrawler", "start_crawler"),
     ("redshiftdata", "executeStatement", "execute_statement"),
     ("sfn", "startSyncExecution", "start_sync_execution"), ("dynamodb", "putItem", "put_item"),
     ("sqs", "sendMessage", "send_message")],
)
def test_actions_map_to_boto3_methods(service, action, method):
    import botocore.session
    from botocore import xform_name

    boto3_name, _ = aws_sdk.boto3_service(service)
    model = botocore.session.get_session().get_service_model(boto3_name)
    assert xform_name(aws_sdk.operation_name(model, action)) == method


def test_an_unknown_action_is_a_runtime_error():
    import botocore.session

    with pytest.raises(AslError) as err:
        aws_sdk.operation_name(botocore.session.get_session().get_service_model("s3"), "getObjectz")
    assert err.value.error == "States.Runtime"


def _client_error(service: str, code: str, status: int = 400, shape: str | None = None):
    """A real botocore error as the client raises it (modeled errors get their own class; SQS's
    JSON protocol reports the query-protocol code with the error shape's class)."""
    import botocore.session

    client = botocore.session.get_session().create_client(service, region_name="us-east-1",
                                                          aws_access_key_id="k", aws_secret_access_key="s")
    response = {"Error": {"Code": code, "Message": "it went wrong"},
                "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "req-1"}}
    return client.exceptions.from_code(shape or code)(response, "Op")


@pytest.mark.parametrize(
    "service, code, prefix, name",
    [("s3", "NoSuchKey", "S3", "S3.NoSuchKeyException"),
     ("s3", "NoSuchBucket", "S3", "S3.NoSuchBucketException"),
     ("stepfunctions", "ExecutionDoesNotExist", "Sfn", "Sfn.ExecutionDoesNotExistException"),
     ("glue", "EntityNotFoundException", "Glue", "Glue.EntityNotFoundException"),
     ("dynamodb", "ConditionalCheckFailedException", "DynamoDb", "DynamoDb.ConditionalCheckFailedException"),
     # an error the service model does not declare: the service's generic exception
     ("s3", "SomethingNew", "S3", "S3.S3Exception"),
     ("dynamodb", "SomethingNew", "DynamoDb", "DynamoDb.DynamoDbException")],
)
def test_sdk_error_names(service, code, prefix, name):
    exc = _client_error(service, code)
    assert aws_sdk.sdk_error_name(prefix, exc) == name


def test_sdk_error_cause_is_the_java_sdk_message():
    exc = _client_error("s3", "NoSuchKey", 404)
    assert aws_sdk.sdk_error_cause("S3", exc) == "it went wrong (Service: S3, Status Code: 404, Request ID: req-1)"


def test_optimized_error_names_follow_the_v1_sdk():
    from asl_airflow.integrations._optimized import v1_error

    error = v1_error(_client_error("sqs", "AWS.SimpleQueueService.NonExistentQueue", shape="QueueDoesNotExist"),
                     "SQS", "AmazonSQS")
    assert error.error == "SQS.QueueDoesNotExistException"
    assert error.cause.startswith("it went wrong (Service: AmazonSQS; Status Code: 400; Error Code: AWS.")
    assert v1_error(_client_error("sns", "NotFound", 404), "SNS", "AmazonSNS").error == "SNS.NotFoundException"
    assert v1_error(ValueError("not a service error"), "SNS", "AmazonSNS") is None


def test_a_request_botocore_refuses_is_the_400_the_service_answers_and_named_errors_raise_it():
    from asl_airflow.integrations._optimized import named_errors, refused_request
    from botocore.exceptions import ParamValidationError

    refused = ParamValidationError(report='Missing required parameter in input: "Entries"')
    error = refused_request(refused, "EventBridge", "AmazonEventBridge", "ValidationException",
                            "AmazonEventBridgeException")
    assert error.error == "EventBridge.AmazonEventBridgeException"
    assert error.cause == (f"{refused} (Service: AmazonEventBridge; Status Code: 400; Error Code: ValidationException; "
                           "Request ID: null; Proxy: null)")
    assert refused_request(refused, "ECS", "AmazonECS", "InvalidParameterException").error == \
        "ECS.InvalidParameterException"  # the name is the code unless given
    assert refused_request(ValueError("not botocore's"), "ECS", "AmazonECS", "InvalidParameterException") is None

    def ecs_refused(exc: BaseException) -> AslError | None:
        return refused_request(exc, "ECS", "AmazonECS", "InvalidParameterException")

    with pytest.raises(AslError) as caught, named_errors(ecs_refused):
        raise refused
    assert caught.value.error == "ECS.InvalidParameterException" and caught.value.__cause__ is refused
    with pytest.raises(ValueError, match="unnamed"), named_errors(ecs_refused):
        raise ValueError("unnamed")
    with pytest.raises(AslError) as caught, named_errors(lambda exc: AslError("Wrong.Name")):
        raise AslError("States.TaskFailed", "an ASL error passes as it is")
    assert caught.value.error == "States.TaskFailed"


def test_known_request_keeps_the_members_the_api_knows_and_refuses_a_non_object():
    from asl_airflow.integrations import _shapes

    request = _shapes.known_request("ecs", "RunTask", {"Cluster": "c", "TaskDefinition": "t", "Comment": "x"},
                                    "arn:aws:states:::ecs:runTask", skip=("TaskDefinition",))
    assert request == {"cluster": "c"}
    assert _shapes.known_request("ecs", "RunTask", None, "arn:aws:states:::ecs:runTask") == {}
    with pytest.raises(AslError) as caught:
        _shapes.known_request("ecs", "RunTask", ["not", "an", "object"], "arn:aws:states:::ecs:runTask")
    assert caught.value.error == "States.Runtime" and "Parameters must be a JSON object" in caught.value.cause


def test_parameters_match_members_case_insensitively_and_json_goes_as_text():
    import botocore.session

    sfn = botocore.session.get_session().get_service_model("stepfunctions")
    shape = sfn.operation_model("StartExecution").input_shape
    request = aws_sdk.to_request({"StateMachineArn": "arn", "Input": {"a": 1}, "Name": "n"}, shape)
    assert request == {"stateMachineArn": "arn", "input": '{"a":1}', "name": "n"}
    batch = botocore.session.get_session().get_service_model("batch")
    submit = batch.operation_model("SubmitJob").input_shape
    assert aws_sdk.to_request({"JobName": "j", "ContainerOverrides": {"Command": ["x"]}}, submit) == {
        "jobName": "j", "containerOverrides": {"command": ["x"]}}


def test_results_are_pascal_case_json_with_iso_timestamps():
    import io

    import botocore.session

    sfn = botocore.session.get_session().get_service_model("stepfunctions")
    shape = sfn.operation_model("DescribeExecution").output_shape
    when = datetime(2024, 5, 23, 19, 11, 31, 250000, tzinfo=timezone(timedelta(hours=2)))
    out = aws_sdk.from_response({"executionArn": "a", "startDate": when, "inputDetails": {"included": True},
                                 "ResponseMetadata": {"RequestId": "x"}}, shape)
    assert out == {"ExecutionArn": "a", "StartDate": "2024-05-23T17:11:31.250Z", "InputDetails": {"Included": True}}
    s3 = botocore.session.get_session().get_service_model("s3")
    get = s3.operation_model("GetObject").output_shape
    body = aws_sdk.from_response({"Body": io.BytesIO(b"text data"), "ETag": '"e"', "Metadata": {"k": "v"}}, get)
    assert body == {"Body": "text data", "ETag": '"e"', "Metadata": {"k": "v"}}


def test_iso_instant_prints_like_java():
    assert aws_sdk.iso_instant(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert aws_sdk.iso_instant(datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)) == (
        "2024-01-02T03:04:05.123456Z")


def test_every_aws_sdk_resource_resolves_to_the_generic_entry():
    entry, service, action, pattern = resolve("arn:aws:states:::aws-sdk:redshiftdata:executeStatement")
    assert (entry.service, entry.action, service, action, pattern) == (
        "aws-sdk", "*", "aws-sdk:redshiftdata", "executeStatement", "")
    entry, *_ = resolve("arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken")
    assert (entry.service, entry.action) == ("aws-sdk", "*")
