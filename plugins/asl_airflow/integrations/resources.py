"""Task Resource ARNs: the integration patterns and how an ARN names a service action.

Kept apart from the entry classes so that checking a definition at DAG parse imports almost nothing.
"""

from __future__ import annotations

import re

REQUEST_RESPONSE = ""
SYNC = ".sync"
WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"
#: the "service" of a Step Functions activity (``arn:aws:states:<region>:<account>:activity:<name>``);
#: its action is the activity's name, and one table entry, ``(ACTIVITY, "*")``, serves them all
ACTIVITY = "activity"

#: matched after :func:`integration_arn` has emptied the region and account fields
_OPTIMISED = re.compile(
    r"^arn:[^:]+:states:::(?P<service>[a-zA-Z0-9-]+):(?P<action>[a-zA-Z0-9]+)"
    r"(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?$"
)
_AWS_SDK = re.compile(r"^arn:[^:]+:states:::aws-sdk:(?P<tail>.+)$")
_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$")
#: ``${AWS::Region}``, ``${AWS::AccountId}``, ``${AWS::Partition}`` and other CloudFormation
#: placeholders a template left in the ARN (their ``::`` would otherwise split a field)
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_FIELD = r"(?:\$\{[^}]*\}|[^:$])*"
_REGIONAL = re.compile(rf"^arn:(?P<partition>{_FIELD}):states:{_FIELD}:{_FIELD}:(?P<rest>(?P<kind>[^:]+):.+)$")
#: Step Functions' own resource kinds in the region/account form, which are not service actions
_NOT_INTEGRATIONS = frozenset({"activity", "stateMachine", "execution", "express", "mapRun"})


def integration_arn(resource: str) -> str:
    """``resource`` with its region and account fields emptied, the placeholders a SAM or
    CloudFormation template puts there included: ``arn:aws:states:us-east-1:123456789012:sns:publish``
    and ``arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:sns:publish`` both name the
    same integration as ``arn:aws:states:::sns:publish`` (the call goes where the connection points,
    as Step Functions calls the service in the state machine's own region). Anything else is
    returned unchanged."""
    match = _REGIONAL.match(resource)
    if not match or match.group("kind") in _NOT_INTEGRATIONS:
        return resource
    partition = match.group("partition")
    return f"arn:{'aws' if '${' in partition else partition}:states:::{match.group('rest')}"


def parse_resource(resource: str) -> tuple[str, str, str]:
    """``(service, action, pattern)`` for a Task Resource ARN.

    ``arn:aws:states:::sagemaker:createTrainingJob.sync`` -> ``("sagemaker", "createTrainingJob", ".sync")``;
    a bare Lambda function ARN -> ``("lambda", "arn", "")``; an activity ARN -> ``("activity",
    <name>, "")``. The region and account may be given (see :func:`integration_arn`).
    """
    if _LAMBDA_ARN.match(_PLACEHOLDER.sub("x", resource)):
        return "lambda", "arn", REQUEST_RESPONSE
    regional = _REGIONAL.match(resource)
    if regional and regional.group("kind") == ACTIVITY:
        return ACTIVITY, regional.group("rest").partition(":")[2], REQUEST_RESPONSE
    resource = integration_arn(resource)
    match = _OPTIMISED.match(resource)
    if match:
        pattern = match.group("pattern") or REQUEST_RESPONSE
        return match.group("service"), match.group("action"), pattern.replace(":2", "")
    sdk = _AWS_SDK.match(resource)
    if sdk:
        service, _, action = sdk.group("tail").partition(":")
        pattern = WAIT_FOR_TASK_TOKEN if action.endswith(WAIT_FOR_TASK_TOKEN) else REQUEST_RESPONSE
        return f"aws-sdk:{service}", action.removesuffix(WAIT_FOR_TASK_TOKEN), pattern
    return "", "", ""
