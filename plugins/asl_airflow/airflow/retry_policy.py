"""ASL Retry as Airflow's own retry machinery.

The state operator decides, with ``asl.retry.next_retry`` and one counter per retrier kept in
``task_state_store``, whether an error is retried and after what delay; it raises
:class:`AslStateFailed` carrying that decision. :class:`AslRetryPolicy` hands the decision to
Airflow, which schedules the next try after exactly that delay (``retries`` on the task is the
sum of MaxAttempts plus a few re-runs after worker crashes, an upper bound only).

A failure that is not an ASL error (an exception outside the state's own evaluation and service
call, such as a lost connection to Airflow's API server) is no ASL failure either: it gets
Airflow's standard retry, the same as a killed task process or a heartbeat timeout (which no
policy sees): after the task's ``retry_delay`` the same ASL attempt runs again and reconnects to
its job, without touching the ASL retry counters.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy


class AslStateFailed(Exception):
    """A state ended in an ASL error. ``retry_delay`` is set when a retrier will try again."""

    def __init__(self, error: str | None, cause: str | None, retry_delay: float | None = None,
                 retrier: int | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else str(error))
        self.error = error
        self.cause = cause
        self.retry_delay = retry_delay
        self.retrier = retrier


class AslRetryPolicy(RetryPolicy):
    """Retry exactly when the ASL retriers said so, after exactly their delay; otherwise fail."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Any = None) -> RetryDecision:
        if isinstance(exception, AslStateFailed) and exception.retry_delay is not None:
            return RetryDecision.retry(
                delay=timedelta(seconds=exception.retry_delay),
                reason=f"ASL Retry[{exception.retrier}] matched {exception.error}; "
                f"next attempt in {exception.retry_delay:g}s",
            )
        if isinstance(exception, AslStateFailed):
            return RetryDecision.fail(reason=f"no ASL retrier left for {exception.error}")
        return RetryDecision.default()  # not an ASL error: re-run the same attempt (retry_delay)

    def serialize(self) -> dict[str, Any]:
        return {"__type": "AslRetryPolicy"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> AslRetryPolicy:
        return cls()
