"""``[asl_airflow] mock_config`` on a deployment: which DAGs' Tasks it mocks.

A dev deployment holds many DAGs and its mock file names a few: the others must keep running against
their services (Step Functions Local too mocks only what a test case names), while a named machine
whose test case is missing fails with the file's own names in the message."""

from __future__ import annotations

import json

import pytest
from asl_airflow.airflow import mocking
from asl_airflow.asl.errors import AslValidationError

MOCKS = {"StateMachines": {"orders": {"TestCases": {"happy": {"Charge": "Ok"}}}},
         "MockedResponses": {"Ok": {"0": {"Return": {"charged": True}}}}}


@pytest.fixture
def configured(monkeypatch):
    def configure(**options: str) -> None:
        for key in ("MOCK_CONFIG", "MOCK_CONFIG_JSON", "MOCK_TEST_CASE", "MOCK_STATE_MACHINE"):
            monkeypatch.delenv(f"AIRFLOW__ASL_AIRFLOW__{key}", raising=False)
        for key, value in options.items():
            monkeypatch.setenv(f"AIRFLOW__ASL_AIRFLOW__{key.upper()}", value)
        mocking._config.cache_clear()

    yield configure
    mocking._config.cache_clear()


def test_a_named_machine_is_mocked_and_others_run_unmocked(configured):
    configured(mock_config_json=json.dumps(MOCKS), mock_test_case="happy")
    case = mocking.mock_case("orders")
    assert case is not None and case.mocks("Charge") and not case.mocks("Ship")
    assert mocking.mock_case("inventory") is None
    real = object()
    assert mocking.mocked("inventory", "Charge", real) is real
    assert isinstance(mocking.mocked("orders", "Charge", real), mocking.MockedEntry)


def test_mock_state_machine_maps_every_dag_to_one_machine(configured):
    configured(mock_config_json=json.dumps(MOCKS), mock_test_case="happy", mock_state_machine="orders")
    assert mocking.mock_case("anything").mocks("Charge")


def test_a_missing_test_case_names_what_the_file_has(configured):
    configured(mock_config_json=json.dumps(MOCKS), mock_test_case="sad")
    with pytest.raises(AslValidationError, match=r"no test case 'sad' \(it has: happy\)"):
        mocking.mock_case("orders")


def test_no_test_case_means_no_mocks(configured):
    configured(mock_config_json=json.dumps(MOCKS))
    assert mocking.mock_case("orders") is None
