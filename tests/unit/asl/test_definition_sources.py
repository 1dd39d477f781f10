"""Definitions as teams keep them (issue 11): YAML, ``${...}`` in the text, SAM/CloudFormation templates."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from asl_airflow.asl import AslValidationError, load_definition
from asl_airflow.asl.definition import SubstitutionWarning

WAIT = '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": ${Timeout}, "Next": "P"}, ' \
       '"P": {"Type": "Pass", "Result": "${Unknown}", "End": true}}}'


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_quietly(*args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        definition = load_definition(*args, **kwargs)
    return definition, [str(w.message) for w in caught if issubclass(w.category, SubstitutionWarning)]


def test_substitution_in_the_text_fills_a_number(tmp_path: Path) -> None:
    definition, notes = load_quietly(write(tmp_path, "w.asl.json", WAIT), {"Timeout": 5})
    assert definition.states["W"]["Seconds"] == 5
    # AWS leaves a placeholder it has no value for as it is; we warn
    assert definition.states["P"]["Result"] == "${Unknown}"
    assert notes == [f"{tmp_path / 'w.asl.json'}: ${{Unknown}} has no substitution and stays as text (as Step "
                     "Functions leaves it); pass it in substitutions"]
    assert definition.warnings == tuple(notes)


def test_a_missing_value_that_breaks_the_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(AslValidationError) as info:
        load_quietly(write(tmp_path, "w.asl.json", WAIT))
    [problem] = info.value.problems
    assert "not valid JSON" in problem and "placeholders without a substitution: ${Timeout}, ${Unknown}" in problem


def test_substitution_values_are_written_as_cloudformation_writes_them(tmp_path: Path) -> None:
    text = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": [${A}, ${B}, "${C}"], "End": true}}}'
    definition, _ = load_quietly(write(tmp_path, "p.asl.json", text), {"A": True, "B": 1.5, "C": "x"})
    assert definition.states["P"]["Result"] == [True, 1.5, "x"]


def test_dict_definitions_substitute_in_strings() -> None:
    doc = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${A}-${B}", "End": True}}}
    definition, notes = load_quietly(doc, {"A": "a"})
    assert definition.states["P"]["Result"] == "a-${B}" and "${B}" in notes[0]


def test_yaml_definition(tmp_path: Path) -> None:
    text = ("# a comment\nStartAt: W\nStates:\n  W:\n    Type: Wait\n    Seconds: ${Timeout}\n    Next: T\n"
            "  T:\n    Type: Wait\n    Timestamp: 2026-01-01T00:00:00Z\n    End: true\n")
    for name in ("m.asl.yaml", "m.asl.yml"):
        definition, _ = load_quietly(write(tmp_path, name, text), {"Timeout": 5})
        assert definition.states["W"]["Seconds"] == 5
        assert definition.states["T"]["Timestamp"] == "2026-01-01T00:00:00Z"  # a string, as in JSON
        assert definition.name == "m"


@pytest.mark.parametrize("text,words", [
    ("StartAt: [\n", "not valid YAML (line"),
    ("a: &a [1, 2]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                                  for p, c in zip("abcdefgh", "bcdefghi", strict=True)), "more than"),
    ("x: " + "[" * 2000 + "]" * 2000 + "\n", "levels deep"),
    ("x: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("- 1\n- 2\n", "must be a JSON object"),
])
def test_hostile_yaml(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(AslValidationError) as info:
        load_definition(write(tmp_path, "m.asl.yaml", text))
    assert any(words in p for p in info.value.problems), info.value.problems


TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.12, CodeUri: src/}
  FromFile:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/flow.asl.json
      DefinitionSubstitutions:
        FnArn: !GetAtt Fn.Arn
        Wait: 5
      Role: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x
  Inline:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: A
        States:
          A: {Type: Pass, Result: "${Stage}/${Literal}", End: true}
      DefinitionSubstitutions:
        Stage: !Ref Stage
        Literal: 7
  Classic:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !GetAtt Role.Arn
      DefinitionString: !Sub |
        {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": ${Wait}, "End": true}}}
      DefinitionSubstitutions:
        Wait: 3
  InS3:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionS3Location: {Bucket: b, Key: k}
"""
FLOW = '{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${FnArn}", "Next": "W"}, ' \
       '"W": {"Type": "Wait", "Seconds": ${Wait}, "End": true}}}'


@pytest.fixture
def template(tmp_path: Path) -> Path:
    (tmp_path / "statemachine").mkdir()
    write(tmp_path / "statemachine", "flow.asl.json", FLOW)
    return write(tmp_path, "template.yaml", TEMPLATE)


def test_template_definition_uri_with_its_substitutions(template: Path) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    definition, notes = load_quietly(template, {"Fn.Arn": arn}, state_machine="FromFile")
    assert definition.states["A"]["Resource"] == arn  # !GetAtt Fn.Arn read from substitutions["Fn.Arn"]
    assert definition.states["W"]["Seconds"] == 5
    assert definition.name == "FromFile" and notes == []
    assert definition.source == str(template.parent / "statemachine" / "flow.asl.json")


def test_template_substitutions_cloudformation_alone_can_resolve_warn(template: Path) -> None:
    definition, notes = load_quietly(template, state_machine="FromFile")
    assert definition.states["A"]["Resource"] == "${FnArn}"
    assert any("/Resources/FromFile/Properties/DefinitionSubstitutions/FnArn: only CloudFormation can resolve "
               '{"Fn::GetAtt": ["Fn", "Arn"]}' in n for n in notes), notes
    # a value passed by the user wins over the template's own
    definition, notes = load_quietly(template, {"FnArn": "arn:x", "Wait": 9}, state_machine="FromFile")
    assert definition.states["A"]["Resource"] == "arn:x" and definition.states["W"]["Seconds"] == 9


def test_template_inline_definition_and_definition_string(template: Path) -> None:
    inline, _ = load_quietly(template, {"Stage": "prod"}, state_machine="Inline")
    assert inline.states["A"]["Result"] == "prod/7"
    classic, _ = load_quietly(f"{template}#Classic")  # the CLI's way to name the resource
    assert classic.states["A"]["Seconds"] == 3 and classic.name == "Classic"


@pytest.mark.parametrize("machine,words", [
    (None, "has 4 state machines (FromFile, Inline, Classic, InS3)"),
    ("Nope", "no state machine 'Nope'"),
    ("InS3", "/Resources/InS3/Properties/DefinitionS3Location: the definition is in S3"),
])
def test_template_problems(template: Path, machine: str | None, words: str) -> None:
    with pytest.raises(AslValidationError) as info:
        load_definition(template, state_machine=machine)
    assert any(words in p for p in info.value.problems), info.value.problems


def test_a_template_problem_in_the_definition_points_into_the_template(template: Path) -> None:
    doc = TEMPLATE.replace("A: {Type: Pass,", "A: {Type: Pass, Bogus: 1,")
    with pytest.raises(AslValidationError) as info:
        load_quietly(write(template.parent, "bad.yaml", doc), {"Stage": "s"}, state_machine="Inline")
    assert info.value.problems == [f"{template.parent / 'bad.yaml'}#/Resources/Inline/Properties/Definition:"
                                   "/States/A/Bogus: field 'Bogus' is not valid in a Pass state; remove it"]


def test_asl_dag_from_a_template(template: Path) -> None:
    from asl_airflow import asl_dag

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dag = asl_dag(template, substitutions={"Stage": "s"}, state_machine="Inline")
    assert dag.dag_id == "Inline" and [t.task_id for t in dag.tasks] == ["A"]


def test_cli_subst_from_a_file(tmp_path: Path) -> None:
    from asl_airflow import cli

    values = write(tmp_path, "values.json", json.dumps({"Timeout": 4, "Unknown": "u"}))
    assert cli.parse_substitutions([f"@{values}", "Timeout=5"]) == {"Timeout": "5", "Unknown": "u"}
    with pytest.raises(cli.UsageError):
        cli.parse_substitutions([f"@{write(tmp_path, 'list.json', '[1]')}"])


def test_template_pseudo_parameters_of_the_partition(tmp_path: Path) -> None:
    """SAM builds integration ARNs with ``!Sub arn:${AWS::Partition}:states:::...``: the partition is
    the commercial one unless given; the region and account are the deployment's, so they warn."""
    write(tmp_path, "flow.asl.json", '{"StartAt": "U", "States": {"U": {"Type": "Task", "Resource": '
          '"${DDBUpdateItem}", "Parameters": {"TableName": "t", "Key": {}, "Where": "${Where}"}, "End": true}}}')
    template = write(tmp_path, "template.yaml", """
Resources:
  M:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: flow.asl.json
      DefinitionSubstitutions:
        DDBUpdateItem: !Sub arn:${AWS::Partition}:states:::dynamodb:updateItem
        Where: !Sub ${AWS::Region}.${AWS::URLSuffix}
""")
    definition, notes = load_quietly(template)
    assert definition.states["U"]["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert definition.states["U"]["Parameters"]["Where"] == "${Where}"
    assert any("DefinitionSubstitutions/Where: only CloudFormation can resolve" in n for n in notes), notes
    definition, _ = load_quietly(template, {"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1"})
    assert definition.states["U"]["Resource"] == "arn:aws-cn:states:::dynamodb:updateItem"
    assert definition.states["U"]["Parameters"]["Where"] == "cn-north-1.amazonaws.com"
