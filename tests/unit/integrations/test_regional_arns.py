"""Integration ARNs that carry a region and account (or a template's ``${AWS::Region}``) name the same
integration as the ``arn:aws:states:::`` form, at DAG parse, at run time and in the history."""

from __future__ import annotations

import pytest
from asl_airflow import AslValidationError, asl_dag
from asl_airflow.asl.history import resource_details
from asl_airflow.integrations import resolve
from asl_airflow.integrations.catalog import problem
from asl_airflow.integrations.resources import integration_arn, parse_resource

TEMPLATE = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"


@pytest.mark.parametrize(("resource", "expected"), [
    ("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject", ("aws-sdk:s3", "getObject", "")),
    ("arn:aws:states:us-east-1:123456789012:sns:publish.waitForTaskToken", ("sns", "publish", ".waitForTaskToken")),
    ("arn:aws:states:eu-west-1:123456789012:states:startExecution.sync:2", ("states", "startExecution", ".sync")),
    (TEMPLATE + "dynamodb:putItem", ("dynamodb", "putItem", "")),
    (TEMPLATE + "aws-sdk:dynamodb:query", ("aws-sdk:dynamodb", "query", "")),
    ("arn:aws:states:${AWS::Region}::sqs:sendMessage", ("sqs", "sendMessage", "")),
    ("arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:f", ("lambda", "arn", "")),
    # an activity is served by one entry for all of them; its name is the action
    ("arn:aws:states:us-east-1:123456789012:activity:fetch", ("activity", "fetch", "")),
    ("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:activity:fetch", ("activity", "fetch", "")),
    # Step Functions' other own resources in the same form are not service integrations
    ("arn:aws:states:us-east-1:123456789012:stateMachine:child", ("", "", "")),
])
def test_region_and_account_are_accepted(resource, expected):
    assert parse_resource(resource) == expected


def test_integration_arn_keeps_the_partition_and_drops_region_and_account():
    assert integration_arn("arn:aws-cn:states:cn-north-1:123456789012:glue:startJobRun.sync") == \
        "arn:aws-cn:states:::glue:startJobRun.sync"
    assert integration_arn(TEMPLATE + "events:putEvents") == "arn:aws:states:::events:putEvents"
    assert integration_arn("arn:aws:states:::sns:publish") == "arn:aws:states:::sns:publish"


def test_catalog_and_table_agree_on_regional_arns():
    resource = "arn:aws:states:us-east-1:123456789012:sqs:sendMessage.waitForTaskToken"
    assert problem(resource) is None
    entry, service, action, pattern = resolve(resource)
    assert (service, action, pattern) == ("sqs", "sendMessage", ".waitForTaskToken")
    assert "does not support the .sync pattern" in problem("arn:aws:states:us-east-1:123456789012:sns:publish.sync")


def test_history_names_the_service_and_action():
    assert resource_details("Task", TEMPLATE + "sns:publish") == {"resourceType": "sns", "resource": "publish"}
    assert resource_details("Task", "arn:aws:states:us-east-1:1:aws-sdk:s3:getObject") == \
        {"resourceType": "aws-sdk:s3", "resource": "getObject"}


def _machine(resource: str) -> dict:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}


def test_asl_dag_compiles_regional_arns():
    for resource in ("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:listBuckets",
                     "arn:aws:states:us-west-2:123456789012:glue:startJobRun.sync"):
        dag = asl_dag(_machine(resource), dag_id="regional")
        assert dag.get_task("T").resource == resource


def test_asl_dag_compiles_template_arns_with_their_substitutions():
    substitutions = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
    dag = asl_dag(_machine(TEMPLATE + "sns:publish"), dag_id="regional", substitutions=substitutions)
    assert dag.get_task("T").resource == "arn:aws:states:eu-west-1:123456789012:sns:publish"


def test_asl_dag_still_refuses_what_no_integration_serves():
    with pytest.raises(AslValidationError, match="/States/T/Resource"):
        asl_dag(_machine("arn:aws:states:us-east-1:123456789012:nope:doIt"), dag_id="regional")
