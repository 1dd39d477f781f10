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
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from asl_airflow.asl.definition import Definition, load_definition
from asl_airflow.asl.interpreter import Interpreter, check_execution_input


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
    *,
    mock_config: str | Path | dict[str, Any] | None = None,
    test_case: str | None = None,
    state_machine: str | None = None,
    time_scale: float | None = None,
    redrive: str | Path | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run once; returns ``{"status", "output", "error", "cause"}`` (+ ``"history"`` when asked).

    ``mock_config`` / ``test_case`` (Step Functions Local's MockConfigFile; the file also comes from
    ``SFN_MOCK_CONFIG``) answer the test case's Task states with mocked responses, on either engine;
    ``state_machine`` names the machine in that file (default: the definition file's name without
    ``.asl.json``). ``time_scale`` (``--time-scale``) shortens Wait states, retry delays and
    heartbeats by that factor (0: no waiting) while the history keeps the timestamps AWS would have
    written (:mod:`asl_airflow.asl.clock`), so results do not depend on it.
    ``redrive`` (a previous FAILED/TIMED_OUT/ABORTED result of this machine, with its history, or the
    JSON file holding it) continues that execution as ``RedriveExecution`` does
    (:mod:`asl_airflow.asl.redrive`; local engine: on Airflow, clearing the run's failed tasks is
    the redrive).

    ``status`` is Step Functions' ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` (the machine's
    ``TimeoutSeconds``; error ``States.Timeout``) or ``ABORTED``. Before anything runs, on either
    engine, the definition is validated (``AslValidationError``) and the input checked as
    StartExecution checks it: :class:`~asl_airflow.asl.errors.InvalidExecutionInput` for input that
    is not JSON (NaN, Infinity, nested more than 500 levels) or is over 262,144 bytes.
    """
    if time_scale is not None and not time_scale >= 0:  # NaN included
        raise ValueError(f"the time scale must be a number >= 0, not {time_scale!r}")
    check_execution_input({} if input is None else input)
    loaded = load_definition(definition, substitutions)
    mocks = mock_case(definition, mock_config, test_case, state_machine)
    if engine == "local":
        invoker: Any = None
        if _has_tasks(loaded.document):
            invoker = _LazyAwsInvoker()
        if mocks is not None:
            from asl_airflow.asl.mocking import MockedInvoker

            invoker = MockedInvoker(mocks, invoker)
        replay = _replay(redrive) if redrive is not None else None
        if time_scale is None:
            result = Interpreter(loaded.document, invoker).execute(input, redrive=replay)
        else:
            from asl_airflow.asl import clock

            simulated = clock.SimulatedClock(time_scale)
            with clock.use(simulated):
                result = Interpreter(loaded.document, invoker, simulated.sleep,
                                     clock=simulated.now).execute(input, redrive=replay)
        return result.as_dict(with_history=history)
    if engine == "airflow":
        if redrive is not None:
            raise ValueError("redrive runs on the local engine; on Airflow, clear the run's failed tasks "
                             "(Airflow UI or `airflow tasks clear --only-failed`): that is the redrive")
        return run_on_airflow(loaded, input, history,
                              mocks=_mock_env(mock_config, mocks) if mocks is not None else None,
                              time_scale=time_scale)
    raise ValueError(f"engine must be 'local' or 'airflow', not {engine!r}")


def _replay(previous: str | Path | dict[str, Any]) -> Any:
    """The :class:`~asl_airflow.asl.redrive.Replay` of a previous result (a dict or its JSON file)."""
    from asl_airflow.asl.errors import AslValidationError
    from asl_airflow.asl.redrive import Replay

    if not isinstance(previous, dict):
        try:
            previous = json.loads(Path(previous).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AslValidationError([f"{previous}: cannot read the previous execution to redrive: {exc}"]) from None
    if not isinstance(previous, dict):
        raise AslValidationError(["the previous execution to redrive must be the JSON object `run --history` printed"])
    return Replay(previous)


class _LazyAwsInvoker:
    """The AWS invoker, imported at the first unmocked service call (a fully mocked run needs no
    boto3, no provider and no endpoint)."""

    def __init__(self) -> None:
        self._invoker: Any = None

    def __call__(self, *args: Any) -> Any:
        if self._invoker is None:
            from asl_airflow.integrations.invoker import LocalInvoker

            self._invoker = LocalInvoker()
        return self._invoker(*args)


def mock_case(definition: Any, mock_config: Any, test_case: str | None, state_machine: str | None) -> Any:
    """The :class:`~asl_airflow.asl.mocking.MockCase` asked for, or None; the file may come from
    ``SFN_MOCK_CONFIG`` as for Step Functions Local."""
    from asl_airflow.asl.errors import AslValidationError

    mock_config = mock_config or os.environ.get("SFN_MOCK_CONFIG") or None
    if mock_config is None and test_case is None:
        return None
    if mock_config is None or test_case is None:
        raise AslValidationError(["a mocked run needs both a mock configuration (--mock-config or SFN_MOCK_CONFIG) "
                                  "and a test case (--test-case)"])
    from asl_airflow.asl.mocking import MockConfig, state_machine_name

    if state_machine is None:
        if not isinstance(definition, str | Path):
            raise AslValidationError(["name the state machine of the mock configuration (state_machine=...) "
                                      "when the definition is not a file"])
        state_machine = state_machine_name(definition)
    return MockConfig.load(mock_config).case(state_machine, test_case)


def _mock_env(mock_config: Any, mocks: Any) -> dict[str, str]:
    """What the Airflow engine's child process needs to mock the same states."""
    config = mock_config or os.environ["SFN_MOCK_CONFIG"]
    text = json.dumps(config) if isinstance(config, dict) else Path(config).read_text(encoding="utf-8")
    return {"AIRFLOW__ASL_AIRFLOW__MOCK_CONFIG_JSON": text,
            "AIRFLOW__ASL_AIRFLOW__MOCK_STATE_MACHINE": mocks.state_machine,
            "AIRFLOW__ASL_AIRFLOW__MOCK_TEST_CASE": mocks.test_case}


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


def _stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """End the child's whole process group (``dags test`` starts task and trigger processes)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    try:  # what the leader started may outlive it
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _run_child(cmd: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``cmd`` in a process group of its own and return ``(returncode, stdout, stderr)``.

    When this process is told to stop (SIGTERM, SIGINT, SIGHUP) while the child runs, the child's
    group is stopped first, then the signal takes its usual effect here: a killed
    ``asl-airflow run --engine airflow`` leaves no ``dags test`` behind. Whatever way this function
    is left (an exception included), the group is gone.
    """
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    previous: dict[int, Any] = {}

    def forward(signum: int, frame: Any) -> None:
        _stop_group(proc)
        handler = previous.get(signum, signal.SIG_DFL)
        for sig, old in previous.items():
            signal.signal(sig, old)
        previous.clear()
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            os.kill(os.getpid(), signum)

    if threading.current_thread() is threading.main_thread():
        for sig in _FORWARDED:
            previous[sig] = signal.signal(sig, forward)
    try:
        stdout, stderr = proc.communicate()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _stop_group(proc)
    return proc.returncode, stdout, stderr


def run_on_airflow(definition: Definition, input_: Any, history: bool,
                   mocks: dict[str, str] | None = None, time_scale: float | None = None) -> dict[str, Any]:
    """Compile to a DAG in a temporary dags folder and run it with ``dag.test()`` in a child process
    (``time_scale``: that process runs on a simulated clock, as the local engine does)."""
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
        env = {**os.environ, **airflow_env(home, logging_level="WARNING"), **(mocks or {})}
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        shutil.copy(_template_db(env), home / "airflow.db")
        input_file = home / "input.json"  # a file, not argv: an execution input may be up to 256 KiB
        input_file.write_text(json.dumps(input_ if input_ is not None else {}))
        returncode, stdout, stderr = _run_child(
            [sys.executable, "-m", "asl_airflow.cli", "_dags-test", "asl_machine",
             "--input", f"@{input_file}", "--json",
             *(["--time-scale", repr(float(time_scale))] if time_scale is not None else [])],
            env,
        )
        if returncode not in (0, 1) or not stdout.strip():
            raise RuntimeError(f"the Airflow engine failed:\n{stderr[-4000:]}")
        result = json.loads(stdout.strip().splitlines()[-1])
    out = {k: result.get(k) for k in ("status", "output", "error", "cause")}
    if history:
        out["history"] = result.get("history", [])
    return out


def test_state(definition: dict[str, Any] | str, **kwargs: Any) -> dict[str, Any]:
    """``asl_airflow.test_state``: one state as AWS's TestState runs it (:mod:`asl_airflow.asl.test_state`);
    an unmocked Task calls AWS through the same invoker as ``run(engine="local")``."""
    from asl_airflow.asl import test_state as ts

    document = ts._json_field(definition, "definition")
    if "invoker" not in kwargs and isinstance(document, dict):
        candidate = {"States": {"S": document}} if "Type" in document else document
        if _has_tasks(candidate) and not kwargs.get("mock"):
            from asl_airflow.integrations.invoker import LocalInvoker

            kwargs["invoker"] = LocalInvoker()
    return ts.test_state(document, **kwargs)

