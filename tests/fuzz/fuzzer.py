"""A mutation fuzzer for the language, the local engine and the compiler.

Seeds are real state machines: every definition of the LocalStack corpus (``../shared/asl-corpus``,
skipped when it is not beside the checkout) and of ``include/asl``, with the corpus's execution
inputs. Each case applies one to four seeded mutations (hostile values in any field, intrinsics and
JSONata expressions that build huge or non-JSON values, Next rewired into loops, huge retry and
timeout numbers, deep or large inputs, ...) and then goes through what a user can reach:

1. ``load_definition`` (``AslValidationError`` is an answer, not a finding);
2. ``asl_airflow.run(engine="local")`` with Task states answered by a deterministic fake service
   (results, errors, ItemReader items) and sleeps on a fake clock: no network, no waiting;
   ``InvalidExecutionInput`` is an answer; the result must be one of AWS's statuses with a JSON
   output and history;
3. the compiler: ``asl_dag`` builds the DAG object (no metadata DB).

A *finding* is any other exception, a case that takes more CPU than :data:`CASE_SECONDS` (or than
:data:`EVENT_SECONDS` per history event, for an execution that runs to the 25,000-event quota), one
that does not answer within :data:`HANG_SECONDS`, or one whose
memory passes the worker's ``RLIMIT_AS`` cap (a ``MemoryError`` there, or the worker dying). Cases
run in worker subprocesses so that a hang or a runaway allocation is stopped from outside; case
``i`` of seed ``s`` is always the same case, and each finding is written as a JSON file that
``python tests/fuzz/fuzzer.py --replay FILE`` runs again.

``python tests/fuzz/fuzzer.py [--seconds N] [--cases N] [--seed S] [--workers N]`` (``make fuzz``)
prints a report and exits 1 when there are findings; ``tests/fuzz/test_fuzz.py`` runs a bounded
pass inside ``make test``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "asl-corpus" / "localstack"
INCLUDE = ROOT / "include" / "asl"
FINDINGS_DIR = ROOT / ".local" / "fuzz-findings"

#: a case that takes more CPU time than this (seconds, in its worker) is a finding
CASE_SECONDS = 5.0
#: ...or more than this per history event, for executions that legitimately run long (up to the
#: 25,000-event quota: AWS itself takes about 2 ms per event)
EVENT_SECONDS = 0.0004
#: a worker that has used this much CPU on one case without answering hangs: it is killed and the
#: case is a finding (so is one that has not answered after HANG_WALL_SECONDS, however busy the machine)
HANG_SECONDS = float(os.environ.get("FUZZ_HANG_SECONDS", "20"))
HANG_WALL_SECONDS = 600.0
#: the address-space cap of a worker process (bytes): a case that needs more is a finding
MEMORY_CAP = int(os.environ.get("FUZZ_MEMORY_CAP_MB", "3072")) * 1024 * 1024
#: JSONata's per-evaluation time limit inside the workers (the engine's default is 10 s)
JSONATA_SECONDS = 1.0
STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

# -- seeds -----------------------------------------------------------------------------------------


def _substitutions(document: Any) -> dict[str, str]:
    """Values for the ``${Name}`` placeholders of the include/asl definitions (SAM substitutions)."""
    import re

    names = set(re.findall(r"\$\{([^}]+)\}", json.dumps(document)))
    return {name: ("arn:aws:lambda:us-east-1:123456789012:function:fuzz" if name.lower().endswith("arn")
                   else f"fuzz-{name.lower()}") for name in names}


def seeds() -> tuple[list[dict[str, Any]], list[Any], str]:
    """(definitions, inputs, a note on what was found): the corpus when present, include/asl always."""
    definitions: list[dict[str, Any]] = []
    inputs: list[Any] = [{}, {"a": 1}, [1, 2, 3], {"items": [{"id": 1}, {"id": 2}]}]
    note = []
    templates = CORPUS / "templates.json"
    if templates.is_file():
        for doc in json.loads(templates.read_text()).values():
            if isinstance(doc, dict) and isinstance(doc.get("States"), dict) and "StartAt" in doc:
                definitions.append(doc)
        cases = CORPUS / "cases.json"
        if cases.is_file():
            for case in json.loads(cases.read_text()).get("cases", []):
                for execution in case.get("executions", []) or []:
                    if "input" in execution:
                        inputs.append(execution["input"])
        note.append(f"{len(definitions)} corpus definitions, {len(inputs)} inputs")
    else:
        note.append(f"corpus not found at {CORPUS}: include/asl only")
    for path in sorted(INCLUDE.glob("*.asl.json")):
        doc = json.loads(path.read_text())
        text = json.dumps(doc)
        for name, value in _substitutions(doc).items():
            text = text.replace("${" + name + "}", value)
        definitions.append(json.loads(text))
    note.append(f"{len(list(INCLUDE.glob('*.asl.json')))} include/asl definitions")
    valid = [doc for doc in (_resolved(doc) for doc in definitions) if doc is not None]
    note.append(f"{len(valid)} valid seeds")
    return valid, inputs, "; ".join(note)


_PLACEHOLDERS = ("__tbd__", "_tbd_")


def _resolved(doc: dict[str, Any]) -> dict[str, Any] | None:
    """A seed as AWS would have run it: the corpus's placeholder Resources filled in with a Lambda
    ARN; None when the definition is not valid (mutating a rejected definition finds little)."""
    from asl_airflow.asl.definition import load_definition
    from asl_airflow.asl.errors import AslValidationError

    text = json.dumps(doc)
    for placeholder in _PLACEHOLDERS:
        text = text.replace(f'"{placeholder}"', '"arn:aws:lambda:us-east-1:123456789012:function:fuzz"')
    resolved = json.loads(text)
    try:
        load_definition(copy.deepcopy(resolved))
    except (AslValidationError, ValueError, RecursionError):
        return None
    return resolved


# -- mutations -------------------------------------------------------------------------------------

HOSTILE_NUMBERS = [0, -1, 1, 2**31, 2**63, -(2**63), 10**30, 1e300, -1e308, 1.7976931348623157e308, 1e-300, 0.5,
                   99999999, 31622401, 2**53 + 1]
HOSTILE_STRINGS = [
    "", "NaN", "Infinity", "1e400", "-Infinity", "{}", "[]", "null", "\u0000", "é" * 50, "x" * 5000, "$", "$$",
    "$.", "$..*", "$[*]", "$[-1]", "$.a[999999999]", "$$.Execution.Input", "$$.Task.Token", "$.a.b.c.d",
    "$x", "$states", "{%%}", "{% %}", "{% $ %}", "States.ALL", "States.Runtime", "States.Timeout",
    "2016-03-14T01:59:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "not a date",
]
INTRINSICS = [
    "States.ArrayRange(0, 100000000, 1)", "States.ArrayRange(0, 1e300, 1)", "States.ArrayRange(1, 1000, 1)",
    "States.ArrayRange(5, 1, -1)", "States.ArrayRange(0, 10, 0)", "States.StringToJson('NaN')",
    "States.StringToJson('[1e400]')", "States.StringToJson($.s)", "States.MathAdd($.n, 1e300)",
    "States.MathAdd(1e308, 1e308)", "States.MathRandom(0, 1e300)", "States.MathRandom(10, 1, 7)",
    "States.ArrayPartition($.a, 0)", "States.ArrayPartition($.a, 1e300)",
    "States.ArrayPartition(States.ArrayRange(1, 1000, 1), 1)",
    "States.StringSplit($.s, $.s)", "States.Format('{}{}{}{}', $, $, $, $)", "States.Format($.s, 1, 2)",
    "States.Array($, $, $, $, $, $, $, $)", "States.Array(States.Array($, $, $, $), States.Array($, $, $, $))",
    "States.JsonToString($)", "States.JsonMerge($, $, false)", "States.JsonMerge($, $, true)",
    "States.Hash($.s, 'SHA-512')", "States.Hash($, 'MD4')", "States.Base64Decode('!!!')",
    "States.Base64Encode($.s)", "States.ArrayUnique(States.ArrayRange(1, 1000, 1))", "States.ArrayGetItem($.a, -1)",
    "States.ArrayContains($.a, $)", "States.ArrayLength($)", "States.UUID()", "States.Format('{}', States.UUID())",
]
JSONATA = [
    "{% $pad('', 1e9) %}", "{% [1..10000000] %}", "{% $count([1..10000000]) %}", "{% 1e308 * 10 %}",
    "{% $parse('NaN') %}", "{% $parse('1e400') %}", "{% $range(0, 1e9, 1) %}", "{% $partition([1,2,3], 0) %}",
    "{% $join($map([1..200000], function($v){'abcdefgh'}), '') %}",
    "{% $replace('aaaa', 'a', $pad('', 300000, 'x')) %}",
    "{% ($f := function($s, $n){$n = 0 ? $s : $f($s & $s, $n - 1)}; $f('xx', 40)) %}",
    "{% ($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(100000)) %}", "{% $states.input %}",
    "{% $states.context %}", "{% $sum($map([1..100000], function($v){$v})) %}", "{% $number('1e400') %}",
    "{% $string($states.input) %}", "{% [$states.input, $states.input, $states.input, $states.input] %}",
    "{% $random() %}", "{% $uuid() %}", "{% $hash('x', 'SHA-256') %}", "{% undefinedVariable %}", "{% $x %}",
    "{% $states.input.nope.nope %}", "{% 1/0 %}", "{% $formatBase(1e300, 2) %}", "{% $power(10, 400) %}",
]


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def hostile_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.2:
        return rng.choice(HOSTILE_NUMBERS)
    if roll < 0.4:
        return rng.choice(HOSTILE_STRINGS)
    if roll < 0.55:
        return rng.choice(INTRINSICS)
    if roll < 0.7:
        return rng.choice(JSONATA)
    if roll < 0.8:
        return rng.choice([None, True, False, [], {}, [None], {"": None}])
    if roll < 0.9:
        return _deep(rng.choice([10, 100, 499, 600]))
    return ["x" * rng.choice([1, 100, 10_000])] * rng.choice([1, 10, 100])


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(path, value)]
    if isinstance(value, dict):
        for key, sub in value.items():
            out.extend(_nodes(sub, (*path, key)))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            out.extend(_nodes(sub, (*path, index)))
    return out


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return root


def _states(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(machine, name, state) of every state, nested machines included."""
    out: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("States"), dict):
        return out
    for name, state in doc["States"].items():
        if not isinstance(state, dict):
            continue
        out.append((doc, name, state))
        for machine in [*(state.get("Branches") or []), state.get("ItemProcessor"), state.get("Iterator")]:
            if isinstance(machine, dict):
                out.extend(_states(machine))
    return out


_STRUCTURE = {"Type", "Next", "StartAt", "States", "End", "Default", "Branches", "ItemProcessor", "Iterator",
              "Choices", "Resource", "QueryLanguage", "ErrorEquals", "Variable", "Condition"}


def mutate(rng: random.Random, doc: dict[str, Any], input_: Any) -> tuple[dict[str, Any], Any, list[str]]:
    """One to four mutations of (definition, input); returns them with a description of each."""
    done: list[str] = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        states = _states(doc)
        kind = rng.choice(["value", "value", "value", "key", "next", "retry", "timeout", "input", "input",
                           "wrap", "type", "language", "expression", "map"])
        if kind == "value":
            nodes = _nodes(doc)[1:] or [((), doc)]
            leaves = [node for node in nodes if not isinstance(node[1], dict | list)]
            path, _ = rng.choice(leaves if leaves and rng.random() < 0.6 else nodes)
            if path and path[-1] in _STRUCTURE and rng.random() < 0.7:  # mostly keep the machine's shape
                path, _ = rng.choice(leaves or nodes)
            doc = _set(doc, path, hostile_value(rng))
            done.append(f"value at {list(path)}")
        elif kind == "key" and states:
            machine, name, state = rng.choice(states)
            if state and rng.random() < 0.5:
                key = rng.choice(list(state))
                del state[key]
                done.append(f"delete {name}.{key}")
            else:
                key = rng.choice(["Parameters", "ResultSelector", "ResultPath", "OutputPath", "InputPath", "ItemsPath",
                                  "Arguments", "Output", "Assign", "Items", "ItemSelector", "Seconds", "SecondsPath",
                                  "Timestamp", "TimestampPath", "HeartbeatSeconds", "TimeoutSecondsPath",
                                  "MaxConcurrency", "ToleratedFailurePercentage", "ErrorPath", "CausePath"])
                state[key] = hostile_value(rng) if rng.random() < 0.7 else {"v.$": rng.choice(INTRINSICS)}
                done.append(f"set {name}.{key}")
        elif kind == "next" and states:
            machine, name, state = rng.choice(states)
            target = rng.choice(list(machine["States"]))
            state.pop("End", None)
            state["Next"] = target
            done.append(f"{name}.Next -> {target}")
        elif kind == "retry" and states:
            machine, name, state = rng.choice(states)
            state["Retry"] = [{"ErrorEquals": [rng.choice(["States.ALL", "States.TaskFailed", "Fuzz.Error",
                                                           "States.Runtime", "States.Timeout"])],
                               "IntervalSeconds": rng.choice([1, 99999999]),
                               "MaxAttempts": rng.choice([0, 1, 3, 99999999]),
                               "BackoffRate": rng.choice([1.0, 2.0, 1e200, 1e308]),
                               **({"MaxDelaySeconds": rng.choice([1, 31622400])} if rng.random() < 0.5 else {}),
                               **({"JitterStrategy": "FULL"} if rng.random() < 0.3 else {})}]
            if rng.random() < 0.5:
                state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": rng.choice(list(machine["States"]))}]
            done.append(f"retry on {name}")
        elif kind == "timeout" and isinstance(doc, dict):
            doc["TimeoutSeconds"] = rng.choice([1, 2, 60, 99999999, 0, -1, 1e300])
            done.append(f"TimeoutSeconds {doc['TimeoutSeconds']}")
        elif kind == "input":
            input_ = rng.choice([hostile_value(rng), {"s": "x" * rng.choice([10, 100_000, 262_200]), "n": 1,
                                                      "a": list(range(rng.choice([3, 1000, 20_000])))},
                                 _deep(rng.choice([50, 499, 501])), {"a": [1, 2], "s": "a,b", "n": 1e300}])
            done.append("input")
        elif kind == "wrap" and states:
            machine, name, state = rng.choice(states)
            inner = {"StartAt": name, "States": {name: {**copy.deepcopy(state), "End": True}}}
            inner["States"][name].pop("Next", None)
            wrapper: dict[str, Any] = ({"Type": "Parallel", "Branches": [inner, copy.deepcopy(inner)]}
                                       if rng.random() < 0.5 else {"Type": "Map", "ItemProcessor": inner})
            if "Next" in state:
                wrapper["Next"] = state["Next"]
            else:
                wrapper["End"] = True
            machine["States"][name] = wrapper
            done.append(f"wrap {name} in {wrapper['Type']}")
        elif kind == "type" and states:
            _, name, state = rng.choice(states)
            state["Type"] = rng.choice(["Pass", "Wait", "Choice", "Succeed", "Fail", "Task", "Parallel", "Map"])
            if state["Type"] == "Task":
                state.setdefault("Resource", "arn:aws:states:::lambda:invoke")
            done.append(f"{name} -> {state['Type']}")
        elif kind == "language" and isinstance(doc, dict):
            doc["QueryLanguage"] = rng.choice(["JSONata", "JSONPath"])
            done.append(f"QueryLanguage {doc['QueryLanguage']}")
        elif kind == "expression" and states:
            _, name, state = rng.choice(states)
            field_ = rng.choice(["Parameters", "Arguments", "Output", "Assign", "ResultSelector"])
            state[field_] = {"v.$": rng.choice(INTRINSICS)} if field_ in ("Parameters", "ResultSelector") or \
                rng.random() < 0.3 else {"v": rng.choice(JSONATA)}
            done.append(f"{name}.{field_} expression")
        elif kind == "map" and states:
            machine, name, state = rng.choice(states)
            machine["States"][name] = {
                "Type": "Map", "ItemsPath": rng.choice(["$.a", "$", "$.items"]),
                "MaxConcurrency": rng.choice([0, 1, 10]), "ItemProcessor": {
                    **({"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}}
                       if rng.random() < 0.3 else {}),
                    "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                **({"Next": state["Next"]} if "Next" in state else {"End": True})}
            done.append(f"{name} -> Map")
    return doc, input_, done


def make_case(seed: int, index: int, definitions: list[dict[str, Any]], inputs: list[Any]) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{index}")
    doc = copy.deepcopy(rng.choice(definitions))
    input_ = copy.deepcopy(rng.choice(inputs))
    doc, input_, done = mutate(rng, doc, input_)
    return {"seed": seed, "index": index, "mutations": done, "definition": doc, "input": input_}


# -- inside a worker -------------------------------------------------------------------------------


class FakeService:
    """A deterministic stand-in for every service call: the answer depends on the call only."""

    ERRORS = ["States.TaskFailed", "Lambda.ServiceException", "States.Timeout", "Fuzz.Error", "States.Permissions"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls = 0

    def __call__(self, resource: str, parameters: Any, state: dict[str, Any], env: Any) -> Any:
        from asl_airflow.asl.errors import AslError

        self.calls += 1
        digest = hashlib.sha256(f"{resource}|{self.calls}|{json.dumps(parameters, sort_keys=True, default=str)[:2000]}"
                                .encode()).digest()[0]
        reader = state.get("ItemReader")
        if isinstance(reader, dict) and resource == reader.get("Resource"):
            return [{"item": i} for i in range(digest % 5)]
        if digest % 4 == 0:
            raise AslError(self.ERRORS[digest % len(self.ERRORS)], "fuzz")
        if digest % 4 == 1:
            return parameters
        return {"ok": True, "n": digest}


class FakeClock:
    """Sleeps advance a fake clock: Waits and retry delays cost nothing, TimeoutSeconds still applies."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _check_result(result: Any) -> None:
    from asl_airflow.asl import strictjson

    assert isinstance(result, dict), f"run() returned {type(result).__name__}"
    assert result.get("status") in STATUSES, f"status {result.get('status')!r}"
    for key in ("error", "cause"):
        assert result.get(key) is None or isinstance(result[key], str), f"{key} is {type(result[key]).__name__}"
    strictjson.check(result.get("output"))
    strictjson.check(result.get("history"), max_depth=strictjson.MAX_DEPTH + 10)


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Load, run and compile one case; ``{"finding": None}`` when every step answered as documented."""
    import asl_airflow
    from asl_airflow import runner
    from asl_airflow.asl.errors import AslValidationError, InvalidExecutionInput

    started = time.monotonic()
    cpu = time.process_time()
    steps = []
    events = 0
    try:
        try:
            definition = asl_airflow.load_definition(case["definition"])
        except AslValidationError:
            steps.append("invalid")
            definition = None
        if definition is not None:
            real = runner.Interpreter
            runner.Interpreter = _interpreter_with(FakeClock())  # type: ignore[attr-defined]
            try:
                result = asl_airflow.run(definition, case["input"], engine="local", history=True)
                _check_result(result)
                steps.append(result["status"])
                events = len(result.get("history") or [])
            except InvalidExecutionInput:
                steps.append("input refused")
            finally:
                runner.Interpreter = real  # type: ignore[attr-defined]
            from asl_airflow import asl_dag

            try:
                asl_dag(definition, dag_id=f"fuzz_{case['index']}")
                steps.append("compiled")
            except AslValidationError:  # the compiler's own documented refusal (e.g. an unsupported Resource)
                steps.append("not compilable")
    except MemoryError:
        return {"finding": "memory", "detail": "MemoryError", "steps": steps, "seconds": time.monotonic() - started}
    except BaseException as exc:  # noqa: BLE001 - every other exception is what the fuzzer looks for
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(tb)
                      if "asl_airflow" in f.filename), f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?")
        return {"finding": "exception", "detail": f"{type(exc).__name__} at {where}: {str(exc)[:300]}",
                "traceback": "".join(traceback.format_exception(exc))[-4000:], "steps": steps,
                "seconds": time.monotonic() - started}
    seconds = time.process_time() - cpu  # CPU time: the machine may be shared, wall time is not the case's
    if seconds > max(CASE_SECONDS, events * EVENT_SECONDS):
        return {"finding": "slow", "detail": f"took {seconds:.1f}s of CPU", "steps": steps, "seconds": seconds}
    return {"finding": None, "steps": steps, "seconds": seconds}


def _interpreter_with(clock: FakeClock) -> Any:
    from asl_airflow.asl.interpreter import Interpreter

    def make(document: dict[str, Any], invoker: Any = None, **kwargs: Any) -> Interpreter:
        return Interpreter(document, invoker, sleep=clock.sleep, clock=clock.time, **kwargs)

    return make


def worker_main() -> None:
    """Read cases (one JSON per line) from stdin, answer one JSON line each on stdout."""
    import resource
    import types

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    # Task states go to the fake service: asl_airflow.run imports LocalInvoker from here
    fake = types.ModuleType("asl_airflow.integrations.invoker")
    fake.LocalInvoker = FakeService  # type: ignore[attr-defined]
    sys.modules["asl_airflow.integrations.invoker"] = fake
    from asl_airflow.asl import jsonata_eval

    jsonata_eval.TIME_LIMIT_SECONDS = JSONATA_SECONDS
    import asl_airflow
    from asl_airflow import asl_dag  # noqa: F401 - Airflow imported once, before the first case

    out = sys.stdout
    sys.stdout = sys.stderr  # anything a case prints must not mix with the answers
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        case = json.loads(line)
        answer = run_case(case)
        try:
            out.write(json.dumps(answer, default=str) + "\n")
        except MemoryError:
            out.write(json.dumps({"finding": "memory", "detail": "MemoryError while answering"}) + "\n")
        out.flush()
        if answer.get("finding") == "memory":
            return  # a fresh worker for the next case
    del asl_airflow


# -- the parent ------------------------------------------------------------------------------------


@dataclass
class Report:
    seed: int
    seeds_note: str = ""
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    findings: list[dict[str, Any]] = field(default_factory=list)
    slowest: list[tuple[float, int]] = field(default_factory=list)
    seconds: float = 0.0

    def kinds(self) -> Counter:
        return Counter(f"{f['finding']}: {f['detail'].split(':')[0] if f['finding'] == 'exception' else ''}"
                       for f in self.findings)

    def summary(self) -> str:
        lines = [f"fuzz: seed {self.seed}, {self.cases} cases in {self.seconds:.0f}s ({self.seeds_note})",
                 "outcomes: " + ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common()),
                 f"findings: {len(self.findings)}"]
        seen: set[str] = set()
        for finding in self.findings:
            key = finding["finding"] + finding["detail"][:120]
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"  [{finding['finding']}] case {finding['index']}: {finding['detail'][:300]}"
                         f"  ({finding.get('file', '')})")
        lines.append("slowest: " + ", ".join(f"case {i} {s:.2f}s" for s, i in sorted(self.slowest)[-5:]))
        return "\n".join(lines)


class Worker:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="asl-fuzz-"))
        env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        ready = self._read(300)
        if ready is None or not ready.get("ready"):
            self.stop()
            raise RuntimeError("a fuzz worker did not start")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def cpu_seconds(self) -> float:
        """CPU time the worker has used (user + system), from /proc: on a shared machine the wall
        clock says more about the neighbours than about the case."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def ask(self, case: dict[str, Any], cpu_limit: float, wall_limit: float) -> dict[str, Any] | None:
        """The worker's answer, or None when it used more than ``cpu_limit`` CPU seconds or
        ``wall_limit`` seconds on the case, or died."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        cpu, wall = self.cpu_seconds(), time.monotonic()
        while True:
            answer = self._read(1.0)
            if answer is not None or not self.alive():
                return answer
            if self.cpu_seconds() - cpu > cpu_limit or time.monotonic() - wall > wall_limit:
                return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def fuzz(seconds: float | None = 60, max_cases: int | None = None, seed: int = 1, workers: int = 2,
         findings_dir: Path | None = FINDINGS_DIR, progress: bool = False) -> Report:
    """Run cases ``0, 1, 2, ...`` of ``seed`` until ``seconds`` or ``max_cases``, in ``workers`` subprocesses."""
    definitions, inputs, note = seeds()
    report = Report(seed=seed, seeds_note=note)
    lock = threading.Lock()
    counter = iter(range(max_cases if max_cases else 10**12))
    started = time.monotonic()
    # the time budget is for cases: it starts once the workers have imported Airflow
    pool: list[Worker] = []
    starters = [threading.Thread(target=lambda: pool.append(Worker()), daemon=True) for _ in range(max(1, workers))]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    stop_at = time.monotonic() + seconds if seconds else None

    def next_index() -> int | None:
        with lock:
            if stop_at is not None and time.monotonic() > stop_at:
                return None
            return next(counter, None)

    def record(case: dict[str, Any], answer: dict[str, Any]) -> None:
        with lock:
            report.cases += 1
            for step in answer.get("steps", []):
                report.outcomes[step] += 1
            report.slowest = sorted([*report.slowest, (answer.get("seconds") or 0.0, case["index"])])[-5:]
            if answer.get("finding"):
                finding = {"index": case["index"], **{k: answer[k] for k in ("finding", "detail") if k in answer}}
                if findings_dir is not None:
                    findings_dir.mkdir(parents=True, exist_ok=True)
                    path = findings_dir / f"seed{seed}-case{case['index']}-{answer['finding']}.json"
                    path.write_text(json.dumps({**case, "answer": answer}, indent=1, default=str))
                    finding["file"] = str(path)
                report.findings.append(finding)
            if progress and report.cases % 500 == 0:
                print(f"  {report.cases} cases, {len(report.findings)} findings, "
                      f"{time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)

    def lane(worker: Worker) -> None:
        try:
            while (index := next_index()) is not None:
                try:
                    case = make_case(seed, index, definitions, inputs)
                    json.dumps(case)
                except (ValueError, RecursionError, TypeError):  # a mutation the wire cannot carry
                    continue
                answer = worker.ask(case, HANG_SECONDS, HANG_WALL_SECONDS)
                if answer is None:  # a hang or a dead worker: stop it from outside, start another
                    died = not worker.alive()
                    worker.stop()
                    answer = {"finding": "memory" if died else "timeout",
                              "detail": "the worker died (memory cap or crash)" if died
                              else f"no answer after {HANG_SECONDS:g}s of CPU"}
                    worker = Worker()
                elif not worker.alive():
                    worker = Worker()
                record(case, answer)
        finally:
            worker.stop()

    threads = [threading.Thread(target=lane, args=(worker,), daemon=True) for worker in pool]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS") or 600))
    parser.add_argument("--cases", type=int, default=int(os.environ.get("FUZZ_CASES") or 0) or None)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED") or 1))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FUZZ_WORKERS") or 2))
    parser.add_argument("--replay", metavar="FILE", help="run one finding's case again, in this process")
    args = parser.parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    if args.replay:
        case = json.loads(Path(args.replay).read_text())
        fake = __import__("types").ModuleType("asl_airflow.integrations.invoker")
        fake.LocalInvoker = FakeService
        sys.modules["asl_airflow.integrations.invoker"] = fake
        print(json.dumps(run_case(case), indent=1, default=str))
        return 0
    report = fuzz(seconds=args.seconds if not args.cases else None, max_cases=args.cases, seed=args.seed,
                  workers=args.workers, progress=True)
    print(report.summary())
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
