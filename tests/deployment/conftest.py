"""Session fixtures of the deployment tests: a migrated PostgreSQL template DB, dropped at the end."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deployment_harness import (  # noqa: E402 - the folder is not a package
    Deployment,
    create_database,
    drop_database,
    postgres_missing,
)

#: the whole deployments (scheduler, dag-processor, triggerer, api-server, workers on PostgreSQL):
#: minutes each on 2 cores, so `make deployment` runs them (ASL_DEPLOYMENT=1) and `make test` does not
_WHOLE_DEPLOYMENTS = ("test_deployments.py", "test_streaming_watchers.py")


def pytest_collection_modifyitems(items):
    run_whole = os.environ.get("ASL_DEPLOYMENT") == "1"
    for item in items:
        if "tests/deployment" in str(item.fspath):
            item.add_marker(pytest.mark.deployment)
            if not run_whole and Path(str(item.fspath)).name in _WHOLE_DEPLOYMENTS:
                item.add_marker(pytest.mark.skip(reason="a whole deployment (several minutes): `make deployment` "
                                                        "(ASL_DEPLOYMENT=1) runs it"))


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory):
    """A database with Airflow's schema, copied (``CREATE DATABASE ... TEMPLATE``) for each deployment."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    # a SIGTERM (CI's timeout) unwinds like Ctrl-C, so every deployment's processes and DB are ended
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    name = f"asl_deploy_{os.getpid()}_template"
    create_database(name)
    created: list[str] = []
    try:
        workdir = tmp_path_factory.mktemp("pg-template")
        migrator = Deployment("LocalExecutor", workdir, name, workdir)
        migrator.home.mkdir(parents=True, exist_ok=True)
        migrator.airflow("db", "migrate")

        def make(label: str) -> str:
            db = f"asl_deploy_{os.getpid()}_{label}"
            create_database(db, template=name)
            created.append(db)
            return db

        yield make
    finally:
        for db in created:
            drop_database(db)
        drop_database(name)
        signal.signal(signal.SIGTERM, previous)
