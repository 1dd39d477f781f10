"""Benchmark: the local ASL interpreter against moto's ASL interpreter, same executions, one run.

Runs the corpus executions the conformance suite uses (pure templates, recorded against AWS) on
both engines and prints executions per second for each and the ratio (goal: ours >= 10x moto).
Executions that would sleep (a Wait, or a Retry delay) are left out, because moto sleeps for real
and we would not: what is compared is the interpreters' own work. JSONata machines are left out
unless ``--include-jsonata`` (moto ships no JSONata evaluator, so they fail fast there).

    .venv/bin/python bench/interpreter.py            # every execution
    .venv/bin/python bench/interpreter.py --sample 200 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "conformance"))

import asl_corpus as corpus  # noqa: E402
from asl_airflow.asl import Interpreter  # noqa: E402
from asl_airflow.asl.errors import ExecutionAborted  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/bench"


def _max_wait(doc: Any) -> float:
    """The longest literal Wait in a definition (path/JSONata waits count as long)."""
    longest = 0.0
    if isinstance(doc, dict):
        if doc.get("Type") == "Wait":
            seconds = doc.get("Seconds")
            longest = float(seconds) if isinstance(seconds, int | float) else 3600.0
        for value in doc.values():
            longest = max(longest, _max_wait(value))
    elif isinstance(doc, list):
        for value in doc:
            longest = max(longest, _max_wait(value))
    return longest


def _no_sleep(seconds: float) -> None:
    return None


def _abort(seconds: float) -> None:
    raise ExecutionAborted()


def run_local(cases: list[corpus.CaseExecution], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for case in cases:
            sleep = _abort if corpus.wants_abort(case) else _no_sleep
            Interpreter(case.definition, sleep=sleep).execute(case.input)
    return time.perf_counter() - start


def run_moto(cases: list[corpus.CaseExecution], repeat: int) -> tuple[float, int]:
    import boto3
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        machines = []
        for i, case in enumerate(cases):
            arn = client.create_state_machine(
                name=f"bench{i}", definition=json.dumps(case.definition), roleArn=ROLE
            )["stateMachineArn"]
            machines.append((arn, json.dumps(case.input)))
        finished = 0
        start = time.perf_counter()
        for r in range(repeat):
            for i, (arn, input_text) in enumerate(machines):
                execution = client.start_execution(stateMachineArn=arn, name=f"e{r}-{i}", input=input_text)
                deadline = time.perf_counter() + 10
                while time.perf_counter() < deadline:
                    try:
                        status = client.describe_execution(executionArn=execution["executionArn"])["status"]
                    except Exception:  # moto cannot always serialise a failed execution; it did end
                        status = "FAILED"
                    if status != "RUNNING":
                        finished += 1
                        break
                    time.sleep(0.0005)
        return time.perf_counter() - start, finished


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.getLogger("moto").setLevel(logging.CRITICAL)  # moto logs every failed execution
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, help="run a random sample of N executions (0: all)")
    parser.add_argument("--repeat", type=int, default=1, help="run each execution this many times")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--include-jsonata", action="store_true",
                        help="also run JSONata machines (moto ships no JSONata evaluator: they fail fast there)")
    args = parser.parse_args(argv)
    if not corpus.available():
        print(f"the ASL corpus is not at {corpus.CORPUS}", file=sys.stderr)
        return 2
    cases = [c for c in corpus.executions() if not corpus.wants_abort(c) and _max_wait(c.definition) == 0
             and '"Retry"' not in json.dumps(c.definition)
             and (args.include_jsonata or "JSONata" not in json.dumps(c.definition))]
    if args.sample:
        cases = random.Random(args.seed).sample(cases, min(args.sample, len(cases)))
    n = len(cases) * args.repeat
    local = run_local(cases, args.repeat)
    moto_time, finished = run_moto(cases, args.repeat)
    ours, theirs = n / local, n / moto_time
    kinds = "JSONPath and JSONata" if args.include_jsonata else "JSONPath"
    print(f"executions: {len(cases)} x {args.repeat} (pure {kinds} corpus templates, no sleeps)")
    print(f"local interpreter: {ours:10.1f} executions/s  ({local:.2f} s)")
    print(f"moto interpreter:  {theirs:10.1f} executions/s  ({moto_time:.2f} s, {finished} finished)")
    print(f"ratio local/moto:  {ours / theirs:10.1f}x (goal >= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
