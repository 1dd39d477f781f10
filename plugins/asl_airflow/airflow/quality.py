"""Data quality between pipeline layers: a thin Airflow operator on Great Expectations Core 1.x.

Why not the GX Airflow provider: ``airflow-provider-great-expectations`` 1.0.x pins
``structlog<25.5`` while Airflow 3.3.2 requires ``structlog>=26.1``, so the two cannot be installed
together (see README, "Data quality"). This operator does the provider's job for our case with GX
Core's public API: read what a layer wrote to S3 (the Amazon provider's ``S3Hook``), validate it
against an expectation suite kept in ``include/gx/<suite>.json``, and fail the task with a report
naming each failed expectation, so the next layer (scheduled on this task's ``outlets`` Asset)
only ever starts on good data.

GX and pandas are imported inside ``execute``: DAG files that use the operator stay light to parse.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

#: readers per object suffix; other objects under the prefix (``_SUCCESS``, manifests) are ignored
_READABLE = (".csv", ".csv.gz", ".parquet", ".json", ".jsonl")


def load_suite(path: str | Path) -> dict[str, Any]:
    """The suite as GX serialises it (``{"name", "expectations": [{"type", "kwargs"}], "meta"}``)."""
    path = Path(path)
    try:
        suite = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the expectation suite: {exc}") from exc
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise ValueError(f"{path}: an expectation suite needs a list of 'expectations'")
    suite.setdefault("name", path.stem)
    return suite


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_kwargs(kwargs: dict[str, Any]) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in ("batch_id", "column", "result_format", "catch_exceptions")}
    return ", ".join(f"{k}={_short(v, 60)}" for k, v in shown.items())


def _observed(result: dict[str, Any], exception_info: dict[str, Any] | None) -> str:
    """What the data showed, in the terms of the expectation's kind (aggregate or per row)."""
    if exception_info and exception_info.get("raised_exception"):
        return f"error: {exception_info.get('exception_message')}"
    if "observed_value" in result:
        return f"observed {_short(result['observed_value'])}"
    if "unexpected_count" in result:
        count = result.get("unexpected_count")
        total = result.get("element_count")
        percent = result.get("unexpected_percent")
        sample = result.get("partial_unexpected_list") or []
        where = f" of {total}" if total is not None else ""
        share = f" ({percent:.1f}%)" if isinstance(percent, (int, float)) else ""
        return f"{count}{where} values unexpected{share}, e.g. {_short(sample[:5])}"
    return f"observed {_short(result)}" if result else "no observed value"


def failed_expectations(validation: dict[str, Any]) -> list[dict[str, Any]]:
    """Each failed expectation of a GX validation result (``to_json_dict()``): type, column, kwargs, observed."""
    failed = []
    for item in validation.get("results", []):
        if item.get("success"):
            continue
        config = item.get("expectation_config") or {}
        kwargs = dict(config.get("kwargs") or {})
        failed.append({
            "type": config.get("type") or config.get("expectation_type"),
            "column": kwargs.get("column") or kwargs.get("column_A") or kwargs.get("column_list"),
            "kwargs": {k: v for k, v in kwargs.items() if k != "batch_id"},
            "observed": _observed(item.get("result") or {}, item.get("exception_info")),
        })
    return failed


def format_report(suite_name: str, source: str, rows: int, validation: dict[str, Any]) -> str:
    """The human report: one line per failed expectation (type, column, what was observed)."""
    stats = validation.get("statistics") or {}
    failed = failed_expectations(validation)
    evaluated = stats.get("evaluated_expectations", len(validation.get("results", [])))
    if not failed:
        return f"Data quality passed: suite {suite_name!r} on {source} ({rows} rows): {evaluated} expectations met"
    lines = [
        f"Data quality FAILED: suite {suite_name!r} on {source} ({rows} rows): "
        f"{len(failed)} of {evaluated} expectations failed"
    ]
    for f in failed:
        column = f" column {f['column']!r}" if f["column"] else ""
        settings = _describe_kwargs(f["kwargs"])
        lines.append(f"  - {f['type']}{column}{f' [{settings}]' if settings else ''}: {f['observed']}")
    return "\n".join(lines)


def read_frame(objects: Sequence[tuple[str, bytes]]) -> Any:
    """One pandas DataFrame from the objects a layer wrote (CSV, gzipped CSV, Parquet, JSON lines)."""
    import pandas as pd

    frames = []
    for key, body in objects:
        buffer = io.BytesIO(body)
        if key.endswith(".parquet"):
            frames.append(pd.read_parquet(buffer))
        elif key.endswith((".json", ".jsonl")):
            frames.append(pd.read_json(buffer, lines=True))
        else:
            frames.append(pd.read_csv(buffer, compression="gzip" if key.endswith(".gz") else None))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def validate_frame(frame: Any, suite: dict[str, Any]) -> dict[str, Any]:
    """Run the suite on the frame with an ephemeral GX context; the result as GX serialises it."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    expectations = [
        {"type": e.get("type") or e.get("expectation_type"), "kwargs": e.get("kwargs", {}), "meta": e.get("meta", {})}
        for e in suite["expectations"]
    ]
    gx_suite = gx.ExpectationSuite(name=suite["name"], expectations=expectations, meta=suite.get("meta") or {})
    asset = context.data_sources.add_pandas("layer_output").add_dataframe_asset(suite["name"])
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(gx_suite, result_format="SUMMARY").to_json_dict()


class GxCheckOperator(BaseOperator):
    """Validate the objects under ``s3://bucket/prefix`` with a GX suite; fail with a report if any expectation fails.

    Put it below :func:`asl_airflow.airflow.builders.success_ends` with
    ``trigger_rule="none_failed_min_one_success"`` and give it ``outlets=[Asset(...)]``: the Asset
    event (which starts the next layer) is emitted only when the data passed.
    """

    template_fields: Sequence[str] = ("bucket", "prefix")
    ui_color = "#d4f4dd"

    def __init__(
        self,
        *,
        suite_path: str | Path,
        bucket: str,
        prefix: str,
        aws_conn_id: str = "aws_default",
        max_objects: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.suite_path = str(suite_path)
        self.bucket = bucket
        self.prefix = prefix
        self.aws_conn_id = aws_conn_id
        self.max_objects = max_objects

    def _objects(self) -> list[tuple[str, bytes]]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=self.aws_conn_id)
        keys = [k for k in hook.list_keys(bucket_name=self.bucket, prefix=self.prefix) or []
                if k.endswith(_READABLE)]
        if len(keys) > self.max_objects:
            raise ValueError(f"{len(keys)} objects under s3://{self.bucket}/{self.prefix}; max_objects is "
                             f"{self.max_objects}: validate a partition, not the whole table")
        return [(key, hook.get_key(key, bucket_name=self.bucket).get()["Body"].read()) for key in sorted(keys)]

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        source = f"s3://{self.bucket}/{self.prefix}"
        suite = load_suite(self.suite_path)
        objects = self._objects()
        if not objects:
            raise AirflowFailException(f"Data quality FAILED: suite {suite['name']!r}: no data files under {source}")
        frame = read_frame(objects)
        validation = validate_frame(frame, suite)
        report = format_report(suite["name"], source, len(frame), validation)
        summary = {
            "suite": suite["name"],
            "source": source,
            "objects": [key for key, _ in objects],
            "rows": len(frame),
            "success": bool(validation.get("success")),
            "statistics": validation.get("statistics"),
            "failed": failed_expectations(validation),
        }
        context["ti"].xcom_push(key="gx_report", value=summary)
        if not summary["success"]:
            self.log.error("%s", report)
            raise AirflowFailException(report)
        self.log.info("%s", report)
        return summary
