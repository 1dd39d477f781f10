"""``asl_airflow.run``: one execution of a state machine on either engine, the same result shape.

``engine="local"`` is the in-process reference interpreter (Airflow and boto3 are imported only
when a Task calls AWS). ``engine="airflow"`` compiles the machine to a DAG in a throw-away
AIRFLOW_HOME and runs it with ``dag.test()`` in a child process (Airflow reads its configuration
at import time, so a fresh home needs a fresh process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from asl_airflow.asl.definition import Definition, load_definition
from asl_airflow.asl.interpreter import Interpreter


def _has_tasks(document: dict[str, Any]) -> bool:
    """Whether any state (nested ones included) calls a service: a Task, or a Map's ItemReader or
    ResultWriter. Only then does the local engine load the AWS invoker (boto3, the provider)."""
    for state in document.get("States", {}).values():
        if state.get("Type") == "Task" or "ItemReader" in state or "ResultWriter" in state:
            return True
        nested = [*state.get("Branches", []), state.get("ItemProcessor"), state.get("Iterator")]
        if any(_has_tasks(machine) for machine in nested if machine):
            return True
    return False


def run(
    definition: str | Path | dict[str, Any] | Definition,
    input: Any = None,  # noqa: A002 - the public name DESIGN.md gives
    engine: str = "local",
    history: bool = False,
    substitutions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run once; returns ``{"status", "output", "error", "cause"}`` (+ ``"history"`` when asked)."""
    loaded = load_definition(definition, substitutions)
    if engine == "local":
        invoker = None
        if _has_tasks(loaded.document):
            from asl_airflow.integrations.invoker import LocalInvoker

            invoker = LocalInvoker()
        result = Interpreter(loaded.document, invoker).execute(input)
        return result.as_dict(with_history=history)
    if engine == "airflow":
        return run_on_airflow(loaded, input, history)
    raise ValueError(f"engine must be 'local' or 'airflow', not {engine!r}")


def _template_db(env: dict[str, str]) -> Path:
    """A migrated SQLite metadata DB, made once per Airflow version and copied for each run."""
    import importlib.metadata

    version = importlib.metadata.version("apache-airflow-core")
    cache = Path(os.environ.get("ASL_AIRFLOW_CACHE", Path.home() / ".cache" / "asl-airflow"))
    db = cache / f"airflow-{version}.db"
    if not db.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"airflow-{version}.{os.getpid()}.db"
        migrate_env = {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp}"}
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=migrate_env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        tmp.replace(db)
    return db


def run_on_airflow(definition: Definition, input_: Any, history: bool) -> dict[str, Any]:
    """Compile to a DAG in a temporary dags folder and run it with ``dag.test()`` in a child process."""
    from asl_airflow.devstack import airflow_env

    with tempfile.TemporaryDirectory(prefix="asl-airflow-") as tmp:
        home = Path(tmp)
        dags = home / "dags"
        dags.mkdir()
        (dags / "machine.asl.json").write_text(json.dumps(definition.document))
        (dags / "machine.py").write_text(
            "from pathlib import Path\nfrom asl_airflow import asl_dag\n\n"
            "dag = asl_dag(Path(__file__).with_name('machine.asl.json'), dag_id='asl_machine')\n"
        )
        env = {**os.environ, **airflow_env(home)}
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        shutil.copy(_template_db(env), home / "airflow.db")
        input_file = home / "input.json"  # a file, not argv: an execution input may be up to 256 KiB
        input_file.write_text(json.dumps(input_ if input_ is not None else {}))
        proc = subprocess.run(
            [sys.executable, "-m", "asl_airflow.cli", "_dags-test", "asl_machine",
             "--input", f"@{input_file}", "--json"],
            env=env, capture_output=True, text=True,
        )
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            raise RuntimeError(f"the Airflow engine failed:\n{proc.stderr[-4000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    out = {k: result.get(k) for k in ("status", "output", "error", "cause")}
    if history:
        out["history"] = result.get("history", [])
    return out
