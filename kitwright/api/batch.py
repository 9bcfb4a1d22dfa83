"""One GraphQL operation of a request body, and JSON-array batches of them.

ION's importer scripts POST a JSON array of `{query, variables, operationName}` objects and
read one result per operation, in order. Here every operation of a batch runs on its own, in
its own transaction, in the order sent: a refused operation is answered with its own
`errors` and does not undo the ones before it, as ION answers them (docs/ion-compatibility.md).
Each operation counts as one request against the rate limit, and each is checked against the
same depth, token and alias limits as a lone request.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kitwright.domain.errors import BadInput

DEFAULT_BATCH_LIMIT = 100


def batch_limit() -> int:
    """Most operations in one batch: KITWRIGHT_BATCH_LIMIT, default 100."""
    value = os.environ.get("KITWRIGHT_BATCH_LIMIT", "").strip()
    if not value:
        return DEFAULT_BATCH_LIMIT
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ValueError("KITWRIGHT_BATCH_LIMIT must be a positive whole number")
    return int(value)


@dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


def read_operation(item: object, where: str = "the request body") -> Operation:
    """The operation of one JSON object, or BadInput saying what is wrong with it."""
    if not isinstance(item, dict):
        raise BadInput(f"{where} must be a JSON object (or, for a batch, an array of them)")
    query = item.get("query")
    variables = item.get("variables")
    operation_name = item.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise BadInput(f"query of {where} must be a non-empty string", field="query")
    if variables is not None and not isinstance(variables, dict):
        raise BadInput(f"variables of {where} must be a JSON object", field="variables")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadInput(f"operationName of {where} must be a string", field="operationName")
    return Operation(query, variables, operation_name)


def check_batch_size(items: list[Any], limit: int) -> None:
    """An empty batch or one over the cap is refused whole, before anything runs."""
    if not items:
        raise BadInput("an empty batch: send at least one operation")
    if len(items) > limit:
        raise BadInput(
            f"a batch holds at most {limit} operations; this one has {len(items)} "
            "(split it, or raise KITWRIGHT_BATCH_LIMIT)"
        )


def run_batch(items: list[Any], execute: Callable[[Operation], dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per item, in order; a malformed item gets its own error and the rest still run."""
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            operation = read_operation(item, where=f"operation [{index}]")
        except BadInput as error:
            extensions: dict[str, Any] = {"code": error.code}
            if error.field:
                extensions["field"] = error.field
            results.append({"data": None, "errors": [{"message": error.message, "extensions": extensions}]})
            continue
        results.append(execute(operation))
    return results
