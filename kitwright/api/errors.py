"""Errors on the wire: the standard `errors` array with `extensions.code` (docs/api.md, "Errors").

Domain errors keep their code, field and details. GraphQL syntax and validation errors are the
client's: BAD_USER_INPUT, with the offending field named where graphql-core's message says it.
Anything else is our bug: logged with its traceback, answered without one.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError

from kitwright.api.rest import extensions_of
from kitwright.domain.errors import KitwrightError

log = logging.getLogger("kitwright.api")

_AT_PATH = re.compile(r"at '([^']+)'|invalid value at \.?([\w.\[\]]+):")
_FIELD = re.compile(r"[Ff]ield '([^']+)'")
_ARGUMENT = re.compile(r"[Aa]rgument '([^']+)'")
_VARIABLE = re.compile(r"Variable '\$([^']+)'")


def _field_from_message(message: str) -> str | None:
    for pattern in (_AT_PATH, _FIELD, _ARGUMENT, _VARIABLE):
        match = pattern.search(message)
        if match:
            # 'input.quantity' -> 'quantity'; 'Query.partInventory' -> 'partInventory'
            found = next(group for group in match.groups() if group)
            return found.split(".")[-1].split("[")[0]
    return None


def format_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    body: dict[str, Any] = {"message": error.message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    if isinstance(original, KitwrightError):
        body["message"] = original.message
        extensions: dict[str, Any] = extensions_of(original)
    elif original is None or not error.path:
        # Raised before execution (syntax, validation, variable coercion): the client's input.
        extensions = {"code": "BAD_USER_INPUT"}
        field = _field_from_message(error.message)
        if field:
            extensions["field"] = field
    else:
        log.error("unexpected error", exc_info=original)
        body["message"] = "Internal error: the request could not be completed"
        extensions = {"code": "INTERNAL_SERVER_ERROR"}
    body["extensions"] = extensions
    return body
