"""What a Task's Resource means: one small table entry per service action.

``resolve(resource)`` finds the entry; ``run_call`` executes it synchronously (the local engine);
the Airflow operators call ``entry.start`` / ``entry.resume`` themselves so they can defer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asl_airflow.asl import errors as asl_errors
from asl_airflow.asl.errors import AslError
from asl_airflow.integrations.resources import WAIT_FOR_TASK_TOKEN, parse_resource

if TYPE_CHECKING:  # the entry classes load with the table, not with the package (see catalog.py)
    from asl_airflow.integrations.base import Integration, ServiceCall

#: modules of this package that are not integration entries
_PLUMBING = frozenset({"base", "catalog", "errors", "invoker", "resources"})


def _collect() -> dict[tuple[str, str], Integration]:
    """Every module of this package that defines ``ENTRIES`` contributes its entries: adding a
    service is adding one module, with no shared list to edit. The modules import only this
    package at import time (the provider is imported inside the calls), so this stays cheap."""
    import importlib
    import pkgutil

    table: dict[tuple[str, str], Integration] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name in _PLUMBING or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for entry in getattr(module, "ENTRIES", ()):
            key = (entry.service, entry.action)
            if key in table:
                raise RuntimeError(f"two integration entries for {entry.service}:{entry.action}")
            table[key] = entry
    return table


_TABLE: dict[tuple[str, str], Integration] | None = None


def table() -> dict[tuple[str, str], Integration]:
    """``(service, action) -> entry``; ``("aws-sdk", "*")`` is the generic AWS SDK entry. Collected on
    first use, so importing this package (``integrations.catalog`` at DAG parse) stays cheap."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _collect()
    return _TABLE


def __getattr__(name: str) -> Any:
    if name == "TABLE":
        return table()
    if name in ("Integration", "ServiceCall"):
        from asl_airflow.integrations import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve(resource: str) -> tuple[Integration, str, str, str]:
    """The entry for a Resource ARN and its ``(service, action, pattern)``; AslError if unsupported."""
    from asl_airflow.integrations.catalog import problem

    reason = problem(resource)  # the same answer the DAG parse got (the catalog is kept equal to the table)
    if reason:
        raise AslError(asl_errors.RUNTIME, reason)
    service, action, pattern = parse_resource(resource)
    entries = table()
    # an exact entry, else the service's own catch-all (every activity), else the generic AWS SDK one
    entry = entries.get((service, action)) or entries.get((service, "*")) or entries[("aws-sdk", "*")]
    if pattern == WAIT_FOR_TASK_TOKEN:
        from asl_airflow.integrations.callbacks import wait_for_task_token

        entry = wait_for_task_token(entry)  # any entry: its request-response call, then the callback wait
    return entry, service, action, pattern


def supported(resource: str) -> bool:
    try:
        resolve(resource)
    except AslError:
        return False
    return True


def make_call(resource: str, parameters: Any, **kwargs: Any) -> tuple[Integration, ServiceCall]:
    from asl_airflow.integrations.base import ServiceCall

    entry, service, action, pattern = resolve(resource)
    return entry, ServiceCall(resource, service, action, pattern, parameters, **kwargs)


__all__ = ["TABLE", "Integration", "ServiceCall", "make_call", "resolve", "supported"]
