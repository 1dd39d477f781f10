"""What a Task's Resource means: the shape of one integration entry.

An entry starts a service call through the Amazon provider (an operator, or a hook where the
operator drops what Step Functions returns), may defer while AWS works, and turns the provider's
answer into the output Step Functions would produce. Entries never poll AWS by hand: waiting is
the provider's waiters and triggers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asl_airflow.integrations.resources import (  # noqa: F401 - re-exported
    REQUEST_RESPONSE,
    SYNC,
    WAIT_FOR_TASK_TOKEN,
    parse_resource,
)


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


def run_nested(operator: Any, context: Any) -> Any:
    """Run a provider operator's ``execute`` inside the state task that owns it.

    Airflow guards ``execute`` against calls from outside its task runner; the state task *is*
    running under the task runner, so it passes the runner's own sentinel instead of tripping
    the guard (and its warning) on every call.
    """
    from airflow.sdk.bases.operator import ExecutorSafeguard

    sentinel = {f"{type(operator).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
    return operator.execute(context, **sentinel)
