"""The local stack for integration tests: one moto server for the session, stopped by its PID."""

from __future__ import annotations

import contextlib
import os

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


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
