"""The ``postgres`` and ``celery`` extras install what a deployment needs, in versions that work (issue 9 item 7).

``apache-airflow-providers-celery`` 3.26 resolves celery 5.7 when nothing holds it back, and celery
5.7 has no ``celery.backends.database.retry``, which the provider's result backend imports. The
deployment tests run on these extras; this checks what they declare and that the imports work.
"""

from __future__ import annotations

import importlib.metadata

from packaging.requirements import Requirement


def _extra(name: str) -> dict[str, Requirement]:
    out = {}
    for text in importlib.metadata.requires("asl-airflow") or []:
        req = Requirement(text)
        if req.marker and req.marker.evaluate({"extra": name}) and not req.marker.evaluate({"extra": ""}):
            out[req.name] = req
    return out


def test_the_postgres_extra_has_both_drivers():
    assert set(_extra("postgres")) == {"psycopg2-binary", "asyncpg"}
    import asyncpg  # noqa: F401 - the API server's async engine
    import psycopg2  # noqa: F401 - everything else


def test_the_celery_extra_keeps_celery_below_5_7():
    extra = _extra("celery")
    assert "apache-airflow-providers-celery" in extra
    assert not extra["celery"].specifier.contains("5.7.0") and extra["celery"].specifier.contains("5.6.3")
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor  # noqa: F401
    from celery.backends.database import retry  # noqa: F401 - what celery 5.7 removed


def test_the_provider_accepts_other_airflow_3_3_patches_and_python_3_12():
    requires = {Requirement(r).name: Requirement(r) for r in importlib.metadata.requires("asl-airflow") or []
                if "extra ==" not in r}
    airflow = requires["apache-airflow"].specifier
    assert airflow.contains("3.3.2") and airflow.contains("3.3.5") and not airflow.contains("3.4.0")
    python = importlib.metadata.metadata("asl-airflow")["Requires-Python"]
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(python).contains("3.12.4") and SpecifierSet(python).contains("3.11.7")
