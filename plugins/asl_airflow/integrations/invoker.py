"""The local engine's invoker: run a Task's integration synchronously, errors as ASL names."""

from __future__ import annotations

import re
from typing import Any

from asl_airflow.asl.states import StateEnv
from asl_airflow.integrations import make_call
from asl_airflow.integrations.errors import to_asl_error


class LocalInvoker:
    """Calls AWS (or the endpoint the connection points at) without deferring: the reference path."""

    def __init__(self, aws_conn_id: str = "aws_default", region_name: str | None = None) -> None:
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def __call__(self, resource: str, parameters: Any, state: dict[str, Any], env: StateEnv) -> Any:
        entry, call = make_call(
            resource,
            parameters,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            deferrable=False,
            task_id=re.sub(r"[^A-Za-z0-9_.-]", "_", f"local_{env.state_name}")[:200],
            state_name=env.state_name,
            extra={"execution_arns": [env.execution.state_machine_arn, env.execution.execution_arn]},
        )
        try:
            return entry.start(call, {})
        except Exception as exc:
            raise to_asl_error(exc, entry, call) from exc
