"""How a folder of real state machines fares: valid, compiled to a DAG, and the same on both engines.

Issue 11's measure of "what a team migrating off Step Functions meets": point it at a folder of
definitions as teams keep them (``*.asl.json``, ``*.asl.yaml``, ``*.asl.yml``, e.g. a clone of
aws-samples/step-functions-workflows-collection) and it prints, per file and in total:

1. **valid**: ``load_definition`` accepts it. Templates carry SAM/CloudFormation placeholders
   (``${Name}``) their stack fills: a SAM/CloudFormation template beside the file gives its
   DefinitionSubstitutions, resolved as the stack would (:func:`template_values`); any other is given
   a value of the kind its name says (:func:`stand_in`), as ``--subst`` would, so a placeholder is
   never the reason a file is refused. A Task Resource that is a placeholder no template resolves
   and whose name says nothing (``${DDBUpdateItem}``) is counted apart (``resource from an unknown
   stack``): which service it calls is the stack's to say.
   A file that is not JSON/YAML even so is counted apart (``unreadable``), not as invalid ASL.
2. **compiles**: ``asl_dag`` builds its DAG (in this process, Airflow imported, no database).
3. **same on both engines**, for the service-free ones (no Task state, no Map ItemReader or ResultWriter, so nothing
   needs AWS): run with input ``{}`` on the local engine (simulated clock, ``--time-scale 0``) and
   compiled and run by ``dag.test()`` in one Airflow worker process (the equivalence suite's engine,
   ``tests/conformance/airflow_engine.py``); status, error, cause and output must be equal.

Run: ``PYTHONPATH=.:plugins:tests/conformance .venv/bin/python bench/real_machines.py DIR [--no-run]``.
Not part of ``make test``: the folder is the user's (the public collections are not in this
repository).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from asl_airflow.asl.definition import _PLACEHOLDER as PLACEHOLDER
from asl_airflow.asl.definition import PSEUDO_PARAMETERS
from asl_airflow.runner import _has_tasks

SUFFIXES = (".asl.json", ".asl.yaml", ".asl.yml")


#: (word in the placeholder's name, the ARN it stands for); a Lambda function's when none matches
ARNS = (("statemachine", "arn:aws:states:us-east-1:123456789012:stateMachine:Child"),
        ("activity", "arn:aws:states:us-east-1:123456789012:activity:act"),
        ("topic", "arn:aws:sns:us-east-1:123456789012:topic"),
        ("queue", "arn:aws:sqs:us-east-1:123456789012:queue"),
        ("role", "arn:aws:iam::123456789012:role/role"),
        ("table", "arn:aws:dynamodb:us-east-1:123456789012:table/table"),
        ("bus", "arn:aws:events:us-east-1:123456789012:event-bus/bus"),
        ("cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/cluster"),
        ("taskdef", "arn:aws:ecs:us-east-1:123456789012:task-definition/task:1"),
        ("jobqueue", "arn:aws:batch:us-east-1:123456789012:job-queue/queue"),
        ("jobdefinition", "arn:aws:batch:us-east-1:123456789012:job-definition/job:1"),
        ("secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:secret"),
        ("bucket", "arn:aws:s3:::bucket"))


def stand_in(name: str, bare: bool) -> Any:
    """A value for the placeholder ``name`` of the kind a stack would give it: a number where it
    stands bare in JSON (``"Seconds": ${Wait}``), an ARN where the name says ARN (a Lambda function's
    unless the name says otherwise), a queue URL for a URL, a plain name otherwise."""
    lowered = name.lower()
    if bare:
        return 1
    if "arn" in lowered or lowered.endswith(("function", "lambda")):
        return next((arn for word, arn in ARNS if word in lowered),
                    f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
    if "url" in lowered:
        return f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
    return name


def substitutions_for(text: str) -> dict[str, Any]:
    subs: dict[str, Any] = {}
    for match in PLACEHOLDER.finditer(text):  # the loader's own pattern
        before = text[:match.start()].rstrip()
        bare = not before.endswith('"') and not text[match.end():].startswith(('"', "'")) and \
            before.endswith((":", "[", ","))
        subs.setdefault(match.group(1), stand_in(match.group(1), bare))
    return subs


#: CloudFormation's pseudo parameters as a stack in us-east-1 of account 123456789012 has them
#: (the loader's own defaults for the partition and URL suffix, plus the deployment's own)
PSEUDO = {**PSEUDO_PARAMETERS, "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::StackName": "stack", "AWS::StackId": "stack-id"}
#: resource type -> (service, the ARN's resource part for a name, what Ref gives: "name", "arn", "url")
TYPES = {"AWS::Serverless::Function": ("lambda", "function:{}", "name"),
         "AWS::Lambda::Function": ("lambda", "function:{}", "name"),
         "AWS::Serverless::StateMachine": ("states", "stateMachine:{}", "arn"),
         "AWS::StepFunctions::StateMachine": ("states", "stateMachine:{}", "arn"),
         "AWS::StepFunctions::Activity": ("states", "activity:{}", "arn"),
         "AWS::DynamoDB::Table": ("dynamodb", "table/{}", "name"),
         "AWS::Serverless::SimpleTable": ("dynamodb", "table/{}", "name"),
         "AWS::SNS::Topic": ("sns", "{}", "arn"), "AWS::SQS::Queue": ("sqs", "{}", "url"),
         "AWS::S3::Bucket": ("s3", "{}", "name"), "AWS::Events::EventBus": ("events", "event-bus/{}", "name"),
         "AWS::IAM::Role": ("iam", "role/{}", "name")}


def template_values(definition: Path, root: Path) -> dict[str, Any]:
    """The DefinitionSubstitutions a SAM/CloudFormation template beside ``definition`` (in its folder
    or one above it, up to ``root``) gives it, resolved as the stack would: pseudo parameters, and
    ``!GetAtt R.Arn`` / ``!Ref R`` of the template's resources by their type."""
    from asl_airflow.asl import definition as module

    folder = definition.parent
    while True:
        for name in ("template.yaml", "template.yml", "template.json", "sam.yaml", "template.sam.yaml"):
            candidate = folder / name
            if candidate.is_file():
                values = _from_template(module, candidate, definition)
                if values is not None:
                    return values
        if folder == root or folder.parent == folder:
            return {}
        folder = folder.parent


def _from_template(module: Any, template_path: Path, definition: Path) -> dict[str, Any] | None:
    try:
        template = module.parse_yaml(template_path.read_text(encoding="utf-8"), str(template_path))
        resources = template["Resources"]
    except Exception:  # noqa: BLE001 - an unreadable template gives no values
        return None
    known: dict[str, Any] = dict(PSEUDO)
    for key, parameter in (template.get("Parameters") or {}).items():
        if isinstance(parameter, dict) and "Default" in parameter:
            known[key] = str(parameter["Default"])
    for key, resource in resources.items():
        kind = resource.get("Type", "") if isinstance(resource, dict) else ""
        service, part, ref = TYPES.get(kind, (kind.split("::")[1].lower() if kind.count("::") == 2 else "x",
                                              "{}", "name"))
        region = "" if service in ("s3", "iam") else "us-east-1"
        account = "" if service == "s3" else "123456789012"
        arn = f"arn:aws:{service}:{region}:{account}:{part.format(key)}"
        url = f"https://sqs.us-east-1.amazonaws.com/123456789012/{key}"
        known[key] = {"name": key, "arn": arn, "url": url}[ref]
        for attribute in ("Arn", "Name", "TopicName", "QueueName", "QueueUrl", "StreamArn"):
            known[f"{key}.{attribute}"] = arn if attribute.endswith("Arn") else url if attribute == "QueueUrl" else key
    for resource in resources.values():
        props = resource.get("Properties") if isinstance(resource, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("DefinitionUri"), str):
            continue
        if (template_path.parent / props["DefinitionUri"]).resolve() != definition.resolve():
            continue
        values = {}
        for key, spec in (props.get("DefinitionSubstitutions") or {}).items():
            resolved = module._resolve(spec, known)
            if resolved is not None:
                values[key] = resolved
        return values
    return None


def same(local: dict[str, Any], airflow: dict[str, Any]) -> str:
    """Empty when the two results agree, else what differs."""
    diffs = [key for key in ("status", "error", "cause", "output") if local.get(key) != airflow.get(key)]
    return ", ".join(f"{k}: {local.get(k)!r:.120} vs {airflow.get(k)!r:.120}" for k in diffs)


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    run_engines = "--no-run" not in argv
    from asl_airflow import asl_dag, load_definition  # Airflow's import comes with asl_dag
    from asl_airflow.asl import errors

    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    runs: list[tuple[Path, dict[str, Any]]] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        subs = {**substitutions_for(text), **template_values(path, folder)}
        counts["files"] += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = load_definition(path, subs)
        except errors.AslValidationError as exc:
            message = str(exc).splitlines()
            first = next((line for line in message[1:] if line.strip()), message[0] if message else "")
            if "not valid JSON" in str(exc) or "not valid YAML" in str(exc) or "could not be read" in str(exc):
                counts["unreadable"] += 1
                print(f"UNREADABLE {path.relative_to(folder)}: {first.strip()[:200]}")
            else:
                counts["invalid"] += 1
                print(f"INVALID {path.relative_to(folder)}: {first.strip()[:200]}")
            continue
        except Exception as exc:  # noqa: BLE001 - a crash of the loader is what this measures
            counts["crashed"] += 1
            print(f"CRASHED load {path.relative_to(folder)}: {type(exc).__name__}: {exc}"[:300])
            continue
        counts["valid"] += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                asl_dag(path, dag_id=f"real_{counts['valid']:04d}", substitutions=subs)
        except Exception as exc:  # noqa: BLE001 - a refusal is what this measures
            text = str(exc).strip().splitlines()
            reason = (text[1] if len(text) > 1 else text[0] if text else type(exc).__name__).strip()
            guessed = [name for name, value in subs.items() if value == name]
            if any(f"Resource {name!r} " in reason for name in guessed):
                # the stack fills this Resource and no template beside the file says with what:
                # the refusal is right (it names the substitution to pass), the file is not measured
                counts["resource from an unknown stack"] += 1
                print(f"UNKNOWN STACK {path.relative_to(folder)}: {reason.replace(f'{path}:', '')[:200]}")
                continue
            counts["refused"] += 1
            reason = reason.replace(f"{path}:", "")
            reasons[reason.split(": ", 1)[-1][:140]] += 1
            print(f"REFUSED {path.relative_to(folder)}: {reason[:240]}")
            continue
        counts["compiled"] += 1
        if not _has_tasks(loaded.document):  # no Task, ItemReader or ResultWriter: nothing calls AWS
            counts["service-free"] += 1
            runs.append((path, loaded.document))

    if run_engines and runs:
        from airflow_engine import AirflowEngine
        from asl_airflow import run

        engine = AirflowEngine(timeout=300)
        started = time.monotonic()
        try:
            for path, document in runs:
                local = run(document, {}, engine="local", time_scale=0)
                try:
                    airflow = engine.run(document, {})
                except Exception as exc:  # noqa: BLE001 - an engine failure is a disagreement
                    counts["disagree"] += 1
                    print(f"DIFFERENT {path.relative_to(folder)}: the Airflow engine failed: {exc}"[:400])
                    continue
                difference = same(local, airflow)
                if difference:
                    counts["disagree"] += 1
                    print(f"DIFFERENT {path.relative_to(folder)}: {difference}")
                else:
                    counts["agree"] += 1
                    print(f"SAME {path.relative_to(folder)}: {local['status']} {local.get('error') or ''}")
        finally:
            engine.close()
        counts["engine seconds"] = round(time.monotonic() - started)

    print("\nrefusal reasons:" if reasons else "")
    for reason, n in reasons.most_common():
        print(f"  {n:4d}  {reason}")
    print(json.dumps(dict(counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
