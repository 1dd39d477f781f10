"""Many corpus executions through compiled DAGs in ONE Airflow process (the equivalence suite's engine).

``asl_airflow.run(..., engine="airflow")`` pays a fresh interpreter, Airflow's import and a DB copy
for every execution (~3 s). The suite runs hundreds, so :class:`AirflowEngine` starts one worker
process (this file run as a script) with a throw-away AIRFLOW_HOME: a migrated SQLite DB copied
once, a dags folder holding one DAG file that builds one DAG per case definition written next to
it. The test process sends one case per request over a pipe; the worker compiles it (the DAG file,
parsed by Airflow's DagBag), runs it with ``dag.test()`` and answers with the execution view of
``asl_airflow.airflow.results.execution_result``, plus where the time went.

Why a child process and not the pytest process: Airflow reads its configuration once at import,
and the rest of the test session (DAG integrity tests) points it at the project's dags folder.

The worker never really waits: it patches, in its own process only, ``asl.states.wait_target``
(a Wait still validates and computes its target, then waits ``WAIT_SECONDS`` through the real
deferral), ``AslRetryPolicy.evaluate`` (a retry keeps the ASL decision, with no delay) and the
reference interpreter's ``sleep`` (regions run inside one task: their retry delays). None of them
changes what an execution returns, only how long it takes.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

#: how long a patched Wait waits: long enough to go through the deferral and the inline trigger
WAIT_SECONDS = 0.05
#: the environment variable telling the DAG file which case DAG to build (dag.test() re-parses the
#: dags folder on every call; building only the DAG under test keeps that one compile, not hundreds)
ONLY_ENV = "ASL_EQUIVALENCE_DAG"
#: run once when the worker starts
WARM_UP = {"StartAt": "Warm", "States": {"Warm": {"Type": "Pass", "End": True}}}

DAG_FILE = '''"""Equivalence suite: one DAG per case definition in cases/ (see tests/conformance/airflow_engine.py)."""

import json
import os
from pathlib import Path

from asl_airflow import asl_dag

CASES = Path(__file__).with_name("cases")
ONLY = os.environ.get("{only}")

for path in sorted(CASES.glob("*.json")):
    if ONLY and path.stem != ONLY:
        continue
    globals()[path.stem] = asl_dag(json.loads(path.read_text()), dag_id=path.stem)
'''.replace("{only}", ONLY_ENV)


class EngineError(Exception):
    """The worker could not produce an execution for a case (compile error, crash, timeout)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


# --- the test side ---------------------------------------------------------------------------------


class AirflowEngine:
    """A worker process running cases one at a time; restarted after a crash or a timeout."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.home = Path(tempfile.mkdtemp(prefix="asl-equivalence-"))
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.started_seconds: list[float] = []  # warm-up of each worker started
        self.seq = 0

    # lifecycle

    def _env(self) -> dict[str, str]:
        from asl_airflow.devstack import airflow_env

        env = {**os.environ, **airflow_env(self.home)}
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(self.home / "dags")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parents[2] / "plugins"), env.get("PYTHONPATH", "")])
        env.pop(ONLY_ENV, None)
        return env

    def start(self) -> None:
        from asl_airflow.runner import _template_db

        started = time.perf_counter()
        env = self._env()
        dags = self.home / "dags"
        (dags / "cases").mkdir(parents=True, exist_ok=True)
        (dags / "equivalence_dags.py").write_text(DAG_FILE)
        shutil.copy(_template_db(env), self.home / "airflow.db")
        self.log = (self.home / "worker.log").open("a")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, bufsize=1,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        ready = self._answer(self.timeout)
        if ready.get("ready") is not True:
            raise EngineError("worker", f"did not start: {ready}")
        self.started_seconds.append(time.perf_counter() - started)

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise EngineError("timeout", f"no answer within {timeout:g}s; worker restarted") from None
        if line is None:
            code = self.proc.wait() if self.proc else None
            self.proc = None
            raise EngineError("worker", f"the worker exited ({code}); log tail:\n{self.log_tail()}")
        return json.loads(line)

    def log_tail(self, chars: int = 3000) -> str:
        path = self.home / "worker.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        """End the worker this engine started (by its own handle) and remove its home."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        self.stop()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)

    # one case

    def run(self, definition: dict[str, Any], input_: Any) -> dict[str, Any]:
        """The execution view of one run (``status``, ``output``, ``error``, ``cause``, ``history``,
        ``states``) plus ``timings``; raises :class:`EngineError` when there is no run to compare."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        self.seq += 1
        request = {"dag_id": f"case_{self.seq:04d}", "definition": definition, "input": input_}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self._answer(self.timeout)
        if "result" not in answer:
            raise EngineError(answer.get("kind", "worker"), answer.get("message", str(answer)))
        result = answer["result"]
        result["timings"] = answer.get("timings", {})
        return result


_POINTER = re.compile(r"^\S*?:(/\S*?): ")


def exception_text(trace: str) -> str:
    """The exception's own message from a traceback (the compiler lists one problem per line)."""
    lines = trace.rstrip().splitlines()
    last_frame = max((i for i, line in enumerate(lines) if line.startswith((" ", "\t"))), default=-1)
    text = "\n".join(lines[last_frame + 1:]) or trace
    text = re.sub(r"^[\w.]+(Error|Exception): ", "", text)
    return re.sub(r"^invalid state machine definition:\n", "", text)


def reason_group(message: str) -> str:
    """A failure message without the case-specific parts (file, pointer, state names), to group by."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = lines[0] if lines else message
    if first.startswith("Traceback"):
        first = lines[-1]  # the exception itself
    first = _POINTER.sub("", first)
    first = re.sub(r"the states .*? form a loop", "the states ... form a loop", first)
    return first[:160]


def difference_group(expected: dict[str, Any], result: dict[str, Any], problem: str,
                     redactions: set[str] | None = None) -> str:
    """What kind of difference ``asl_corpus.compare`` found, without the case's values."""
    kind = problem.split(":", 1)[0]
    if kind == "events":
        want = Counter(expected.get("event_types", []))
        got = Counter(e["type"] for e in result.get("history", []))
        missing, extra = sorted((want - got).elements()), sorted((got - want).elements())
        parts = ([f"missing {', '.join(dict.fromkeys(missing))}"] if missing else []) + (
            [f"extra {', '.join(dict.fromkeys(extra))}"] if extra else [])
        return f"events: {'; '.join(parts) or 'same events in another order'}"
    if kind == "output":
        return f"output: {_first_difference(expected.get('output'), result.get('output'), redactions or set())}"
    if kind == "status":
        return re.sub(r" \(.*", "", problem)[:160]
    return problem[:160]


def _first_difference(expected: Any, actual: Any, redactions: set[str], path: str = "$") -> str:
    import asl_corpus

    if isinstance(expected, str) and not isinstance(actual, str):
        try:
            expected = json.loads(expected)
        except ValueError:
            return f"{path}: a string expected, got {type(actual).__name__}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            extra, missing = sorted(actual.keys() - expected.keys()), sorted(expected.keys() - actual.keys())
            return "; ".join(filter(None, [f"{path}: extra key {extra}" if extra else "",
                                           f"{path}: missing key {missing}" if missing else ""]))
        for key, value in expected.items():
            if not asl_corpus.values_match(value, actual[key], redactions):
                return _first_difference(value, actual[key], redactions, f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e_item, a_item) in enumerate(zip(expected, actual, strict=True)):
            if not asl_corpus.values_match(e_item, a_item, redactions):
                return _first_difference(e_item, a_item, redactions, f"{path}[{i}]")
    return f"{path}: {type(expected).__name__} value differs ({json.dumps(expected)[:60]} vs {json.dumps(actual)[:60]})"


#: the session's figures (filled by test_equivalence_airflow.py, printed by conftest.py's terminal summary)
STATS: dict[str, Any] = {
    "mode": "", "selected": 0, "available": 0, "agreeing": 0, "abort_checked": 0, "redacted": 0,
    "failures": Counter(), "seconds": [], "warmup": [], "slowest": [],
}


def summary_lines() -> list[str]:
    """What ``make conformance`` prints about the Airflow engine (conftest.py's terminal summary)."""
    failing = sum(STATS["failures"].values())
    ran = STATS["agreeing"] + STATS["abort_checked"] + STATS["redacted"] + failing
    if not ran:
        return []
    scope = "all of them" if STATS["mode"] == "all" else f"CI subset ({STATS['mode']}): {STATS['selected']}"
    lines = [
        f"airflow engine: {ran} of the {STATS['available']} executions the local engine agrees on ran ({scope}); "
        f"agreeing with AWS: {STATS['agreeing']}; recordings that ended while waiting, checked up to the Wait "
        f"and against the local engine's full run: {STATS['abort_checked']}; failing: {failing}",
        f"airflow engine, not applicable: {STATS['redacted']} (the corpus redacted a timestamp literal of the "
        "definition; the definition AWS ran cannot be rebuilt, and compiling rightly rejects 'date')",
    ]
    seconds = STATS["seconds"]
    if seconds:
        lines.append(
            f"airflow engine timing: worker warm-up {', '.join(f'{s:.1f}s' for s in STATS['warmup'])}; per case "
            f"median {statistics.median(seconds):.2f}s, max {max(seconds):.2f}s, sum {sum(seconds):.0f}s; slowest: "
            + ", ".join(f"{case_id.split('::')[-1]} {s:.1f}s" for s, case_id in STATS["slowest"])
        )
    for group, count in STATS["failures"].most_common():
        lines.append(f"  {count:4d} x {group}")
    return lines


# --- the worker side -------------------------------------------------------------------------------


def _patch_waits_and_retries() -> None:
    """No real waiting in this process: see the module docstring."""
    import dataclasses
    from datetime import timedelta

    from airflow.sdk.definitions.retry_policy import RetryAction
    from asl_airflow.airflow.retry_policy import AslRetryPolicy
    from asl_airflow.asl import states

    wait_target = states.wait_target

    def short_wait(*args: Any, **kwargs: Any) -> tuple[str, Any]:
        wait_target(*args, **kwargs)  # the Wait's own checks and errors stay
        return "seconds", WAIT_SECONDS

    states.wait_target = short_wait

    evaluate = AslRetryPolicy.evaluate

    def no_delay(self: AslRetryPolicy, *args: Any, **kwargs: Any) -> Any:
        decision = evaluate(self, *args, **kwargs)
        if decision.action is RetryAction.RETRY:
            return dataclasses.replace(decision, retry_delay=timedelta(0))
        return decision

    AslRetryPolicy.evaluate = no_delay  # type: ignore[method-assign]

    # a loop region or a Map/Parallel with Retry runs through the reference interpreter inside one
    # task; its retry delays (and nested waits) go through the interpreter's ``sleep``
    from asl_airflow.asl import interpreter

    init = interpreter.Interpreter.__init__

    def init_without_sleep(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.sleep = _no_sleep

    interpreter.Interpreter.__init__ = init_without_sleep  # type: ignore[method-assign]


def _no_sleep(seconds: float) -> None:
    return None


def _run_one(request: dict[str, Any], dags: Path) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag
    from asl_airflow.airflow.results import execution_result

    dag_id = request["dag_id"]
    timings: dict[str, float] = {}
    (dags / "cases" / f"{dag_id}.json").write_text(json.dumps(request["definition"]))
    os.environ[ONLY_ENV] = dag_id
    t = time.perf_counter()
    bag = DagBag(dag_folder=str(dags / "equivalence_dags.py"))
    timings["parse"] = time.perf_counter() - t
    if dag_id not in bag.dags:
        errors = "\n".join(str(e) for e in bag.import_errors.values()) or "the DAG file built no DAG"
        return {"kind": "compile", "message": exception_text(errors), "timings": timings}
    dag = bag.dags[dag_id]
    t = time.perf_counter()
    from asl_airflow.airflow.operators import run_conf

    dag_run = dag.test(run_conf=run_conf(request["input"]))
    timings["dag_test"] = time.perf_counter() - t
    t = time.perf_counter()
    result = execution_result(dag, dag_run, with_history=True)
    timings["result"] = time.perf_counter() - t
    return {"result": result, "timings": timings}


def worker_main() -> None:
    """Answer one JSON line on the original stdout per request line on stdin."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # Airflow's and the tasks' prints go to the log, never into the answers
    sys.stdout = sys.stderr
    started = time.perf_counter()
    import airflow.sdk  # noqa: F401 - warm-up: Airflow's import, configuration, ORM
    from airflow.settings import configure_orm  # noqa: F401

    _patch_waits_and_retries()
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    # the first dag.test() imports the execution API, the task runner, ...: pay that here, once
    warm = _run_one({"dag_id": "warm_up", "definition": WARM_UP, "input": {}}, dags)
    ready = {"ready": True, "seconds": time.perf_counter() - started}
    if warm.get("result", {}).get("status") != "SUCCEEDED":
        ready["warm_up"] = warm
    answers.write(json.dumps(ready, default=str) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        try:
            answer = _run_one(request, dags)
        except BaseException as exc:  # noqa: BLE001 - report it, keep serving the next case
            answer = {"kind": "crash", "message": "".join(traceback.format_exception(exc))[-4000:]}
        answer.setdefault("timings", {})["total"] = time.perf_counter() - started
        answers.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    worker_main()
