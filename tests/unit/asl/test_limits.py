"""Hostile input and AWS's limits on the local engine: history size, TimeoutSeconds, strict JSON,
sizes known before allocating, StartExecution's input checks."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from asl_airflow.asl import Interpreter, errors, jsonata_eval, retry, strictjson
from asl_airflow.asl.history import History


class FakeTime:
    """A clock that only moves when the interpreter sleeps (no real waiting in tests)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(doc: dict[str, Any], input_: Any = None, **kw: Any) -> Any:
    kw.setdefault("sleep", lambda s: None)
    return Interpreter(doc, **kw).execute(input_)


def pass_with(expr: str) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"v.$": expr}, "End": True}}}


def task(**state: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                             "End": True, **state}}}


# -- 1. the history quota -------------------------------------------------------------------------


def test_an_endless_loop_fails_at_the_25000th_event_as_aws_does() -> None:
    result = run({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}, {})
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert result.cause == "The execution reached the maximum number of history events (25000)."
    assert len(result.history) == 25_000
    last = result.history[-1]
    assert last["id"] == 25_000 and last["type"] == "ExecutionFailed"
    assert last["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": result.cause}
    assert result.history[-2]["id"] == 24_999 and result.history[-2]["type"] == "PassStateExited"


def test_the_quota_is_not_caught_by_the_loop_that_hits_it() -> None:
    doc = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "T",
              "Retry": [{"ErrorEquals": ["States.ALL", "States.Runtime"], "MaxAttempts": 99}],
              "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}}}
    result = run(doc, {}, invoker=lambda *a: {})
    assert result.status == "FAILED" and result.error == "States.Runtime" and len(result.history) == 25_000


def test_event_offset_counts_events_spent_elsewhere() -> None:
    doc = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}
    result = run(doc, {}, event_offset=24_990)
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert len(result.history) == 10  # events 24,991 ... 25,000 of the execution


def test_history_refuses_the_last_place_to_all_but_the_terminal_event() -> None:
    history = History(limit=3)
    history.add("ExecutionStarted")
    history.add("PassStateEntered")
    with pytest.raises(errors.HistoryLimitExceeded):
        history.add("PassStateExited")
    with pytest.raises(errors.HistoryLimitExceeded):
        history.extend([{"type": "PassStateExited"}])
    assert history.add("ExecutionFailed", terminal=True)["id"] == 3


def test_a_distributed_map_child_that_hits_the_quota_fails_only_its_item() -> None:
    doc = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailurePercentage": 100, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "L", "States": {"L": {"Type": "Pass", "Next": "L"}}}}}}
    result = run(doc, [1])
    assert result.status == "SUCCEEDED"
    assert result.output == [{"Error": "States.Runtime", "Cause": errors.HISTORY_LIMIT_CAUSE}]


# -- 2. the state machine's TimeoutSeconds --------------------------------------------------------


def test_timeout_seconds_ends_a_wait_at_the_deadline() -> None:
    clock = FakeTime()
    doc = {"TimeoutSeconds": 2, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 6, "End": True}}}
    result = run(doc, {}, sleep=clock.sleep, clock=clock.time)
    assert result.status == "TIMED_OUT" and result.error == "States.Timeout"
    assert clock.slept == [2.0]  # not 6: the wait ends at the deadline
    assert [e["type"] for e in result.history] == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    assert result.history[-1]["executionTimedOutEventDetails"] == {"error": "States.Timeout"}
    assert result.as_dict()["status"] == "TIMED_OUT"


def test_timeout_seconds_cuts_retry_delays() -> None:
    clock = FakeTime()
    doc = {"TimeoutSeconds": 10, **task(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 4,
                                                "MaxAttempts": 5}])}

    def fail(*args: Any) -> Any:
        raise errors.AslError("Boom", "again")

    result = run(doc, {}, invoker=fail, sleep=clock.sleep, clock=clock.time)
    assert result.status == "TIMED_OUT"
    assert clock.slept == [4.0, 6.0]  # 4 s, then the 8 s delay is cut at the deadline
    assert clock.now == 1_010.0


def test_timeout_seconds_abandons_a_service_call_that_is_still_running() -> None:
    started = time.monotonic()
    result = run({"TimeoutSeconds": 1, **task()}, {}, invoker=lambda *a: time.sleep(5) or {})
    assert result.status == "TIMED_OUT" and result.error == "States.Timeout"
    assert time.monotonic() - started < 4.5  # the call sleeps 5 s: it was abandoned at the deadline


def test_a_task_timeout_seconds_is_states_timeout_with_a_timed_out_event() -> None:
    result = run(task(TimeoutSeconds=1), {}, invoker=lambda *a: time.sleep(5) or {})
    assert result.status == "FAILED" and result.error == "States.Timeout"
    assert "TaskTimedOut" in [e["type"] for e in result.history]


def test_no_timeout_no_thread_result_as_is() -> None:
    assert run(task(), {}, invoker=lambda *a: {"ok": 1}).output == {"ok": 1}


# -- 3. no NaN or Infinity in or out ------------------------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[1e400]", '{"v": NaN}'])
def test_string_to_json_is_strict(text: str) -> None:
    result = run(pass_with("States.StringToJson($.t)"), {"t": text})
    assert result.status == "FAILED" and result.error == "States.Runtime"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"a": [float("-inf")]}])
def test_execution_input_must_be_json(value: Any) -> None:
    with pytest.raises(errors.InvalidExecutionInput) as exc:
        run(pass_with("$"), value)
    assert exc.value.name == "InvalidExecutionInput"


def test_math_add_with_huge_numbers_stays_json() -> None:
    result = run(pass_with("States.MathAdd($.a, 1)"), {"a": 1e300})
    assert result.status == "SUCCEEDED"
    json.loads(json.dumps(result.output), parse_constant=lambda c: pytest.fail(c))


def test_a_service_result_that_is_not_json_is_states_runtime() -> None:
    result = run(task(), {}, invoker=lambda *a: {"v": float("nan")})
    assert result.status == "FAILED" and result.error == "States.Runtime"


@pytest.mark.parametrize("expr", ['$parse("NaN")', '$parse("1e400")', "1e308 * 10"])
def test_jsonata_has_no_nan_either(expr: str) -> None:
    with pytest.raises(errors.AslError):
        jsonata_eval.evaluate("{% " + expr + " %}", {"input": {}}, {})


@pytest.mark.parametrize("rate", [1e200, 1e308])
def test_huge_backoff_rate_is_capped_not_overflowing(rate: float) -> None:
    retrier = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "BackoffRate": rate, "MaxAttempts": 9}
    assert retry.retry_delay(retrier, 5) == retry.MAX_DELAY_SECONDS
    assert retry.retry_delay({**retrier, "MaxDelaySeconds": 30}, 5) == 30
    assert retry.retry_delay({**retrier, "IntervalSeconds": 3}, 0) == 3


def test_retry_delay_keeps_aws_worked_example() -> None:
    retrier = {"ErrorEquals": ["A"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxDelaySeconds": 5}
    assert [retry.retry_delay(retrier, n) for n in range(4)] == [1, 2, 4, 5]


# -- 4. sizes from data, checked before allocating -----------------------------------------------


@pytest.mark.parametrize("args", ["0, 100000000, 1", "0, 1e300, 1", "1e18, -1e18, -1", "0, 1000, 1"])
def test_array_range_refuses_more_than_1000_items_before_building(args: str) -> None:
    started = time.process_time()  # CPU: the machine may be shared
    result = run(pass_with(f"States.ArrayRange({args})"))
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "1000 items" in result.cause and time.process_time() - started < 1


def test_array_range_of_1000_items_is_fine() -> None:
    assert len(run(pass_with("States.ArrayRange(1, 1000, 1)")).output["v"]) == 1000


def test_repeating_a_large_value_is_refused_without_building_its_text() -> None:
    big = {"s": "x" * 100_000}
    started = time.process_time()
    nested = "States.Array(" + ",".join(["States.Array(" + ",".join(["$"] * 30) + ")"] * 30) + ")"
    result = run(pass_with(nested), big)
    assert result.status == "FAILED" and result.error == "States.DataLimitExceeded"
    result = run(pass_with("States.Format('{}{}{}', $.s, $.s, $.s)"), big)
    assert result.error == "States.DataLimitExceeded"
    result = run({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Parameters": {
        "a.$": "$", "b.$": "$", "c.$": "$"}}}}, big)
    assert result.error == "States.DataLimitExceeded"
    assert time.process_time() - started < 2


def test_string_split_and_array_unique_are_linear() -> None:
    data = {"s": "a,b;" * 20_000, "d": ",;" * 500, "u": list(range(10_000)) * 2}
    started = time.process_time()
    result = run({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Parameters": {
        "n.$": "States.ArrayLength(States.StringSplit($.s, $.d))",
        "u.$": "States.ArrayLength(States.ArrayUnique($.u))"}}}}, data)
    assert result.output == {"n": 40_000, "u": 10_000}
    assert time.process_time() - started < 2
    assert run(pass_with("States.ArrayUnique($)"), [1, 1.0, True, {"a": 1, "b": 2}, {"b": 2, "a": 1}]).output == \
        {"v": [1, True, {"a": 1, "b": 2}]}


@pytest.mark.parametrize("expr", ['$pad("", 1e9)', '$join($map([1..100000], function($v){"abcdefghijkl"}), "")',
                                  '$replace("aaaa", "a", $pad("", 400000, "x"))',
                                  '($f := function($s, $n){$n = 0 ? $s : $f($s & $s, $n - 1)}; $f("xx", 40))',
                                  "[1..10000000]"])
def test_jsonata_cannot_build_huge_values(expr: str) -> None:
    with pytest.raises(errors.AslError) as exc:
        jsonata_eval.evaluate("{% " + expr + " %}", {"input": {}}, {})
    assert exc.value.error in (errors.QUERY_EVALUATION_ERROR, errors.DATA_LIMIT_EXCEEDED)


def test_jsonata_evaluation_has_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonata_eval, "TIME_LIMIT_SECONDS", 0.2)
    started = time.monotonic()
    with pytest.raises(errors.AslError, match="ran longer than"):
        jsonata_eval.evaluate("{% $sum($map([1..1000000], function($v){$v * 2})) %}", {"input": {}}, {})
    assert time.monotonic() - started < 10  # wall clock, as the limit: generous for a shared machine


def test_jsonata_pad_join_replace_still_work() -> None:
    assert jsonata_eval.evaluate('{% $pad("ab", 4, "-") & $join(["x","y"], ",") & $replace("abc", "b", "B") %}',
                                 {"input": {}}, {}) == "ab--x,yaBc"


def test_data_nested_too_deeply_at_run_time_is_states_runtime() -> None:
    doc = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"n.$": "$"}, "Next": "A"}}}
    result = run(doc, {})
    assert result.status == "FAILED" and result.error == "States.Runtime" and "nested" in result.cause


# -- 5. StartExecution's input checks ------------------------------------------------------------


def test_input_over_256_kib_is_refused_before_the_execution_starts() -> None:
    with pytest.raises(errors.InvalidExecutionInput) as exc:
        run(pass_with("$"), {"s": "x" * 262_144})
    assert exc.value.name == "ValidationException" and "262144" in exc.value.message
    assert run(pass_with("$"), {"s": "x" * 262_000}).status == "SUCCEEDED"


def test_input_nested_1000_levels_is_refused_not_a_recursion_error() -> None:
    value: Any = 1
    for _ in range(1000):
        value = [value]
    with pytest.raises(errors.InvalidExecutionInput, match="nested"):
        run(pass_with("$"), value)
    with pytest.raises(strictjson.JsonError, match="nested"):
        strictjson.loads("[" * 1000 + "]" * 1000)


def test_size_exceeds_is_a_lower_bound_of_the_text() -> None:
    for value in [{"a": [1, 2.5, "é" * 10, None, True, {"b": -12345678901234567890}]}, [], {}, "x" * 100]:
        size = len(strictjson.dumps(value).encode())
        assert not strictjson.size_exceeds(value, size)
    assert strictjson.size_exceeds(["x" * 10] * 10, 100)


# -- what the fuzzer found -----------------------------------------------------------------------


def test_states_runtime_is_never_retried_even_when_named() -> None:
    """A Parameters path that selects nothing is States.Runtime, writes no event, and must not loop
    through 99,999,999 retries (AWS: States.Runtime is not retriable)."""
    doc = task(Parameters={"v.$": "$.missing"},
               Retry=[{"ErrorEquals": ["States.Runtime"], "MaxAttempts": 99_999_999, "IntervalSeconds": 1}])
    slept: list[float] = []
    result = run(doc, {}, invoker=lambda *a: {}, sleep=slept.append)
    assert result.status == "FAILED" and result.error == "States.Runtime" and slept == []
    assert not retry.next_retry([{"ErrorEquals": ["States.Runtime"]}], "States.Runtime", []).retry


@pytest.mark.parametrize("language", ["JSONPath", "JSONata"])
def test_a_loop_over_a_large_input_stays_linear(language: str) -> None:
    big = {"s": "x" * 100_000, "a": list(range(20_000))}
    started = time.process_time()
    result = run({"QueryLanguage": language, "StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}, big)
    assert result.status == "FAILED" and len(result.history) == 25_000
    assert time.process_time() - started < 5


def test_jsonata_converts_only_the_variables_an_expression_reads() -> None:
    deep: Any = 1
    for _ in range(400):
        deep = {"a": deep}
    doc = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"items": [1, 2]}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"n": "{% $count($items) %}"}, "Next": "B"}}}
    started = time.process_time()
    assert run(doc, deep).error == "States.Runtime"
    assert time.process_time() - started < 5
    assert jsonata_eval.evaluate("{% $eval('$x') %}", {"input": {}}, {"x": 3}) == 3


def test_a_retry_storm_of_evaluation_errors_ends_at_the_quota_in_linear_time() -> None:
    """Each failed JSONata Arguments writes an EvaluationFailed event, so 99,999,999 retries end at the
    25,000th event; locating each error looks its state up instead of scanning the history."""
    doc = {"QueryLanguage": "JSONata", **task(Arguments="{% $doesNotExist %}", Retry=[
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 99_999_999}])}
    started = time.process_time()
    result = run(doc, {}, invoker=lambda *a: {})
    assert result.error == "States.Runtime" and len(result.history) == 25_000
    assert time.process_time() - started < 8


def test_a_map_selector_computes_what_does_not_depend_on_the_item_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Distributed Map of 20,000 items whose ItemSelector split a 100 KB string of the state input
    took minutes: the split ran again for every item. Values that cannot depend on the item are now
    computed once per Map; the item's own values ($$.Map.Item) and States.UUID still per item."""
    from asl_airflow.asl import intrinsics

    calls: list[str] = []
    split = intrinsics._FUNCTIONS["States.StringSplit"]
    monkeypatch.setitem(intrinsics._FUNCTIONS, "States.StringSplit",
                        lambda call, args: calls.append(args[0]) or split(call, args))
    doc = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.a", "End": True,
        "ItemSelector": {"parts.$": "States.StringSplit($.s, ',')", "nested": {"n.$": "States.ArrayLength($.a)"},
                         "own.$": "States.StringSplit($$.Map.Item.Value, ',')", "i.$": "$$.Map.Item.Index",
                         "id.$": "States.UUID()"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    items = [f"x,{i}" for i in range(300)]
    result = run(doc, {"s": "a,b", "a": items})
    assert result.status == "SUCCEEDED"
    assert [{k: v for k, v in out.items() if k != "id"} for out in result.output] == \
        [{"parts": ["a", "b"], "nested": {"n": 300}, "own": ["x", str(i)], "i": i} for i in range(300)]
    assert len({out["id"] for out in result.output}) == 300
    assert calls.count("a,b") == 1 and len(calls) == 301


def test_a_map_selector_fails_on_the_first_failing_value_as_before() -> None:
    doc = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.a", "End": True,
        "ItemSelector": {"own.$": "$$.Map.Item.Value.missing", "shared.$": "$.missing"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    result = run(doc, {"a": [1, 2]})
    assert result.error == "States.Runtime" and "$$.Map.Item.Value.missing" in result.cause


def test_string_split_keeps_the_non_empty_runs_between_delimiters() -> None:
    """StringSplit finds the runs directly (it used to split and then drop the empty pieces: 100,001
    of them for the text below, four times slower); every character of the second argument splits."""
    assert run(pass_with("States.StringSplit($.s, $.s)"), {"s": "x" * 100_000}).output == {"v": []}
    assert run(pass_with("States.StringSplit($.s, '^]\\\\-')"), {"s": "a^b]c\\d-e--\n"}).output == \
        {"v": ["a", "b", "c", "d", "e", "\n"]}


def test_a_jsonata_range_past_the_item_limit_fails_before_it_is_built() -> None:
    """fuzz seed 1 case 2541: a Task whose Catch loops back to it with Arguments ``[1..10000000]``
    built 10,000,000 ints (about a second) at every turn before refusing them: the loop never reached
    the history quota in time. The range is measured from its bounds now."""
    started = time.process_time()
    for expr in ["[1..10000000]", "[1..2000000][0]", f"$count([1..{jsonata_eval.MAX_ITEMS + 1}])"] * 20:
        with pytest.raises(errors.AslError, match="built an array of more than"):
            jsonata_eval.evaluate("{% " + expr + " %}", {"input": {}}, {})
    assert time.process_time() - started < 3  # 60 refusals; building the first one alone took ~0.8 s
    assert jsonata_eval.evaluate(f"{{% $count([1..{jsonata_eval.MAX_ITEMS}]) %}}", {"input": {}}, {}) == \
        jsonata_eval.MAX_ITEMS
    assert jsonata_eval.evaluate("{% [3..5] %}", {"input": {}}, {}) == [3, 4, 5]


def test_a_jsonata_retry_storm_converts_its_input_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """fuzz seed 1 case 11612: a Task whose JSONata Arguments fail, retried up to the history quota,
    converted its 5 KB input (and the context object holding it again) for jsonata-python at every
    attempt: 14 s. A conversion is kept for the next evaluations over the same object."""
    converted: list[Any] = []
    convert = jsonata_eval._to_jsonata

    def counting(value: Any) -> Any:
        converted.append(value)
        return convert(value)

    monkeypatch.setattr(jsonata_eval, "_to_jsonata", counting)
    doc = {"QueryLanguage": "JSONata", **task(
        Arguments={"n": "{% $count($states.input.a) %}", "x": "{% $states.input.missing %}"},
        Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2_000, "IntervalSeconds": 1}])}
    data = {"a": list(range(1_000)), "z": None}
    result = run(doc, data, invoker=lambda *a: {})
    assert result.status == "FAILED" and result.error == "States.QueryEvaluationError"
    assert sum(1 for e in result.history if e["type"] == "EvaluationFailed") == 2_001
    assert len(converted) < 200_000  # about 2,000 x (1,000 + the context's nodes) without the memo
    assert jsonata_eval.evaluate("{% $states.input.z = null and $count($states.input.a) = 1000 %}",
                                 {"input": data}, {}) is True
