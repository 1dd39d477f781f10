"""The local stack for integration tests: one moto server for the session, stopped by its PID."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asl_airflow import devstack


@pytest.fixture(scope="session")
def local_stack():
    stack = devstack.start()
    try:
        yield stack
    finally:
        devstack.stop(stack.pid)


@pytest.fixture
def stack_env(local_stack, monkeypatch):
    """Point this process (and the Airflow runs it starts) at the local stack."""
    for key, value in local_stack.env().items():
        monkeypatch.setenv(key, value)
    yield local_stack


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def environment():
    """``with environment({...}):`` sets variables for a block and then restores the whole process
    environment (what the runs inside it set included): for module-scoped fixtures, where
    ``monkeypatch`` is not available."""
    return _environment


class _TaskStateStore(dict):
    """A task's ``task_state_store`` (get/set), in memory."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value


@dataclass
class JournaledCall:
    """A Task's service call as the Airflow engine makes it: with its ASL attempt's ``CallJournal``."""

    entry: Any  # the Integration
    call: Any  # the ServiceCall
    store: _TaskStateStore

    def start(self) -> Any:
        return self.entry.start(self.call, {})

    def lose_id(self) -> None:
        """Leave what a worker that died right after the submit call leaves: the pending mark, no job id."""
        record = self.store["asl_call"]
        self.store["asl_call"] = {"attempt": record["attempt"], "pending": record["pending"]}


def _journaled_call(resource: str, parameters: Any) -> JournaledCall:
    from asl_airflow.integrations import make_call
    from asl_airflow.integrations.base import CallJournal

    store = _TaskStateStore()
    entry, call = make_call(resource, parameters, deferrable=False,
                            journal=CallJournal(store, 0, str(uuid.uuid4())))
    return JournaledCall(entry, call, store)


@pytest.fixture(scope="session")
def journaled_call():
    """``journaled_call(resource, parameters) -> JournaledCall``: the call of attempt 0, not deferrable,
    for tests of a re-run after a worker crash (``start()``, ``lose_id()``, ``start()`` again must
    reconnect to the one job instead of submitting another)."""
    return _journaled_call


def _machine_home(tmp_path: Path, machine: dict) -> tuple[Path, dict[str, str]]:
    from asl_airflow.devstack import airflow_env
    from asl_airflow.runner import _template_db

    home = tmp_path / "home"
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / "machine.asl.json").write_text(json.dumps(machine))
    (dags / "machine.py").write_text(
        "from pathlib import Path\nfrom asl_airflow import asl_dag\n\n"
        "dag = asl_dag(Path(__file__).with_name('machine.asl.json'), dag_id='asl_machine')\n")
    env = {**os.environ, **airflow_env(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    shutil.copy(_template_db(env), home / "airflow.db")
    return home, env


@pytest.fixture(scope="session")
def machine_home():
    """``machine_home(tmp_path, machine) -> (home, env)``: a throw-away AIRFLOW_HOME under ``tmp_path``
    whose only DAG is ``machine`` (dag id ``asl_machine``), on a copy of the migrated template DB, and
    the environment a child process needs to run it there (``dag.test()`` in the child: a test that
    kills or inspects a run must not share this process's metadata DB)."""
    return _machine_home


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
