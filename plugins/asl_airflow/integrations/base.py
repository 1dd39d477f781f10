"""What a Task's Resource means: the shape of one integration entry.

An entry starts a service call through the Amazon provider (an operator, or a hook where the
operator drops what Step Functions returns), may defer while AWS works, and turns the provider's
answer into the output Step Functions would produce. Entries never poll AWS by hand: waiting is
the provider's waiters and triggers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REQUEST_RESPONSE = ""
SYNC = ".sync"
WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"

_OPTIMISED = re.compile(
    r"^arn:[^:]+:states:::(?P<service>[a-zA-Z0-9-]+):(?P<action>[a-zA-Z0-9]+)"
    r"(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?$"
)
_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$")


@dataclass
class ServiceCall:
    """One call of a Task's Resource with its rendered parameters."""

    resource: str
    service: str
    action: str
    pattern: str
    parameters: Any
    aws_conn_id: str = "aws_default"
    region_name: str | None = None
    deferrable: bool = True
    task_id: str = "asl_task"
    state_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Integration:
    """A table entry: how to start a call, resume it after a deferral and shape its output.

    ``start(call, context)`` returns the Step Functions-shaped result, or raises the provider's
    ``TaskDeferred`` while AWS works; ``resume(call, context, method_name, event)`` finishes it.
    ``error_prefix`` names service errors as Step Functions does (``Lambda.ServiceException``).
    """

    service: str
    action: str
    patterns: frozenset[str]
    error_prefix: str
    start: Callable[[ServiceCall, Any], Any]
    resume: Callable[[ServiceCall, Any, str, Any], Any] | None = None
    error_name: Callable[[BaseException, ServiceCall], str | None] | None = None


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


def run_nested(operator: Any, context: Any) -> Any:
    """Run a provider operator's ``execute`` inside the state task that owns it.

    Airflow guards ``execute`` against calls from outside its task runner; the state task *is*
    running under the task runner, so it passes the runner's own sentinel instead of tripping
    the guard (and its warning) on every call.
    """
    from airflow.sdk.bases.operator import ExecutorSafeguard

    sentinel = {f"{type(operator).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
    return operator.execute(context, **sentinel)
