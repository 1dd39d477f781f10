"""JsonPath filters and the rest of Jayway's syntax as Step Functions evaluates them (asl/jayway.py):
what they select, that validation takes them where AWS does and points at the ones it would not read,
and whole machines using them in InputPath, ItemsPath, Parameters, ResultSelector and OutputPath."""

from __future__ import annotations

import pytest
from asl_airflow.asl import paths
from asl_airflow.asl.validation import validate
from asl_airflow.runner import run

BOOKS = {
    "store": {"book": [
        {"title": "Sayings", "author": "Nigel Rees", "price": 8.95, "isbn": "0-553", "status": "ok"},
        {"title": "Sword", "author": "Evelyn Waugh", "price": 12.99, "status": "out"},
        {"title": "Moby Dick", "author": "Herman Melville", "price": 8.99, "isbn": "0-395", "status": "ok"},
    ]},
    "limit": 9,
    "OU": 3,
}
YEARS = [{"year": 1997, "name": "a", "OU": 1}, {"year": 1998, "name": "b", "OU": 0}, {"year": 2001, "name": "c"}]


@pytest.mark.parametrize("data,path,expected", [
    # '.[': Jayway skips a '.' before a bracket
    (YEARS, "$.[?(@.year <= 1998)]", YEARS[:2]),
    (YEARS, "$.[?(@.year < 1999)].name", ["a", "b"]),
    (YEARS, "$[?(@.OU > 0)]", YEARS[:1]),
    ({"abc": {"def ghi": 1}}, "$.abc.['def ghi']", 1),  # AWS's own example: a definite path, one value
    (BOOKS, "$.store.book.[2].price", 8.99),
    # numbers, strings, &&, ||, !, existence, parentheses, comparing with another path
    (BOOKS, "$.store.book[?(@.price < 10)].title", ["Sayings", "Moby Dick"]),
    (BOOKS, "$.store.book[?(@.status == 'ok')].title", ["Sayings", "Moby Dick"]),
    (BOOKS, '$.store.book[?(@.status != "ok")].title', ["Sword"]),
    (BOOKS, "$.store.book[?(@.price < 10 && @.title >= 'N')].title", ["Sayings"]),
    (BOOKS, "$.store.book[?(@.price > 12 || @.author == 'Nigel Rees')].title", ["Sayings", "Sword"]),
    (BOOKS, "$.store.book[?(!@.isbn)].title", ["Sword"]),
    (BOOKS, "$.store.book[?((@.price > 12 || @.isbn) && @.status == 'ok')].title", ["Sayings", "Moby Dick"]),
    (BOOKS, "$.store.book[?(@.price < $.limit)].title", ["Sayings", "Moby Dick"]),
    (BOOKS, "$..book[?(@.isbn)].title", ["Sayings", "Moby Dick"]),
    (BOOKS, "$..[?(@.isbn)].title", ["Sayings", "Moby Dick"]),  # each object once, not once per parent
    # a filter on an object tests the object itself (Jayway), not its members' values (RFC 9535)
    (BOOKS, "$.[?(@.OU > 0)].limit", [9]),
    (BOOKS, "$[?(@.OU > 5)]", []),
    # =~ /regex/flags: the whole string must match, as Java's matches()
    (BOOKS, "$.store.book[?(@.author =~ /.*REES/i)].title", ["Sayings"]),
    (BOOKS, "$.store.book[?(@.author =~ /REES/i)].title", []),
    (BOOKS, r"$.store.book[?(@.isbn =~ /\d-\d+/)].title", ["Sayings", "Moby Dick"]),
    # a number with no digit before its point, as AWS's own examples write it (Textract/Comprehend
    # contest sample: '$.result.Entities[?(@.Score > .85)]'); a '.5' string stays a string
    (BOOKS, "$.store.book[?(@.price > .5 && @.price < 9)].title", ["Sayings", "Moby Dick"]),
    ([{"s": 0.9}, {"s": -0.2}], "$[?(@.s < -.1)]", [{"s": -0.2}]),
    ([{"s": ".5"}, {"s": 0.5}], "$[?(@.s == '.5')]", [{"s": ".5"}]),
    # a type mismatch selects nothing rather than failing
    (BOOKS, "$.store.book[?(@.price > 'a')]", []),
    # indefinite paths give a list, possibly empty, even when their beginning is missing (as AWS)
    (BOOKS, "$.store.book[?(@.price > 100)]", []),
    ({}, "$.items[?(@.x)]", []),
    ({}, "$.items[*]", []),  # the README's example, as AWS answers it
    ({"OU": 3}, "$.[?(@.OU > 0)]", [{"OU": 3}]),  # the README's example
    (BOOKS, "$.OU[?(@.x)]", []),
])
def test_select(data: object, path: str, expected: object) -> None:
    assert paths.get(data, path) == expected


def test_dot_bracket_paths_are_reference_paths() -> None:
    assert paths.simple_keys("$.['a b'].[0]") == ("a b", 0)
    assert paths.set_at({}, "$.['a b']", 1) == {"a b": 1}


def machine(**states: dict) -> dict:
    return {"StartAt": next(iter(states)), "States": states}


def pass_state(**fields: object) -> dict:
    return {"Type": "Pass", "End": True, **fields}


@pytest.mark.parametrize("state", [
    pass_state(InputPath="$.[?(@.OU > 0)]"),
    pass_state(OutputPath="$.items[?(@.price < 10 && @.status == 'ok')].name"),
    pass_state(Parameters={"a.$": "$..book[?(@.isbn)]", "b.$": "$$.Execution.Input[?(@.x =~ /a.*/i)]"}),
    pass_state(Parameters={"a.$": "States.JsonToString($.[?(@.year <= 1998)])"}),
    {"Type": "Map", "End": True, "ItemsPath": "$.accounts[?(@.OU > 0)]",
     "ItemProcessor": {"StartAt": "P", "States": {"P": pass_state()}},
     "ResultSelector": {"ous.$": "$[?(@.OU > 1 || @.OU == 1)]"}},
])
def test_valid_filter_paths_validate(state: dict) -> None:
    assert validate(machine(A=state), "m.asl.json") == []


@pytest.mark.parametrize("state,pointer,words", [
    (pass_state(InputPath="$.a[?(@.x = 1)]"), "/States/A/InputPath", "'=' is not a filter operator"),
    (pass_state(OutputPath="$.a | $.b"), "/States/A/OutputPath", "'|' (union) is jsonpath-ng syntax"),
    (pass_state(OutputPath="$.a where b"), "/States/A/OutputPath", "'where' is jsonpath-ng syntax"),
    (pass_state(InputPath="$.a[*].b + 1"), "/States/A/InputPath", "arithmetic is jsonpath-ng syntax"),
    (pass_state(OutputPath="$.a[?(@.x =~ /[a/)]"), "/States/A/OutputPath", "invalid regular expression"),
    (pass_state(OutputPath="$.a[?(@.x =~ /a/q)]"), "/States/A/OutputPath", "flag"),
    (pass_state(Parameters={"a.$": "$.a[?(@.x in ['a'])]"}), "/States/A/Parameters/a.$",
     "filter operator 'in' is not supported"),
    (pass_state(Parameters={"a.$": "States.JsonToString($.a[?(@.x == )])"}), "/States/A/Parameters/a.$",
     "not a valid JSONPath"),
    (pass_state(Parameters={"a.$": "$.list.length()"}), "/States/A/Parameters/a.$", "length()"),
    *[(pass_state(Parameters={"a.$": f"$.a[?(@.x {word} ['a'])]"}), "/States/A/Parameters/a.$",
       f"filter operator '{word}' is not supported")
      for word in ("nin", "subsetof", "anyof", "noneof", "size", "empty")],
    (pass_state(ResultPath="$.a[?(@.x)]"), "/States/A/ResultPath", "Reference Path"),
    ({"Type": "Map", "End": True, "ItemsPath": "$.a[?(@.x",
      "ItemProcessor": {"StartAt": "P", "States": {"P": pass_state()}}}, "/States/A/ItemsPath", "JSONPath"),
])
def test_invalid_paths_are_reported_at_their_pointer(state: dict, pointer: str, words: str) -> None:
    found = validate(machine(A=state), "m.asl.json")
    assert any(p.startswith(f"m.asl.json:{pointer}: ") and words in p for p in found), found


def test_machine_with_filters_runs() -> None:
    doc = machine(
        Select={"Type": "Pass", "InputPath": "$.accounts[?(@.OU > 0)]", "Parameters": {
            "active.$": "$[?(@.state == 'ACTIVE')]",
            "names.$": "States.JsonToString($.[?(@.OU > 1)].name)"}, "Next": "Each"},
        Each={"Type": "Map", "ItemsPath": "$.active[?(@.name =~ /^a.*/i)]",
              "ItemSelector": {"id.$": "$$.Map.Item.Value.name", "OU.$": "$$.Map.Item.Value.OU",
                               "beta.$": "$$.Execution.Input.accounts[?(@.name == 'beta')].OU"},
              "ItemProcessor": {"StartAt": "Tag", "States": {"Tag": pass_state()}},
              "ResultSelector": {"big.$": "$.[?(@.OU > 1)]", "small.$": "$[?(@.OU < 2)].id"},
              "ResultPath": "$.picked", "OutputPath": "$.picked[?(@.small)]", "End": True},
    )
    accounts = [{"name": "alpha", "OU": 2, "state": "ACTIVE"}, {"name": "beta", "OU": 3, "state": "ACTIVE"},
                {"name": "Apex", "OU": 1, "state": "ACTIVE"}, {"name": "azure", "OU": 0, "state": "ACTIVE"},
                {"name": "atlas", "OU": 5, "state": "SUSPENDED"}]
    result = run(doc, {"accounts": accounts})
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == [{"big": [{"id": "alpha", "OU": 2, "beta": [3]}], "small": ["Apex"]}]


def test_filter_selecting_nothing_gives_an_empty_map() -> None:
    doc = machine(M={"Type": "Map", "ItemsPath": "$.items[?(@.x > 10)]", "End": True,
                     "ItemProcessor": {"StartAt": "P", "States": {"P": pass_state()}}})
    assert run(doc, {"items": [{"x": 1}]})["output"] == []
