"""The GraphQL schema: every resource module contributes its Query and Mutation fields."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from kitwright.api import (
    actions,
    availability,
    availability_changes,
    bom,
    catalog,
    imports,
    inventory,
    kanban,
    kits,
    locations,
    orders,
    parts,
    runs,
    security,
)
from kitwright.api.authorization import Authorization
from kitwright.api.execution import ShortcutExecutionContext, call_simple_resolvers
from kitwright.api.limits import Deadline, QueryCache, QueryCost, document_cache
from kitwright.api.scalars import SCALARS
from kitwright.domain.errors import KitwrightError

log = logging.getLogger("kitwright.api")

QUERIES: list[type[Any]] = [parts.Query, locations.Query, catalog.Query, inventory.Query]
MUTATIONS: list[type[Any]] = [parts.Mutation, locations.Mutation, catalog.Mutation, inventory.Mutation]
QUERIES.append(availability.Query)
MUTATIONS.append(availability.Mutation)
QUERIES.append(availability_changes.Query)
QUERIES.append(kits.Query)
MUTATIONS.append(kits.Mutation)
QUERIES.append(security.Query)
QUERIES.extend([runs.Query, bom.Query])
MUTATIONS.extend([runs.Mutation, bom.Mutation])
QUERIES.append(kanban.Query)
MUTATIONS.append(kanban.Mutation)
QUERIES.append(orders.Query)
MUTATIONS.append(orders.Mutation)
MUTATIONS.append(imports.Mutation)
QUERIES.append(actions.Query)
MUTATIONS.append(actions.Mutation)

MAX_DEPTH = 12
MAX_TOKENS = 5000
MAX_ALIASES = 50
# Parsed documents and validation results of every request, bounded by bytes (api.limits).
DOCUMENTS = document_cache()
TEXT_RULES = (depth_rule(MAX_DEPTH, None, None), aliases_rule(MAX_ALIASES))


class KitwrightSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Refusals of bad input are answers, not incidents: only log our own failures.
        for error in errors:
            original = error.original_error
            if original is not None and error.path and not isinstance(original, KitwrightError):
                log.error("error while executing %s", error.path, exc_info=original)


def build_schema() -> strawberry.Schema:
    query = merge_types("Query", tuple(QUERIES))
    mutation = merge_types("Mutation", tuple(MUTATIONS))
    return KitwrightSchema(
        query=query,
        mutation=mutation,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=ShortcutExecutionContext,  # shorter paths for plain fields (api.execution)
        extensions=[
            Authorization,  # every root field checked against security.permissions (api.root_fields)
            # Scripts send the same query texts again and again: parse and validate each once
            # (about 6.5 ms of a 10 ms page, bench/README.md), in one LRU bounded by bytes,
            # with the limits on tokens, depth and aliases where it misses.
            lambda: QueryCache(DOCUMENTS, max_tokens=MAX_TOKENS, rules=TEXT_RULES),
            QueryCost,  # refuses costly queries before they run (docs/security.md)
            Deadline,
        ],
    )


schema = build_schema()
call_simple_resolvers(schema._schema, schema.config.info_class)
