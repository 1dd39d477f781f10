"""The GX data-quality operator: real GX Core validations, S3 through moto in-process, the failure report."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from asl_airflow.airflow.quality import (
    GxCheckOperator,
    failed_expectations,
    format_report,
    load_suite,
    read_frame,
    validate_frame,
)

GX = Path(__file__).resolve().parents[3] / "include" / "gx"
HEADER = "order_id,customer_id,order_date,amount,currency,status\n"
GOOD = HEADER + "1,10,2025-01-01,10.5,EUR,placed\n2,11,2025-01-02,99.0,USD,shipped\n"
BAD = HEADER + "1,10,2025-01-01,10.5,EUR,placed\n2,,2025-01-02,-3,XXX,shipped\n"


def frame(text: str) -> Any:
    return read_frame([("part-0.csv", text.encode())])


@pytest.fixture(scope="module")
def raw_suite() -> dict[str, Any]:
    return load_suite(GX / "raw_orders.json")


def test_good_data_passes_every_expectation(raw_suite):
    validation = validate_frame(frame(GOOD), raw_suite)
    assert validation["success"] is True
    assert failed_expectations(validation) == []
    report = format_report("raw_orders", "s3://lake/raw/orders/", 2, validation)
    assert report.startswith("Data quality passed") and "9 expectations met" in report


def test_report_names_each_failed_expectation_its_column_and_what_was_observed(raw_suite):
    validation = validate_frame(frame(BAD), raw_suite)
    assert validation["success"] is False
    failed = {(f["type"], f["column"]) for f in failed_expectations(validation)}
    assert failed == {
        ("expect_column_values_to_not_be_null", "customer_id"),
        ("expect_column_values_to_be_between", "amount"),
        ("expect_column_values_to_be_in_set", "currency"),
    }
    report = format_report("raw_orders", "s3://lake/raw/orders/", 2, validation)
    lines = report.splitlines()
    assert lines[0] == ("Data quality FAILED: suite 'raw_orders' on s3://lake/raw/orders/ (2 rows): "
                        "3 of 9 expectations failed")
    between = next(line for line in lines if "expect_column_values_to_be_between" in line)
    assert "column 'amount'" in between and "min_value=0" in between and "e.g. [-3.0]" in between
    in_set = next(line for line in lines if "expect_column_values_to_be_in_set" in line)
    assert '"XXX"' in in_set and "1 of 2 values unexpected (50.0%)" in in_set


def test_aggregate_expectations_report_the_observed_value(raw_suite):
    empty = read_frame([("part-0.csv", HEADER.encode())])
    validation = validate_frame(empty, raw_suite)
    row_count = next(f for f in failed_expectations(validation)
                     if f["type"] == "expect_table_row_count_to_be_between")
    assert row_count["column"] is None and row_count["observed"] == "observed 0"


def test_frames_from_csv_gzip_and_parquet_are_concatenated():
    parquet = io.BytesIO()
    frame(GOOD).to_parquet(parquet)
    combined = read_frame([
        ("a.csv", GOOD.encode()),
        ("b.csv.gz", gzip.compress(GOOD.encode())),
        ("c.parquet", parquet.getvalue()),
    ])
    assert len(combined) == 6 and list(combined.columns) == HEADER.strip().split(",")


def test_unreadable_suite_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json: cannot read the expectation suite"):
        load_suite(path)
    path.write_text(json.dumps({"name": "x"}))
    with pytest.raises(ValueError, match="needs a list of 'expectations'"):
        load_suite(path)


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def s3(monkeypatch):
    """moto in-process S3 behind the Amazon provider's S3Hook (connection from the environment)."""
    from moto import mock_aws

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(
        {"conn_type": "aws", "login": "testing", "password": "testing", "extra": {"region_name": "us-east-1"}}))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="lake")
        yield client


def _operator() -> GxCheckOperator:
    return GxCheckOperator(task_id="check", suite_path=GX / "raw_orders.json", bucket="lake", prefix="raw/orders/")


def test_operator_passes_good_data_from_s3_and_pushes_its_summary(s3):
    s3.put_object(Bucket="lake", Key="raw/orders/part-0.csv", Body=GOOD.encode())
    s3.put_object(Bucket="lake", Key="raw/orders/_SUCCESS", Body=b"")
    ti = _TI()
    summary = _operator().execute({"ti": ti})
    assert summary["success"] is True and summary["rows"] == 2
    assert summary["objects"] == ["raw/orders/part-0.csv"]
    assert ti.pushed["gx_report"] == summary


def test_operator_fails_bad_data_with_the_report(s3):
    from airflow.sdk.exceptions import AirflowFailException

    s3.put_object(Bucket="lake", Key="raw/orders/part-0.csv", Body=BAD.encode())
    ti = _TI()
    with pytest.raises(AirflowFailException) as err:
        _operator().execute({"ti": ti})
    message = str(err.value)
    assert "suite 'raw_orders' on s3://lake/raw/orders/" in message
    assert "expect_column_values_to_be_between column 'amount'" in message
    assert ti.pushed["gx_report"]["success"] is False
    assert len(ti.pushed["gx_report"]["failed"]) == 3


def test_operator_fails_when_the_layer_wrote_nothing(s3):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="no data files under s3://lake/raw/orders/"):
        _operator().execute({"ti": _TI()})
