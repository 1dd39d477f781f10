"""The execution view without a browser or a database: statuses from a history, the SVG, the event
table, DescribeExecution, the DAG's docs, the Airflow graph's edge labels."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from asl_airflow.airflow.console import execution as ex
from asl_airflow.airflow.console.docs import definition_from_doc, doc_md, project_path
from asl_airflow.asl.graph import StateGraph, rule_text
from asl_airflow.runner import run

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "console_demo.asl.json"
MACHINE = json.loads(SAMPLE.read_text())
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz dot (apt-get install graphviz)")


def _local(input_: dict) -> dict:
    return run(MACHINE, input_, engine="local", history=True, time_scale=0)


def test_statuses_follow_the_history():
    result = _local({"size": 9, "items": [1, 2, 3]})
    views = ex.state_views(MACHINE, result["history"], result["status"])
    assert {n: v["status"] for n, v in views.items()} == {
        "Check size": "SUCCEEDED", "Too small": "NOT_RUN", "Score items": "SUCCEEDED", "Score": "SUCCEEDED",
        "Validate": "CAUGHT", "Always fails": "FAILED", "Count": "NOT_RUN", "Recover": "SUCCEEDED",
        "Reject": "NOT_RUN", "Done": "SUCCEEDED",
    }
    assert views["Score items"]["iterations"] == 3 and views["Score"]["runs"] == 3
    assert views["Validate"]["branches"] == 2
    assert views["Always fails"]["error"] == "Invalid.Input" and "on purpose" in views["Always fails"]["cause"]
    assert views["Recover"]["output"]["recovery"] == "recovered"
    assert views["Recover"]["asl"] == MACHINE["States"]["Recover"]


def test_a_failed_execution_marks_its_fail_state():
    result = _local({"size": 1, "mode": "strict", "items": []})
    views = ex.state_views(MACHINE, result["history"], result["status"])
    assert result["status"] == "FAILED"
    assert views["Reject"]["status"] == "FAILED" and views["Reject"]["error"] == "Rejected"
    assert views["Check size"]["status"] == "SUCCEEDED" and views["Done"]["status"] == "NOT_RUN"


def _task_history(*events: tuple[str, dict]) -> list[dict]:
    history = [{"id": 1, "type": "ExecutionStarted", "timestamp": "2026-01-01T00:00:00.000Z",
                "executionStartedEventDetails": {"input": "{}"}}]
    for i, (kind, details) in enumerate(events, start=2):
        event = {"id": i, "previousEventId": i - 1, "type": kind, "timestamp": f"2026-01-01T00:00:0{i}.000Z"}
        key = {"TaskStateEntered": "stateEnteredEventDetails", "TaskStateExited": "stateExitedEventDetails"}.get(
            kind, kind[0].lower() + kind[1:] + "EventDetails")
        event[key] = details
        history.append(event)
    return history


TASK = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                               "End": True}}}
SCHEDULED = {"resourceType": "lambda", "resource": "invoke", "region": "us-east-1", "parameters": "{}"}


def test_retried_then_succeeded_is_succeeded_with_retries():
    history = _task_history(
        ("TaskStateEntered", {"name": "Call", "input": "{}"}),
        ("TaskScheduled", SCHEDULED), ("TaskFailed", {"error": "Lambda.ServiceException", "cause": "x"}),
        ("TaskScheduled", SCHEDULED), ("TaskSucceeded", {"output": "{}"}),
        ("TaskStateExited", {"name": "Call", "output": "{}"}),
    )
    view = ex.state_views(TASK, history, "SUCCEEDED")["Call"]
    assert view["status"] == "SUCCEEDED" and view["retries"] == 1 and view["resource"] == "lambda:invoke"
    rows = ex.event_rows(history)
    assert [r["step"] for r in rows] == [None] + ["Call"] * 6
    assert rows[2]["resource"] == "lambda:invoke" and rows[3]["startedAfterMs"] == 4000


def test_running_and_failed_tasks():
    entered = _task_history(("TaskStateEntered", {"name": "Call", "input": "{}"}), ("TaskScheduled", SCHEDULED))
    assert ex.state_views(TASK, entered, "RUNNING")["Call"]["status"] == "RUNNING"
    failed = _task_history(("TaskStateEntered", {"name": "Call", "input": "{}"}), ("TaskScheduled", SCHEDULED),
                           ("TaskFailed", {"error": "Boom", "cause": "why"}))
    view = ex.state_views(TASK, failed, "FAILED")["Call"]
    assert view["status"] == "FAILED" and (view["error"], view["cause"]) == ("Boom", "why")
    # a running execution whose state has no events yet (Airflow records them when the task ends)
    assert ex.state_views(TASK, entered[:1], "RUNNING", {"Call": ["deferred"]})["Call"]["status"] == "RUNNING"
    assert ex.state_views(TASK, entered[:1], "RUNNING", {"Call": []})["Call"]["status"] == "NOT_RUN"


def test_describe_execution_shape():
    from datetime import UTC, datetime

    start = datetime(2026, 1, 1, tzinfo=UTC)
    body = ex.describe_execution(machine_name="m", execution_name="e", status="FAILED", input_="{}", output=None,
                                 error="Boom", cause="why", start=start, stop=start)
    assert body["stateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    assert body["executionArn"].endswith(":execution:m:e")
    assert (body["status"], body["error"], body["cause"]) == ("FAILED", "Boom", "why") and "output" not in body
    running = ex.describe_execution(machine_name="m", execution_name="e", status="RUNNING", input_="{}",
                                    output=None, error=None, cause=None, start=start, stop=None)
    assert "stopDate" not in running and "error" not in running


def test_rule_texts():
    assert rule_text({"Variable": "$.x", "NumericGreaterThan": 5, "Next": "A"}) == "$.x > 5"
    assert rule_text({"Variable": "$.x", "StringEqualsPath": "$.y", "Next": "A"}) == "$.x == $.y"
    assert rule_text({"Not": {"Variable": "$.x", "IsPresent": True}, "Next": "A"}) == "not $.x is present"
    assert rule_text({"Or": [{"Variable": "$.a", "BooleanEquals": True}, {"Variable": "$.b", "IsNull": False}],
                      "Next": "A"}) == "$.a == true or $.b is not null"
    assert rule_text({"Condition": "{% $states.input.n > 3 %}", "Next": "A"}) == "$states.input.n > 3"
    assert len(rule_text({"Variable": "$." + "x" * 100, "NumericEquals": 1, "Next": "A"})) == 60
    labels = {(e.kind, e.label) for e in StateGraph.from_machine(MACHINE).edges if e.label}
    assert ("catch", "catch: States.ALL") in labels and ("default", "Default") in labels


@needs_dot
def test_svg_one_node_per_state_with_status_and_labels():
    from asl_airflow.airflow.console.diagram import render_svg

    result = _local({"size": 9, "items": [1, 2, 3]})
    views = ex.state_views(MACHINE, result["history"], result["status"])
    statuses = {n: v["status"] for n, v in views.items()}
    svg = render_svg(MACHINE, statuses, {n: v["iterations"] for n, v in views.items()},
                     {n: v["type"] for n, v in views.items()})
    nodes = re.findall(r'<g id="state-[^"]+" class="node asl-state" [^>]*data-state="([^"]+)" '
                       r'data-status="([A-Z_]+)"', svg)
    assert dict(nodes) == {n: v["status"] for n, v in views.items()} and len(nodes) == len(views)
    catch = re.search(r'<g id="edge-catch-\d+" class="edge" data-kind="catch">.*?</g>', svg, re.S).group(0)
    assert "stroke-dasharray" in catch and "catch: States.ALL" in catch
    assert "$.size &gt; 5" in svg and "Default" in svg
    assert "Map · 3 iterations" in svg and "Parallel · 2 branches" in svg
    assert 'stroke="#ec7211"' in svg and 'stroke="#d13212"' in svg  # caught orange, failed red


def test_docs_carry_the_definition_without_machine_paths(tmp_path):
    doc = doc_md("demo", "demo_dag", MACHINE, str(SAMPLE))
    assert definition_from_doc(doc) == MACHINE
    assert "](/asl-airflow/definitions/demo_dag/diagram.svg)" in doc and "```mermaid" not in doc
    assert str(SAMPLE.parent) not in doc and "`tests/samples/console_demo.asl.json`" in doc
    assert project_path(str(tmp_path / "elsewhere.asl.json")) == "elsewhere.asl.json"
    assert definition_from_doc("# some other DAG") is None


def test_airflow_edges_are_labelled():
    from asl_airflow import asl_dag

    dag = asl_dag(SAMPLE, dag_id="console_demo")
    assert dag.get_edge_info("Check_size", "Score_items.start") == {"label": "$.size > 5"}
    assert dag.get_edge_info("Check_size", "Too_small") == {"label": "Default"}
    assert dag.get_edge_info("Validate.join", "Recover") == {"label": "catch: States.ALL"}
    assert dag.get_task("Validate.join").downstream_task_ids == {"Done", "Recover"}  # edges unchanged
