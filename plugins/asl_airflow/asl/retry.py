"""Retry and Catch: which retrier or catcher handles an error, and how long to wait.

Pure functions over the state's ``Retry``/``Catch`` lists so that the local interpreter and the
Airflow retry policy make the very same decision. AWS keeps one attempt counter per retrier;
the first retrier whose ``ErrorEquals`` matches decides (a spent retrier does not fall through).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from asl_airflow.asl.errors import RUNTIME, error_matches

DEFAULT_INTERVAL_SECONDS = 1
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_RATE = 2.0
#: the longest retry delay: AWS's largest MaxDelaySeconds (a year); a retrier without
#: MaxDelaySeconds whose backoff grows past it waits this long instead of overflowing
MAX_DELAY_SECONDS = 31_622_400


@dataclass(frozen=True)
class RetryStep:
    """Outcome of matching an error against the retriers."""

    retrier: int | None  # index of the matching retrier, None when none matches
    delay: float | None  # seconds to wait before the next attempt; None: do not retry

    @property
    def retry(self) -> bool:
        return self.delay is not None


def retry_delay(retrier: dict[str, Any], attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt + 1`` (``attempt`` = retries already made by this retrier)."""
    interval = float(retrier.get("IntervalSeconds", DEFAULT_INTERVAL_SECONDS))
    rate = float(retrier.get("BackoffRate", DEFAULT_BACKOFF_RATE))
    cap = min(float(retrier.get("MaxDelaySeconds", MAX_DELAY_SECONDS)), MAX_DELAY_SECONDS)
    # interval * rate ** attempt, without overflowing: compare in logarithms first
    if interval <= 0 or cap <= 0:
        delay = 0.0
    elif rate <= 0:
        delay = interval if attempt == 0 else 0.0
    elif math.log(interval) + attempt * math.log(rate) >= math.log(cap):
        delay = cap
    else:
        delay = interval * rate ** attempt
    delay = max(0.0, min(delay, cap))
    if retrier.get("JitterStrategy", "NONE") == "FULL":
        delay = (rng or random).uniform(0, delay)
    return delay


def next_retry(
    retriers: list[dict[str, Any]], error: str, counters: list[int], rng: random.Random | None = None
) -> RetryStep:
    """Decide whether ``error`` is retried; increments ``counters`` in place when it is.

    ``States.Runtime`` is never retried, even when a retrier names it: AWS documents it as not
    retriable (it always fails the execution). Retrying it would also loop without end, since a
    failed Parameters evaluation writes no history event that the 25,000-event quota could count."""
    if error == RUNTIME:
        return RetryStep(None, None)
    for index, retrier in enumerate(retriers):
        if not error_matches(retrier.get("ErrorEquals", []), error):
            continue
        attempts = counters[index] if index < len(counters) else 0
        if attempts >= retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS):
            return RetryStep(index, None)
        delay = retry_delay(retrier, attempts, rng)
        while len(counters) <= index:
            counters.append(0)
        counters[index] = attempts + 1
        return RetryStep(index, delay)
    return RetryStep(None, None)


def find_catcher(catchers: list[dict[str, Any]], error: str) -> dict[str, Any] | None:
    """The first catcher whose ``ErrorEquals`` covers ``error``."""
    for catcher in catchers:
        if error_matches(catcher.get("ErrorEquals", []), error):
            return catcher
    return None


def max_retries(retriers: list[dict[str, Any]]) -> int:
    """Upper bound of retries a state can make: the sum of its retriers' MaxAttempts."""
    return sum(int(r.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS)) for r in retriers)
