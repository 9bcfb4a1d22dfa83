"""`POST /api/order-events`: the Manhattan order-event document (docs/retail-orders.md).

Body: `{"ExternalMessageId": "…", "OrderEvent": [{"EventTypeId": "Ship", "OrderId", "OrderLineId",
"ReleaseId", "ReleaseLineId", "Item", "Quantity", "ShortReasonId", "FulfillmentInfo":
{"PackageId", …}, "CancelUnfulfilledQuantity"}]}`, items named by part number. The outcome is
the GraphQL mutation's: HTTP 200 with `{processed, duplicate, unprocessedEvents}` whether the
message was processed or stored unprocessed; 4xx only for a document that cannot be read or
names what does not exist (GraphQL error shape). The same ExternalMessageId is processed once.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.api.rest import BodyRejected, error_response, json_response, read_json
from kitwright.domain.errors import BadInput, KitwrightError, Problems
from kitwright.services import orders
from kitwright.services.actor import Actor, actor_of
from kitwright.services.uow import UnitOfWork

log = logging.getLogger("kitwright.api")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError
    text = str(value).strip()
    if len(text) > 250:
        raise ValueError
    return text or None


def parse_document(payload: object) -> tuple[str, list[orders.DocumentEvent]]:
    """Check the document's shape, naming every bad field at once."""
    if not isinstance(payload, dict):
        raise BadInput("the body must be a JSON object")
    problems = Problems()
    rows = payload.get("OrderEvent")
    if not isinstance(rows, list) or not rows:
        raise BadInput("OrderEvent must be a non-empty list", field="OrderEvent")
    if len(rows) > orders.MAX_EVENTS:
        raise BadInput(f"at most {orders.MAX_EVENTS} events", field="OrderEvent")
    message_id = payload.get("ExternalMessageId")
    events: list[orders.DocumentEvent] = []
    for index, row in enumerate(rows):
        where = f"OrderEvent[{index}]"
        if not isinstance(row, dict):
            problems.add("must be an object", field=where)
            continue
        if message_id is None:
            message_id = row.get("ExternalMessageId")
        info = row.get("FulfillmentInfo") or {}
        if not isinstance(info, dict):
            problems.add("must be an object", field=f"{where}.FulfillmentInfo")
            continue
        values: dict[str, str | None] = {}
        for key, source in (("EventTypeId", row), ("Item", row), ("OrderId", row), ("OrderLineId", row),
                            ("ReleaseId", row), ("ReleaseLineId", row), ("ShortReasonId", row),
                            ("PackageId", info)):
            try:
                values[key] = _text(source.get(key))
            except ValueError:
                name = f"{where}.FulfillmentInfo.{key}" if source is info else f"{where}.{key}"
                problems.add("must be a text of at most 250 characters", field=name)
        quantity = row.get("Quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, (int, Decimal)):
            problems.add("must be a number", field=f"{where}.Quantity")
        if not values.get("EventTypeId"):
            problems.add("is required", field=f"{where}.EventTypeId")
        if not values.get("Item"):
            problems.add("is required", field=f"{where}.Item")
        cancel = row.get("CancelUnfulfilledQuantity", False)
        if cancel is not None and not isinstance(cancel, bool):
            problems.add("must be true or false", field=f"{where}.CancelUnfulfilledQuantity")
        if problems:
            continue
        events.append(orders.DocumentEvent(
            event_type=values["EventTypeId"], item=values["Item"], quantity=quantity,
            order_number=values["OrderId"], order_line_number=values["OrderLineId"],
            release_number=values["ReleaseId"], release_line_number=values["ReleaseLineId"],
            package_id=values["PackageId"], short_reason_id=values["ShortReasonId"], cancel_unfulfilled=bool(cancel),
        ))
    try:
        text = _text(message_id)
    except ValueError:
        text = None
    if not text:
        problems.add("ExternalMessageId is required (on the document or its events)", field="ExternalMessageId")
    problems.raise_if_any()
    assert text is not None
    return text, events


def outcome_body(outcome: orders.EventOutcome) -> dict[str, Any]:
    return {
        "ExternalMessageId": outcome.message.external_message_id,
        "processed": outcome.processed,
        "duplicate": outcome.duplicate,
        "invoices": [{"id": i.id, "packageId": i.package_id} for i in outcome.invoices],
        "unprocessedEvents": [
            {"id": e.id, "position": e.position, "eventType": e.event_type, "orderLineId": e.order_line_id,
             "releaseLineId": e.release_line_id, "partId": e.part_id, "quantity": e.quantity,
             "packageId": e.package_id, "shortReasonId": e.short_reason_id,
             "cancelUnfulfilledQuantity": e.cancel_unfulfilled, "reason": e.reason}
            for e in outcome.unprocessed
        ],
    }


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    def process(payload: object, actor: Actor) -> dict[str, Any]:
        message_id, rows = parse_document(payload)
        with sessions() as session:
            events = orders.events_from_document(session, rows)
            with UnitOfWork(session, actor) as uow:
                return outcome_body(orders.process_order_events(uow, message_id, events))

    async def post_events(request: Request) -> Response:
        try:
            payload = await read_json(request)
        except BodyRejected as rejected:
            return rejected.response
        try:
            # Authentication and the route's permission are checked by the app's middleware.
            result = await run_in_threadpool(process, payload, actor_of(request.scope))
        except KitwrightError as error:
            return error_response(error)
        except Exception:
            log.exception("POST /api/order-events failed")
            return json_response({"errors": [{"message": "Internal error: the request could not be completed",
                                              "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}, 500)
        return json_response(result, 200)

    return [Route("/api/order-events", post_events, methods=["POST"])]
