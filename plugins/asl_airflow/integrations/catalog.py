"""Which Task Resources the integration table serves, known without importing the table.

A DAG file checks every Task's Resource when it is parsed (an unsupported one is a definition error
with its file and pointer, not a failure in the middle of a run). Importing the table means importing
every integration module, which the DAG processor would pay on every parse; this list answers the
same question for the price of a dict. ``tests/unit/integrations/test_catalog.py`` keeps it equal to
the table, so adding an integration module means adding its line here.
"""

from __future__ import annotations

import re

from asl_airflow.integrations.resources import parse_resource

_BOTH = frozenset({"", ".sync"})
_CALL = frozenset({""})
_TOKEN = frozenset({"", ".waitForTaskToken"})

#: ``(service, action) -> patterns`` ("" is request-response); ("aws-sdk", "*") is any AWS SDK action
SUPPORTED: dict[tuple[str, str], frozenset[str]] = {
    ("activity", "*"): _CALL,
    ("apigateway", "invoke"): _TOKEN,
    ("athena", "getQueryExecution"): _CALL,
    ("athena", "getQueryResults"): _CALL,
    ("athena", "startQueryExecution"): _BOTH,
    ("athena", "stopQueryExecution"): _CALL,
    ("aws-sdk", "*"): _TOKEN,
    ("batch", "submitJob"): _BOTH,
    ("bedrock", "createModelCustomizationJob"): _BOTH,
    ("bedrock", "invokeModel"): _CALL,
    ("bedrockagentcore", "invokeHarness"): _CALL,
    ("codebuild", "startBuild"): _BOTH,
    ("codebuild", "stopBuild"): _CALL,
    ("dynamodb", "deleteItem"): _CALL,
    ("dynamodb", "getItem"): _CALL,
    ("dynamodb", "putItem"): _CALL,
    ("dynamodb", "updateItem"): _CALL,
    ("ecs", "runTask"): frozenset({"", ".sync", ".waitForTaskToken"}),
    ("elasticmapreduce", "addStep"): _BOTH,
    ("elasticmapreduce", "createCluster"): _BOTH,
    ("elasticmapreduce", "terminateCluster"): _BOTH,
    ("emr-serverless", "startJobRun"): _BOTH,
    ("events", "putEvents"): _TOKEN,
    ("glue", "startJobRun"): _BOTH,
    ("http", "invoke"): _CALL,
    ("lambda", "arn"): _CALL,
    ("lambda", "invoke"): _TOKEN,
    ("mediaconvert", "createJob"): _BOTH,
    ("sagemaker", "createEndpoint"): _CALL,
    ("sagemaker", "createEndpointConfig"): _CALL,
    ("sagemaker", "createHyperParameterTuningJob"): _BOTH,
    ("sagemaker", "createModel"): _CALL,
    ("sagemaker", "createProcessingJob"): _BOTH,
    ("sagemaker", "createTrainingJob"): _BOTH,
    ("sagemaker", "createTransformJob"): _BOTH,
    ("sagemaker", "updateEndpoint"): _CALL,
    ("sns", "publish"): _TOKEN,
    ("sqs", "sendMessage"): _TOKEN,
    ("states", "startExecution"): frozenset({"", ".sync", ".waitForTaskToken"}),
}


def problem(resource: str) -> str | None:
    """Why ``resource`` cannot run (the message ``integrations.resolve`` raises), or None."""
    service, action, pattern = parse_resource(resource)
    patterns = SUPPORTED.get((service, action))
    if patterns is None and service.startswith("aws-sdk:"):
        patterns = SUPPORTED[("aws-sdk", "*")]
    if patterns is None and service == "activity" and action:
        patterns = SUPPORTED[("activity", "*")]  # any activity's name
    if patterns is None and re.fullmatch(r"\$\{[^}]+\}", resource.strip()):
        # SAM/CloudFormation fill it in (DefinitionSubstitutions): so must the user here
        return (f"Resource {resource!r} is a definition substitution with no value: give it, e.g. "
                f"substitutions={{{resource.strip()[2:-1]!r}: '<ARN>'}} (CLI: --subst NAME=ARN)")
    if patterns is None:
        return f"Resource {resource!r} is not a supported service integration"
    if pattern not in patterns:
        return (f"Resource {resource!r}: {service}:{action} does not support the "
                f"{pattern or 'request-response'} pattern")
    return None
