"""`POST /api/items`: the Manhattan item document defines a kit by part numbers.

Body: `{"ItemId": "ItemA", "ItemComponent": [{"ComponentItemId": "ItemB", "ComponentQty": 4}]}`
(ComponentQty is a composition of whole kits: 4/2/2 → ratios 2/1/1; see services.items).
Answers 200 (kit redefined) or 201 (kit item created) with the saved ratios; errors use the
GraphQL error shape `{"errors": [{"message", "extensions": {"code", "field", "details"}}]}`
with HTTP 400 (BAD_USER_INPUT), 404 (NOT_FOUND) or 409 (CONFLICT). Never a 500 for input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.api.rest import BodyRejected, error_response, json_response, read_json
from kitwright.domain.errors import BadInput, KitwrightError, Problems
from kitwright.domain.quantities import normalize
from kitwright.services.actor import Actor, actor_of
from kitwright.services.items import save_item_document
from kitwright.services.uow import UnitOfWork

log = logging.getLogger("kitwright.api")

MAX_COMPONENTS = 1000
def parse_document(payload: object) -> tuple[str, list[tuple[str, Decimal]]]:
    """Check the document's shape, naming every bad field at once."""
    if not isinstance(payload, dict):
        raise BadInput("the body must be a JSON object")
    problems = Problems()
    item_id = payload.get("ItemId")
    if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > 200:
        problems.add("ItemId must be a non-empty text of at most 200 characters", field="ItemId")
    rows = payload.get("ItemComponent")
    components: list[tuple[str, Decimal]] = []
    if not isinstance(rows, list) or not rows:
        problems.add("ItemComponent must be a non-empty list", field="ItemComponent")
        rows = []
    elif len(rows) > MAX_COMPONENTS:
        problems.add(f"at most {MAX_COMPONENTS} components", field="ItemComponent")
        rows = []
    for index, row in enumerate(rows):
        where = f"ItemComponent[{index}]"
        if not isinstance(row, dict):
            problems.add("must be an object", field=where)
            continue
        number = row.get("ComponentItemId")
        quantity = row.get("ComponentQty")
        if not isinstance(number, str) or not number.strip() or len(number) > 200:
            problems.add("must be a non-empty item id", field=f"{where}.ComponentItemId")
        if isinstance(quantity, bool) or not isinstance(quantity, (int, Decimal)):
            problems.add("must be a number", field=f"{where}.ComponentQty")
        elif isinstance(number, str):
            components.append((number.strip(), Decimal(quantity)))
    problems.raise_if_any()
    assert isinstance(item_id, str)
    return item_id.strip(), components


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    def save(payload: object, actor: Actor) -> tuple[dict[str, Any], int]:
        item_id, components = parse_document(payload)
        with sessions() as session, UnitOfWork(session, actor) as uow:
            saved = save_item_document(uow, item_id, components)
            body = {
                "ItemId": saved.part.part_number,
                "PartId": saved.part.id,
                "Revision": saved.part.revision,
                "Kits": saved.kits,
                "ItemComponent": [
                    {"ComponentItemId": number, "PartId": row.component_part_id, "Ratio": normalize(row.quantity)}
                    for row, number in saved.components
                ],
            }
            return body, 201 if saved.created else 200

    async def post_item(request: Request) -> Response:
        try:
            payload = await read_json(request)
        except BodyRejected as rejected:
            return rejected.response
        handler: Callable[[object, Actor], tuple[dict[str, Any], int]] = save
        try:
            # Authentication and the route's permission are checked by the app's middleware.
            result, status = await run_in_threadpool(handler, payload, actor_of(request.scope))
        except KitwrightError as error:
            return error_response(error)
        except Exception:
            log.exception("POST /api/items failed")
            return json_response({"errors": [{"message": "Internal error: the request could not be completed",
                                      "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}, 500)
        return json_response(result, status)

    return [Route("/api/items", post_item, methods=["POST"])]
