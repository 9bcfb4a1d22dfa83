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
import re
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.api.rest import BodyRejected, error_response, json_response, read_json
from kitwright.domain.errors import BadInput, KitwrightError, Problem, Problems
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
        for key in ("EventTypeId", "Item"):
            if key in values and not values[key]:  # a value that is not a text was named above
                problems.add("is required", field=f"{where}.{key}")
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


# The services name an event's fields as processOrderEvents does; a warehouse reads errors in
# its document's names (docs/retail-orders.md, "Warehouse intake"). Every name the mutation's
# input has, and the document's name for it.
DOCUMENT_NAMES = {
    "externalMessageId": "ExternalMessageId",
    "events": "OrderEvent",
    "eventType": "EventTypeId",
    "partId": "Item",
    "quantity": "Quantity",
    "orderId": "OrderId",
    "orderLineId": "OrderLineId",
    "releaseLineId": "ReleaseLineId",
    "packageId": "FulfillmentInfo.PackageId",
    "shortReasonId": "ShortReasonId",
    "cancelUnfulfilledQuantity": "CancelUnfulfilledQuantity",
}
# `events[3].quantity`, or a bare camelCase input name ("name an orderLineId …"); a plain
# English word ("quantity must be positive") is left alone.
_MUTATION_NAME = re.compile(r"\bevents\[(\d+)\](?:\.(\w+))?|\b(" + "|".join(
    name for name in DOCUMENT_NAMES if name != name.lower()) + r")\b")


def _document_name(match: re.Match[str]) -> str:
    if match[1] is not None:
        event = f"OrderEvent[{match[1]}]"
        return event if match[2] is None else f"{event}.{DOCUMENT_NAMES.get(match[2], match[2])}"
    return DOCUMENT_NAMES[match[3]]


def in_document_terms(error: KitwrightError) -> KitwrightError:
    """The same error, its field, details and message naming the document's fields."""

    def rename(text: str | None) -> str | None:
        if text is None:
            return None
        return DOCUMENT_NAMES.get(text) or _MUTATION_NAME.sub(_document_name, text)

    return type(error)(
        rename(error.message) or "",
        field=rename(error.field),
        details=[Problem(rename(p.message) or "", field=rename(p.field), row=p.row, column=p.column)
                 for p in error.details],
    )


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
                try:
                    return outcome_body(orders.process_order_events(uow, message_id, events))
                except KitwrightError as error:
                    # Only the service speaks the mutation's names; the document's own checks
                    # above already name its fields.
                    raise in_document_terms(error) from None

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
