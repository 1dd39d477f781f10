"""``asl-airflow``: validate, run, compile and draw state machines; run the pipelines locally.

Commands that only read ASL (validate, graph, run --engine local on a Task-free machine) import
neither Airflow nor boto3, so they start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A command-line argument that cannot be used: reported like argparse's own errors (exit 2)."""


def _read_input(value: str | None) -> Any:
    """``--input``: JSON text, or ``@file`` holding it; read strictly (no NaN, bounded nesting)."""
    return _json_arg(value, "--input")


def parse_substitutions(values: list[str] | None) -> dict[str, Any]:
    """``--subst NAME=VALUE`` or ``--subst @file.json`` (a JSON object of names and values; the
    ``DefinitionSubstitutions`` of a template, say), repeatable, later ones winning, as the
    ``substitutions`` mapping of ``load_definition``."""
    out: dict[str, Any] = {}
    for item in values or []:
        if item.startswith("@"):
            loaded = _json_arg(item, "--subst")
            if not isinstance(loaded, dict):
                raise UsageError(f"--subst {item}: the file must hold a JSON object of names and values")
            out.update(loaded)
            continue
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--subst expects NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def _load(file: str, subst: list[str] | None) -> Any:
    """``load_definition`` for a command: JSON, YAML or ``template.yaml[#LogicalId]``, with the
    ``--subst`` values; a placeholder left without a value is a ``warning:`` line on stderr."""
    import warnings

    from asl_airflow.asl.definition import load_definition

    substitutions = parse_substitutions(subst)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return load_definition(file, substitutions)
        finally:
            for warning in caught:
                print(f"warning: {warning.message}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    from asl_airflow.asl.errors import AslValidationError

    status = 0
    for path in args.files:
        try:
            _load(path, args.subst)
            problems = []
        except AslValidationError as exc:
            problems = exc.problems
        for line in problems:
            print(line)
        if problems:
            status = 1
        elif not args.quiet:
            print(f"{path}: valid")
    return status


def cmd_run(args: argparse.Namespace) -> int:
    from asl_airflow.asl.errors import AslValidationError, InvalidExecutionInput
    from asl_airflow.asl.redrive import NotRedrivable
    from asl_airflow.runner import run

    try:
        result = run(args.file, _read_input(args.input), engine=args.engine, history=args.history,
                     substitutions=parse_substitutions(args.subst) or None, mock_config=args.mock_config,
                     test_case=args.test_case, state_machine=args.state_machine,
                     time_scale=args.time_scale, redrive=args.redrive)
    except AslValidationError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except InvalidExecutionInput as exc:  # StartExecution refused it: no execution
        print(f"{exc.name}: {exc.message}", file=sys.stderr)
        return 2
    except NotRedrivable as exc:  # RedriveExecution refused it
        print(f"{exc.error}: {exc.cause}", file=sys.stderr)
        return 2
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(result, indent=None if args.compact else 2, default=str))
    return 0 if result["status"] == "SUCCEEDED" else 1


def cmd_graph(args: argparse.Namespace) -> int:
    from asl_airflow.asl.errors import AslValidationError
    from asl_airflow.asl.graph import mermaid

    try:
        print(mermaid(_load(args.file, args.subst).document))
    except AslValidationError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    """Write a standalone DAG file for the machine (the migration path off Step Functions)."""
    from asl_airflow.asl.errors import AslValidationError

    try:
        definition = _load(args.file, args.subst)
        from asl_airflow.airflow.codegen import dag_source

        text = dag_source(definition, args.dag_id, schedule=args.schedule, tags=args.tag,
                          command=f"asl-airflow compile {args.file} --dag-id {args.dag_id}")
    except AslValidationError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output} (DAG {args.dag_id})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_dags_test(args: argparse.Namespace) -> int:
    """(internal) Run one DAG with dag.test() in the current Airflow environment; print the result."""
    from asl_airflow.airflow.testing import test_dag
    from asl_airflow.asl import clock

    # dag.test() runs every task and trigger in this process: one simulated clock serves them all
    simulated = clock.SimulatedClock(args.time_scale) if args.time_scale is not None else None
    with clock.use(simulated):
        result = test_dag(args.dag_id, _read_input(args.input))
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print_summary(result)
    return 0 if result["status"] == "SUCCEEDED" else 1


def _json_arg(value: str | None, flag: str) -> Any:
    """A JSON-valued option (JSON text or ``@file``), read strictly; a clear usage error otherwise."""
    from asl_airflow.asl import strictjson

    if value is None:
        return None
    if value.startswith("@"):
        try:
            value = Path(value[1:]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{flag}: cannot read {value[1:]!r}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return strictjson.loads(value)
    except strictjson.JsonError as exc:
        raise UsageError(f"{flag} is not valid JSON: {exc}") from None


def cmd_test_state(args: argparse.Namespace) -> int:
    """One state, offline, as AWS's TestState API runs it: prints its response as one JSON object."""
    from asl_airflow.asl.definition import read_document
    from asl_airflow.asl.errors import AslValidationError
    from asl_airflow.asl.test_state import TestStateError
    from asl_airflow.runner import test_state

    try:
        document, _ = read_document(args.file)
        response = test_state(
            document, state_name=args.state, input=_json_arg(args.input, "--input"),
            mock=_json_arg(args.mock, "--mock"), inspection_level=args.inspection_level,
            variables=_json_arg(args.variables, "--variables"), context=_json_arg(args.context, "--context"),
            state_configuration=_json_arg(args.state_configuration, "--state-configuration"),
        )
    except AslValidationError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except TestStateError as exc:  # what AWS answers with HTTP 400
        print(json.dumps({"__type": exc.code, "message": exc.message}), file=sys.stderr)
        return 2
    print(json.dumps(response, indent=None if args.compact else 2))
    return 0 if response["status"] in ("SUCCEEDED", "CAUGHT_ERROR") else 1


def _fmt_duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:6.1f}s"


def print_summary(result: dict[str, Any]) -> None:
    """The readable end-of-run report of ``make run``."""
    print(f"\nDAG {result.get('dag_id')}  run {result.get('run_id')}")
    print(f"{'state':40} {'type':8} {'status':16} {'duration':>9} {'retries':>7}")
    for s in result["states"]:
        print(f"{s['state'][:40]:40} {s['type']:8} {s['status']:16} {_fmt_duration(s['duration']):>9} "
              f"{s['retries']:>7}")
    print(f"\nexecution: {result['status']}")
    if result["status"] == "SUCCEEDED":
        output = json.dumps(result["output"], indent=2, default=str)
        if len(output) > 4000:
            output = output[:4000] + f"\n... ({len(output)} bytes in all)"
        print("output:\n" + output)
    else:
        print(f"error: {result['error']}\ncause: {result['cause']}")
    if result.get("artifacts"):
        print("\nresults in S3:")
        for state, where in result["artifacts"]:
            print(f"  {state}: {where}")


def cmd_local_run(args: argparse.Namespace) -> int:
    """Start the local stack, run a DAG end to end with dag.test(), print the summary, stop the stack."""
    from asl_airflow import devstack

    stack = devstack.start()
    try:
        env = {**os.environ, **stack.env(), **devstack.airflow_env(logging_level="WARNING")}  # a short console
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        cmd = [sys.executable, "-m", "asl_airflow.cli", "_dags-test", args.dag_id]
        sample = devstack.sample_input(args.dag_id)
        if args.conf:
            cmd += ["--input", args.conf]
        elif sample is not None:  # an event-started layer: the input its trigger's event would carry
            print(f"execution input: {sample} (the sample event batch; --conf to give your own)")
            cmd += ["--input", f"@{sample}"]
        return subprocess.run(cmd, env=env).returncode
    finally:
        devstack.stop(stack.pid)


def cmd_local_up(args: argparse.Namespace) -> int:
    """`airflow standalone` on the local stack, so the DAGs can be seen and triggered in the UI."""
    from asl_airflow import devstack

    stack = devstack.start()
    print(f"moto server (AWS endpoint) on {stack.endpoint}, pid {stack.pid}")
    try:
        env = {**os.environ, **stack.env(), **devstack.airflow_env()}
        env.setdefault("AIRFLOW__API__PORT", os.environ.get("ASL_UI_PORT", "8080"))
        # workers reach the execution API on the same port as the UI
        env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                       f"http://localhost:{env['AIRFLOW__API__PORT']}/execution/")
        print(f"Airflow UI: http://localhost:{env['AIRFLOW__API__PORT']} "
              f"(user admin; password in {env['AIRFLOW_HOME']}/simple_auth_manager_passwords.json.generated)")
        return subprocess.run([sys.executable, "-m", "airflow", "standalone"], env=env).returncode
    except KeyboardInterrupt:
        return 0
    finally:
        devstack.stop(stack.pid)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asl-airflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    subst_help = "a ${NAME} substitution: NAME=VALUE, or @file.json holding an object of them (repeatable)"
    p = sub.add_parser("validate", help="check definitions; one line per problem")
    p.add_argument("files", nargs="+", help="ASL (.json, .yaml) or a SAM/CloudFormation template[#LogicalId]")
    p.add_argument("--subst", action="append", metavar="NAME=VALUE|@FILE", help=subst_help)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run one execution and print it as JSON")
    p.add_argument("file")
    p.add_argument("--input", help="execution input: JSON or @file")
    p.add_argument("--engine", choices=["local", "airflow"], default="local")
    p.add_argument("--history", action="store_true")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    p.add_argument("--mock-config", help="Step Functions Local MockConfigFile (default: $SFN_MOCK_CONFIG)")
    p.add_argument("--test-case", help="the mock configuration's test case to run")
    p.add_argument("--time-scale", type=float, metavar="FACTOR",
                   help="wait FACTOR x the real time in Waits, retry delays and heartbeats (0: no waiting); "
                   "the history keeps AWS's timestamps")
    p.add_argument("--redrive", metavar="PREVIOUS.json",
                   help="continue a failed execution (the JSON `run --history` printed for it), as AWS redrives")
    p.add_argument("--state-machine", help="the machine's name in the mock configuration "
                   "(default: the file name without .asl.json)")
    p.add_argument("--subst", action="append", metavar="NAME=VALUE|@FILE", help=subst_help)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("test-state", help="test one state offline, as AWS's TestState API does")
    p.add_argument("file", help="a state machine (then --state) or a single state, JSON")
    p.add_argument("--state", help="the state to test (stateName)")
    p.add_argument("--input", help="the state's input: JSON or @file")
    p.add_argument("--mock", help='{"result": JSON text} or {"errorOutput": {"error", "cause"}}')
    p.add_argument("--inspection-level", choices=["INFO", "DEBUG", "TRACE"], default="INFO")
    p.add_argument("--variables", help="workflow variables the state sees: a JSON object")
    p.add_argument("--context", help="context object ($$) fields: a JSON object")
    p.add_argument("--state-configuration", help="retrierRetryCount, errorCausedByState, "
                   "mapIterationFailureCount, mapItemReaderData: a JSON object")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    p.set_defaults(func=cmd_test_state)

    p = sub.add_parser("graph", help="print a Mermaid flowchart of the machine")
    p.add_argument("file")
    p.add_argument("--subst", action="append", metavar="NAME=VALUE|@FILE", help=subst_help)
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("compile", help="write a standalone DAG file for the machine")
    p.add_argument("file")
    p.add_argument("--dag-id", required=True)
    p.add_argument("-o", "--output", help="the DAG file to write (default: stdout)")
    p.add_argument("--schedule", help="the DAG's schedule (cron, @daily, ...); default: none")
    p.add_argument("--tag", action="append", help="a DAG tag (repeatable)")
    p.add_argument("--subst", action="append", metavar="NAME=VALUE|@FILE", help=subst_help)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("local", help="the local stack (moto + SQLite Airflow)")
    local = p.add_subparsers(dest="local_command", required=True)
    q = local.add_parser("run", help="run a DAG of dags/ end to end on the local stack")
    q.add_argument("dag_id", nargs="?", default="ml_training")
    q.add_argument("--conf", help="the run's conf (execution input) as JSON")
    q.set_defaults(func=cmd_local_run)
    q = local.add_parser("up", help="airflow standalone on the local stack")
    q.set_defaults(func=cmd_local_up)

    p = sub.add_parser("_dags-test", help=argparse.SUPPRESS)
    p.add_argument("dag_id")
    p.add_argument("--input")
    p.add_argument("--json", action="store_true")
    p.add_argument("--time-scale", type=float)
    p.set_defaults(func=cmd_dags_test)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what was started is stopped (runner._run_child); no traceback
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
