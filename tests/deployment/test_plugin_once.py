"""The asl_airflow plugin loads once, with no plugin import error (issue 9 item 4).

It was registered twice: ``uv sync``'s editable build leaves ``plugins/asl_airflow.egg-info``, and
``plugins/`` is on ``sys.path`` (the editable ``.pth``), so ``importlib.metadata`` saw a second
``asl-airflow`` distribution with the same ``airflow.plugins`` entry point; the provider info
declared the plugin as well. Airflow then logged "Plugin 'asl_airflow' already registered,
skipping" and the home page showed "1 Plugin Import Error". The Makefile removes the egg-info
after syncing, and the plugin is declared by its entry point only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from asl_airflow.airflow.provider import get_provider_info

_PROBE = """
import json
from airflow import plugins_manager
plugins, errors = plugins_manager._get_plugins()
print(json.dumps({"plugins": [p.name for p in plugins], "errors": errors}))
"""


def test_the_plugin_is_declared_by_its_entry_point_only():
    assert "plugins" not in get_provider_info()
    options = get_provider_info()["config"]["asl_airflow"]["options"]
    assert options["min_defer_seconds"]["default"] == "5"


def test_the_plugin_loads_once_without_import_errors(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path / "plugins"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db"}
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded["plugins"].count("asl_airflow") == 1 and loaded["errors"] == {}, loaded
    assert "already registered" not in proc.stderr


def test_airflow_config_knows_the_asl_airflow_options(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db"}
    env.pop("AIRFLOW__ASL_AIRFLOW__MIN_DEFER_SECONDS", None)
    proc = subprocess.run([sys.executable, "-m", "airflow", "config", "get-value", "asl_airflow", "min_defer_seconds"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "5"
