"""Every ``[asl_airflow]`` option the package reads is declared by the provider (so `airflow config
get-value asl_airflow <name>` and the config reference know it), and the README's table lists it."""

from __future__ import annotations

import re
from pathlib import Path

from asl_airflow.airflow.provider import get_provider_info

PACKAGE = Path(__file__).resolve().parents[3] / "plugins" / "asl_airflow"
README = Path(__file__).resolve().parents[3] / "README.md"
_READ = re.compile(r'conf\.get\w*\(\s*"asl_airflow",\s*"(\w+)"')


def _read_options() -> set[str]:
    return {name for path in PACKAGE.rglob("*.py") for name in _READ.findall(path.read_text(encoding="utf-8"))}


def test_every_option_read_is_declared():
    declared = set(get_provider_info()["config"]["asl_airflow"]["options"])
    read = _read_options()
    assert read, "no option read found: the pattern is stale"
    assert read <= declared, sorted(read - declared)


def test_the_readme_lists_every_declared_option():
    text = README.read_text(encoding="utf-8")
    missing = [name for name in get_provider_info()["config"]["asl_airflow"]["options"] if f"`{name}`" not in text]
    assert not missing, missing
