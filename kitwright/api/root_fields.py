"""Checks that run once per root field (Query.x, Mutation.x), not once per field.

A schema extension's `resolve` hook runs for every field of the answer: on a page of 50
records that is over 500 calls, and it also turns off the executor's fast path for plain
attribute fields. The request-wide checks (who may call a root field, the deadline) only act
on root fields, so they wrap those resolvers instead, once per schema (docs/security.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema, default_field_resolver

Check = Callable[[GraphQLResolveInfo[Any]], None]

_LOCK = threading.Lock()
# (id of the schema, name of the check) -> the schema, kept so its id is not reused.
_WRAPPED: dict[tuple[int, str], GraphQLSchema] = {}


def check_root_fields(schema: GraphQLSchema, name: str, check: Check) -> None:
    """Make every root field of `schema` call `check(info)` before its resolver; idempotent
    (extensions call it on every operation, it wraps once)."""
    key = (id(schema), name)
    if _WRAPPED.get(key) is schema:
        return
    with _LOCK:
        if _WRAPPED.get(key) is schema:
            return
        for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
            if root is None:
                continue
            for field in root.fields.values():
                field.resolve = _checked(field.resolve or default_field_resolver, check)
        _WRAPPED[key] = schema


def _checked(resolve: Callable[..., Any], check: Check) -> Callable[..., Any]:
    def checked(root: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        check(info)
        return resolve(root, info, **kwargs)

    return checked
