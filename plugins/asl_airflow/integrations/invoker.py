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
        from asl_airflow.integrations import _map_io

        role = _map_io.call_for(resource, state)  # a Distributed Map's ItemReader/ResultWriter, not a Task
        if role == "reader":
            return _map_io.read(resource, parameters, state["ItemReader"], self.aws_conn_id, self.region_name)
        if role == "writer":
            return _map_io.write(parameters, state, env.execution, env.state_name, env.entered_time,
                                 self.aws_conn_id, self.region_name)
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
        submits = call.pattern in (".sync", ".sync:2") or resource.endswith((".sync", ".sync:2"))
        try:
            result = entry.start(call, {})
        except Exception as exc:
            error = to_asl_error(exc, entry, call)
            if submits and error.error == "States.TaskFailed":  # the job was submitted, then failed
                env.submitted = {}
            raise error from exc
        if submits:  # a .sync job was submitted and waited for: AWS records TaskSubmitted in between
            env.submitted = {}
        return result
