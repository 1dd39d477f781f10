"""Error names and exceptions of the Amazon States Language.

Every failure inside a state machine is an *ASL error*: a name (``States.Timeout``,
``Lambda.ServiceException``, ...) and a cause string. Keeping them as one exception type lets
the interpreter, the Airflow operators and the retry policy match ``ErrorEquals`` the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

ALL = "States.ALL"
RUNTIME = "States.Runtime"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
TASK_FAILED = "States.TaskFailed"
PERMISSIONS = "States.Permissions"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
BRANCH_FAILED = "States.BranchFailed"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"

#: errors that ``States.ALL`` does not catch or retry (AWS: "terminal" errors)
NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})

#: 256 KiB, the Step Functions limit on one payload (input, output, result)
PAYLOAD_LIMIT_BYTES = 256 * 1024

#: the Step Functions quota "Maximum execution history size": event 25,000 is the ExecutionFailed event
HISTORY_LIMIT_EVENTS = 25_000
#: the cause AWS writes when an execution reaches that quota (error States.Runtime)
HISTORY_LIMIT_CAUSE = f"The execution reached the maximum number of history events ({HISTORY_LIMIT_EVENTS})."


class AslError(Exception):
    """A named ASL error raised while a state runs; Retry and Catch match on ``error``."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def to_output(self) -> dict[str, str]:
        """The error output a Catch places at its ResultPath (``{"Error", "Cause"}``)."""
        out = {"Error": self.error}
        if self.cause is not None:
            out["Cause"] = self.cause
        return out


class ExecutionFailed(AslError):
    """The execution ended FAILED (a Fail state, or an error nobody caught)."""


class ExecutionAborted(Exception):  # noqa: N818 - the name AWS gives the event and the status
    """Raised (e.g. by an injected ``sleep``) to stop an execution; it ends ABORTED, not FAILED."""


class ExecutionStopped(Exception):  # noqa: N818 - a family of terminal outcomes, not one error
    """Ends the whole execution whatever Retry or Catch say (it is not an :class:`AslError`, so no
    state handler sees it). The engine that runs the execution turns it into its terminal event."""

    status = "FAILED"
    error: str | None = None
    cause: str | None = None


class HistoryLimitExceeded(ExecutionStopped):
    """The execution's history reached :data:`HISTORY_LIMIT_EVENTS`: FAILED with States.Runtime,
    the failure being the last event (as AWS does, so the loop that caused it cannot catch it)."""

    error = RUNTIME
    cause = HISTORY_LIMIT_CAUSE


class ExecutionTimedOut(ExecutionStopped):
    """The state machine's top-level ``TimeoutSeconds`` elapsed: status TIMED_OUT, one
    ``ExecutionTimedOut`` event carrying ``States.Timeout`` (no cause in AWS's event)."""

    status = "TIMED_OUT"
    error = TIMEOUT

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self.cause = (f"The execution ran longer than the state machine's TimeoutSeconds "
                      f"({timeout_seconds:g} seconds).")
        super().__init__(self.cause)


class InvalidExecutionInput(ValueError):
    """StartExecution refused the input, so no execution started (AWS's API error ``name`` and
    message: ``InvalidExecutionInput`` for input that is not JSON, ``ValidationException`` for
    input over 262,144 bytes). Raised by ``asl_airflow.run`` on both engines before anything runs."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class AslValidationError(ValueError):
    """A definition AWS would reject; ``problems`` holds ``<file>:<JSON pointer>: <message>`` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid state machine definition:\n" + "\n".join(self.problems))


def error_matches(error_equals: Iterable[str], error: str) -> bool:
    """True when a retrier's or catcher's ``ErrorEquals`` covers ``error`` (ASL matching rules)."""
    for name in error_equals:
        if name == error:
            return True
        if name == ALL and error not in NOT_MATCHED_BY_ALL:
            return True
        if name == TASK_FAILED and error not in NOT_MATCHED_BY_ALL and error != TIMEOUT:
            # AWS: in Retry/Catch, States.TaskFailed is a wildcard for any error but States.Timeout
            return True
    return False
