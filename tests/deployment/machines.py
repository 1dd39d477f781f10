"""The state machines of the deployment tests: the shapes that broke on real deployments.

Short Waits (1-3 s), a Choice poll loop with a 1 s Wait (one loop region task deferring on every
round), a Map with MaxConcurrency whose items wait, a Parallel with a 3 s Wait branch, and Retry +
Catch against the local stack (S3 on moto). ``RUNS`` is the mix the tests start at once, with the
platform DAGs of ``dags/``.
"""

from __future__ import annotations

from typing import Any

LAKE = "asl-airflow-lake"

WAIT = {
    "Comment": "A Wait of 1-3 s from the input, then a Pass.",
    "StartAt": "Wait a little",
    "States": {
        "Wait a little": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"waited.$": "$.seconds"}, "End": True},
    },
}

POLL_LOOP = {
    "Comment": "A poll loop: wait 1 s, count, until the count reaches the input's limit.",
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Parameters": {"count": 0, "limit.$": "$.limit"}, "Next": "Wait 1 s"},
        "Wait 1 s": {"Type": "Wait", "Seconds": 1, "Next": "Poll"},
        "Poll": {"Type": "Pass", "Parameters": {"count.$": "States.MathAdd($.count, 1)", "limit.$": "$.limit"},
                 "Next": "Done?"},
        "Done?": {"Type": "Choice",
                  "Choices": [{"Variable": "$.count", "NumericLessThanPath": "$.limit", "Next": "Wait 1 s"}],
                  "Default": "Finished"},
        "Finished": {"Type": "Succeed"},
    },
}

MAP = {
    "Comment": "A Map over the input's items, two at a time, each waiting 1 s.",
    "StartAt": "Each item",
    "States": {
        "Each item": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Pause",
                "States": {
                    "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Square"},
                    "Square": {"Type": "Pass", "Parameters": {"n.$": "$", "square.$": "States.MathAdd($, $)"},
                               "End": True},
                },
            },
            "End": True,
        },
    },
}

PARALLEL = {
    "Comment": "A Parallel whose first branch waits $.wait seconds; the second one fails when asked, and is caught.",
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Slow wait", "States": {
                    "Slow wait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Slow done"},
                    "Slow done": {"Type": "Pass", "Result": "slow", "End": True}}},
                {"StartAt": "Fail?", "States": {
                    "Fail?": {"Type": "Choice",
                              "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Broken"}],
                              "Default": "Fast done"},
                    "Broken": {"Type": "Fail", "Error": "Branch.Broken", "Cause": "asked to fail"},
                    "Fast done": {"Type": "Pass", "Result": "fast", "End": True}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Recovered"}],
            "Next": "Joined",
        },
        "Joined": {"Type": "Pass", "End": True},
        "Recovered": {"Type": "Pass", "End": True},
    },
}

RETRY_CATCH = {
    "Comment": "S3 GetObject on the local stack: a missing key is retried twice (1 s apart), then caught.",
    "StartAt": "Read",
    "States": {
        "Read": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": LAKE, "Key.$": "$.key"},
            "ResultSelector": {"type.$": "$.ContentType", "length.$": "$.ContentLength"},
            "ResultPath": "$.object",
            "Retry": [{"ErrorEquals": ["S3.NoSuchKeyException"], "IntervalSeconds": 1, "MaxAttempts": 2,
                       "BackoffRate": 1.0}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Missing"}],
            "Next": "Found",
        },
        "Found": {"Type": "Pass", "End": True},
        "Missing": {"Type": "Pass", "Parameters": {"error.$": "$.error.Error"}, "End": True},
    },
}

RETRY_FAIL = {
    "Comment": "The same read without a Catch: the execution fails with S3's error after the retries.",
    "StartAt": "Read",
    "States": {
        "Read": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": LAKE, "Key.$": "$.key"},
            "Retry": [{"ErrorEquals": ["S3.NoSuchKeyException"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "End": True,
        },
    },
}

MACHINES: dict[str, dict[str, Any]] = {
    "deploy_wait": WAIT,
    "deploy_poll_loop": POLL_LOOP,
    "deploy_map": MAP,
    "deploy_parallel": PARALLEL,
    "deploy_retry_catch": RETRY_CATCH,
    "deploy_retry_fail": RETRY_FAIL,
}

#: (dag_id, input) of the runs started at once, besides the platform DAGs
RUNS: list[tuple[str, Any]] = [
    *[("deploy_wait", {"seconds": s}) for s in (1, 2, 3)],
    *[("deploy_poll_loop", {"limit": n}) for n in (2, 3, 3, 4, 4)],
    ("deploy_map", {"items": [1, 2, 3, 4, 5]}),
    *[("deploy_parallel", {"fail": False, "wait": 3}) for _ in range(3)],
    # the failing branch stops the waiting one: on AWS a state transition takes milliseconds, on
    # Airflow each state is a task that takes seconds to start, so the Wait it stops is one no task
    # hop can outrun (a 3 s Wait would end before the Choice and the Fail state's tasks ran)
    ("deploy_parallel", {"fail": True, "wait": 60}),
    ("deploy_retry_catch", {"key": "no/such/key.csv"}),
    ("deploy_retry_catch", {"key": "raw/orders/orders-2025-06-01.csv"}),
    ("deploy_retry_fail", {"key": "no/such/key.csv"}),
]

#: the platform DAGs as a deployment runs them: every DAG of dags/ is triggered (its execution input
#: {}), except the layers an Asset event of the layer before starts (one run each)
PLATFORM_CHAINED = ["batch_layer", "analytics"]
