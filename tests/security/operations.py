"""Minimal valid operations for every root field, generated from the schema itself."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
    is_composite_type,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kitwright.api.schema import schema
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import Base

SCALAR_VALUES: dict[str, Any] = {
    "ID": "1", "String": "x", "Int": 1, "Float": 1.0, "Boolean": False, "Decimal": 1,
    "Date": "2026-01-01", "DateTime": "2026-01-01T00:00:00+00:00", "JSONObject": {},
}


class NoValue(Exception):
    """A required argument has no JSON value (a file upload): test through the extension."""


def value_for(type_: Any) -> Any:
    if isinstance(type_, GraphQLNonNull):
        return value_for(type_.of_type)
    if isinstance(type_, GraphQLList):
        return []
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: value_for(field.type) for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    if isinstance(type_, GraphQLScalarType) and type_.name in SCALAR_VALUES:
        return SCALAR_VALUES[type_.name]
    raise NoValue(str(type_))


def root_fields() -> list[tuple[str, str]]:
    graphql_schema = schema._schema
    found: list[tuple[str, str]] = []
    for kind, root in (("query", graphql_schema.query_type), ("mutation", graphql_schema.mutation_type)):
        assert isinstance(root, GraphQLObjectType)
        found.extend((kind, name) for name in root.fields)
    return found


def operation(kind: str, field_name: str) -> tuple[str, dict[str, Any]]:
    """`query Op($id: ID!) { partInventory(id: $id) { __typename } }` and its variables."""
    graphql_schema = schema._schema
    root = graphql_schema.query_type if kind == "query" else graphql_schema.mutation_type
    assert root is not None
    field = root.fields[field_name]
    variables: dict[str, Any] = {}
    definitions: list[str] = []
    arguments: list[str] = []
    for name, argument in field.args.items():
        if isinstance(argument.type, GraphQLNonNull) and argument.default_value is Undefined:
            variables[name] = value_for(argument.type)
            definitions.append(f"${name}: {argument.type}")
            arguments.append(f"{name}: ${name}")
    head = f"{kind} Op({', '.join(definitions)})" if definitions else f"{kind} Op"
    call = f"{field_name}({', '.join(arguments)})" if arguments else field_name
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    return f"{head} {{ {call}{selection} }}", variables


def row_counts(engine: Engine) -> dict[str, int]:
    with make_sessionmaker(engine)() as session:
        return _counts(session)


def _counts(session: Session) -> dict[str, int]:
    return {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
        if table.name not in BOOKKEEPING
    }


# Written by every request, not by the operations under test: rate-limit buckets and sessions.
BOOKKEEPING = frozenset({"rate_limit_bucket", "web_session"})
