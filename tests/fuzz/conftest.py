"""The fuzz marker (registered here so the fuzz tests need nothing from pyproject.toml)."""

from __future__ import annotations


def pytest_configure(config):  # noqa: ANN001 - pytest's hook signature
    config.addinivalue_line("markers", "fuzz: a bounded, seeded run of the mutation fuzzer (tests/fuzz/fuzzer.py)")
