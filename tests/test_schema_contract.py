"""The exported schema: committed, current, and faithful to the storefront's contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)

from schema import schema as gateway_schema

ROOT = Path(__file__).resolve().parent.parent
FIELDED = (GraphQLObjectType, GraphQLInputObjectType)  # the named types that have fields
SHARED_CONTRACT = ROOT.parent / "shared" / "contract" / "schema.graphql"
CONTRACT_COPY = Path(__file__).resolve().parent / "contract" / "schema.graphql"

# Parts of the contract that later issues build; each issue removes its own lines.
NOT_YET_BUILT: set[str] = set()


def contract() -> GraphQLSchema:
    return build_schema(CONTRACT_COPY.read_text())


def exported() -> GraphQLSchema:
    return build_schema(gateway_schema.as_str())


def test_the_committed_schema_file_is_what_the_code_exports():
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "export-schema"],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    committed = (ROOT / "schema.graphql").read_text()
    assert result.stdout == committed, "run `gateway export-schema > schema.graphql` and commit it"


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="no shared/ checkout beside the repo")
def test_the_contract_copy_matches_the_shared_contract():
    assert CONTRACT_COPY.read_text() == SHARED_CONTRACT.read_text()


def _contract_elements(schema: GraphQLSchema):
    for name, gql_type in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        yield name, gql_type


def test_every_built_part_of_the_contract_is_exported_unchanged():
    ours = exported()
    problems = []
    for name, theirs in _contract_elements(contract()):
        if name in NOT_YET_BUILT:
            continue
        mine = ours.type_map.get(name)
        if mine is None:
            problems.append(f"type {name} is missing")
            continue
        if type(mine) is not type(theirs):
            problems.append(f"{name} is a {type(mine).__name__}, not a {type(theirs).__name__}")
            continue
        if isinstance(theirs, GraphQLEnumType) and isinstance(mine, GraphQLEnumType):
            missing = set(theirs.values) - set(mine.values)
            problems += [f"enum value {name}.{v} is missing" for v in sorted(missing)]
        if isinstance(theirs, FIELDED) and isinstance(mine, FIELDED):
            for field_name, field in theirs.fields.items():
                if f"{name}.{field_name}" in NOT_YET_BUILT:
                    continue
                my_field = mine.fields.get(field_name)
                if my_field is None:
                    problems.append(f"field {name}.{field_name} is missing")
                    continue
                if str(my_field.type) != str(field.type):
                    problems.append(f"{name}.{field_name} is {my_field.type}, contract says {field.type}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    my_arg = my_field.args.get(arg_name)
                    if my_arg is None or str(my_arg.type) != str(arg.type) \
                            or my_arg.default_value != arg.default_value:
                        problems.append(f"argument {name}.{field_name}({arg_name}) differs")
            if isinstance(theirs, GraphQLInputObjectType):
                extra_required = [f for f, v in mine.fields.items()
                                  if f not in theirs.fields and str(v.type).endswith("!")]
                problems += [f"input {name}.{f} is new and required" for f in extra_required]
    assert problems == []


def test_the_not_yet_built_list_names_real_contract_parts():  # empty once all is built
    theirs = contract()
    for entry in NOT_YET_BUILT:
        type_name, _, field = entry.partition(".")
        assert type_name in theirs.type_map, entry
        if field:
            named = theirs.type_map[type_name]
            assert isinstance(named, FIELDED) and field in named.fields, entry
