"""Request shaping and error names of the Bedrock entries, without a network."""

from __future__ import annotations

import pytest
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations import bedrock
from asl_airflow.integrations.base import CallJournal, ServiceCall

INVOKE = "arn:aws:states:::bedrock:invokeModel"
CUSTOMIZE = "arn:aws:states:::bedrock:createModelCustomizationJob"


class Store(dict):
    def set(self, key, value):
        self[key] = value


def _call(resource: str, parameters, pattern: str = "", journal: CallJournal | None = None) -> ServiceCall:
    action = resource.rsplit(":", 1)[-1].removesuffix(".sync")
    return ServiceCall(resource, "bedrock", action, pattern, parameters, journal=journal)


def test_invoke_model_sends_a_json_body_as_compact_text_and_the_api_members_by_the_model():
    request, output = bedrock.invoke_request(_call(INVOKE, {
        "ModelId": "amazon.titan-text-express-v1", "Body": {"inputText": "héllo", "n": [1, 2]},
        "ContentType": "application/json", "Accept": "application/json", "Trace": "ENABLED",
        "NotAnInvokeModelField": "ignored"}))
    assert request == {"modelId": "amazon.titan-text-express-v1", "body": '{"inputText":"héllo","n":[1,2]}'.encode(),
                       "contentType": "application/json", "accept": "application/json", "trace": "ENABLED"}
    assert output is None


def test_invoke_model_sends_a_string_body_as_it_is():
    parameters = {"ModelId": "m.x", "Body": "raw text", "ContentType": "text/plain"}
    request, _ = bedrock.invoke_request(_call(INVOKE, parameters))
    assert request["body"] == b"raw text" and request["contentType"] == "text/plain"


@pytest.mark.parametrize("parameters", [
    {"ModelId": "m.x", "Body": {}, "Input": {"S3Uri": "s3://b/k"}},
    {"ModelId": "m.x", "Body": {}, "Output": {"S3Uri": "not-s3"}},
    {"ModelId": "m.x", "Body": {}, "Output": {"S3Uri": "s3://bucket-only"}},
    ["not", "an", "object"],
])
def test_invoke_model_refuses_what_step_functions_refuses(parameters):
    with pytest.raises(AslError) as caught:
        bedrock.invoke_request(_call(INVOKE, parameters))
    assert caught.value.error == "States.Runtime"


@pytest.mark.parametrize(("raw", "content_type", "expected"), [
    (b'{"results": [{"outputText": "hi"}]}', "application/json", {"results": [{"outputText": "hi"}]}),
    (b"plain words", "text/plain", "plain words"),
    (b"not json", "application/json", "not json"),
    (b'{"x": NaN}', "application/json", '{"x": NaN}'),  # not JSON as AWS reads it: kept as text
    (b"\xff\xd8\xff", "image/jpeg", "/9j/"),  # bytes that are not text: base64
])
def test_the_answer_body_is_parsed_when_it_is_json(raw, content_type, expected):
    assert bedrock.answer_body(raw, content_type) == expected


def test_customization_request_is_renamed_by_the_model_and_sync_carries_the_attempt_token():
    parameters = {"JobName": "j", "CustomModelName": "m", "RoleArn": "r", "BaseModelIdentifier": "b",
                  "TrainingDataConfig": {"S3Uri": "s3://b/t.jsonl"}, "OutputDataConfig": {"S3Uri": "s3://b/o/"},
                  "HyperParameters": {"epochCount": "1", "MixedCase": "kept"},
                  "JobTags": [{"Key": "team", "Value": "ml"}]}
    journal = CallJournal(Store(), 0, "0b9c6c56-6f63-5a8a-a1d2-8d3a5d0f0d7e")
    request = bedrock.customization_request(_call(f"{CUSTOMIZE}.sync", parameters, ".sync", journal))
    assert request == {
        "jobName": "j", "customModelName": "m", "roleArn": "r", "baseModelIdentifier": "b",
        "trainingDataConfig": {"s3Uri": "s3://b/t.jsonl"}, "outputDataConfig": {"s3Uri": "s3://b/o/"},
        "hyperParameters": {"epochCount": "1", "MixedCase": "kept"},  # a map's keys are data
        "jobTags": [{"key": "team", "value": "ml"}],
        "clientRequestToken": "0b9c6c56-6f63-5a8a-a1d2-8d3a5d0f0d7e",
    }
    own = bedrock.customization_request(_call(f"{CUSTOMIZE}.sync", {**parameters, "ClientRequestToken": "mine"},
                                              ".sync", journal))
    assert own["clientRequestToken"] == "mine"
    assert "clientRequestToken" not in bedrock.customization_request(_call(CUSTOMIZE, parameters, "", journal))


def test_errors_keep_bedrock_names():
    from botocore.exceptions import ClientError, ParamValidationError

    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"},
                             "ResponseMetadata": {"HTTPStatusCode": 429, "RequestId": "r1"}}, "InvokeModel")
    error = bedrock.bedrock_error(throttled, "AmazonBedrockRuntime")
    assert error.error == "Bedrock.ThrottlingException"
    assert error.cause == ("slow down (Service: AmazonBedrockRuntime; Status Code: 429; Error Code: "
                           "ThrottlingException; Request ID: r1; Proxy: null)")
    missing = bedrock.bedrock_error(ParamValidationError(report="Missing required parameter: modelId"), "X")
    assert missing.error == "Bedrock.ValidationException"
    assert bedrock.bedrock_error(ValueError("not AWS"), "X") is None


def test_catalog_lists_the_bedrock_patterns():
    from asl_airflow.integrations.catalog import problem

    assert problem(INVOKE) is None and problem(f"{CUSTOMIZE}.sync") is None and problem(CUSTOMIZE) is None
    assert "does not support" in problem(f"{INVOKE}.sync")
    assert "does not support" in problem(f"{CUSTOMIZE}.waitForTaskToken")
