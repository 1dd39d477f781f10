"""Task Resource ARNs: the integration patterns and how an ARN names a service action.

Kept apart from the entry classes so that checking a definition at DAG parse imports almost nothing.
"""

from __future__ import annotations

import re

REQUEST_RESPONSE = ""
SYNC = ".sync"
WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"

_OPTIMISED = re.compile(
    r"^arn:[^:]+:states:::(?P<service>[a-zA-Z0-9-]+):(?P<action>[a-zA-Z0-9]+)"
    r"(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?$"
)
_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$")


def parse_resource(resource: str) -> tuple[str, str, str]:
    """``(service, action, pattern)`` for a Task Resource ARN.

    ``arn:aws:states:::sagemaker:createTrainingJob.sync`` -> ``("sagemaker", "createTrainingJob", ".sync")``;
    a bare Lambda function ARN -> ``("lambda", "arn", "")``.
    """
    if _LAMBDA_ARN.match(resource):
        return "lambda", "arn", REQUEST_RESPONSE
    match = _OPTIMISED.match(resource)
    if match:
        pattern = match.group("pattern") or REQUEST_RESPONSE
        return match.group("service"), match.group("action"), pattern.replace(":2", "")
    if resource.startswith("arn:") and ":states:::aws-sdk:" in resource:
        tail = resource.split(":states:::aws-sdk:", 1)[1]
        service, _, action = tail.partition(":")
        pattern = WAIT_FOR_TASK_TOKEN if action.endswith(WAIT_FOR_TASK_TOKEN) else REQUEST_RESPONSE
        return f"aws-sdk:{service}", action.removesuffix(WAIT_FOR_TASK_TOKEN), pattern
    return "", "", ""
