"""Kit pages: the board (kits in columns by status, filters, moving a kit, a new kit with its
items) and a kit's page (fulfil oldest or soonest-expiring first, issue by scan, move back, stage, pick list,
deliver, complete). Every action calls the same service function as the GraphQL mutation and
is guarded by the same permission (security.permissions); docs/web.md describes the pages.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.domain.errors import BadInput, KitwrightError
from kitwright.domain.kits import PartKitStatus
from kitwright.services import kits, scan, views
from kitwright.services.actor import actor_of
from kitwright.services.uow import UnitOfWork
from kitwright.web.common import (
    Runner,
    flash,
    is_htmx,
    optional_int,
    page,
    plain,
    quantity,
    read_form,
    read_form_lists,
    redirect,
    required_int,
)

STATUSES = list(PartKitStatus)
NEW_KIT_ROWS = 6


def board_filters(params: dict[str, str], actor_id: int | None) -> dict[str, dict[str, Any]]:
    filters: dict[str, dict[str, Any]] = {}
    if params.get("mine") and actor_id is not None:
        filters["assignedToId"] = {"eq": actor_id}
    else:
        assignee = optional_int(params.get("assignedToId"), "The assignee", "assignedToId")
        if assignee is not None:
            filters["assignedToId"] = {"eq": assignee}
    run = optional_int(params.get("runId"), "The run", "runId")
    if run is not None:
        filters["runId"] = {"eq": run}
    location = optional_int(params.get("locationId"), "The location", "locationId")
    if location is not None:
        filters["currentLocationId"] = {"eq": location}
    if params.get("status") in {s.value for s in STATUSES}:
        filters["status"] = {"eq": params["status"]}
    return filters


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    run = Runner(sessions)

    # ------------------------------------------------------------------ board

    async def board(request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        actor = actor_of(request.scope)

        def load(session: Session) -> dict[str, Any]:
            return {
                "columns": views.kit_board(session, board_filters(params, actor.id)),
                "users": views.user_choices(session), "locations": views.location_choices(session),
            }

        try:
            data = await run.read(load)
        except KitwrightError as error:
            return page(request, "error.html", status=400, message=plain(error))
        shown = [s for s in STATUSES if not params.get("status") or s.value == params["status"]]
        return page(request, "kits.html", params=params, statuses=STATUSES, shown=shown, **data)

    async def new_kit_form(request: Request, *, status: int = 200, message: str | None = None,
                           values: dict[str, list[str]] | None = None, field: str | None = None) -> Response:
        def load(session: Session) -> dict[str, Any]:
            return {"parts": views.part_choices(session), "users": views.user_choices(session),
                    "locations": views.location_choices(session)}

        data = await run.read(load)
        return page(request, "kit_new.html", status=status, message=message, values=values or {},
                    rows=NEW_KIT_ROWS, field=field, **data)

    async def new_kit_page(request: Request) -> Response:
        return await new_kit_form(request)

    async def create_kit(request: Request) -> Response:
        form = await read_form_lists(request)

        def one(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        lines: list[int] = []  # the form line of each item sent to the service
        try:
            items: list[tuple[int, object]] = []
            parts, amounts = form.get("partId", []), form.get("quantity", [])
            for index, (part, amount) in enumerate(zip(parts, amounts, strict=False)):
                if not part.strip() and not amount.strip():
                    continue
                lines.append(index)
                part_id = required_int(part, f"a part on line {index + 1}", f"items[{index}].partId")
                if not amount.strip():
                    raise BadInput(f"Enter a quantity on line {index + 1}", field=f"items[{index}].quantity")
                items.append((part_id, amount.strip()))
            if not items:
                raise BadInput("Add at least one item: a part and a quantity", field="items")
            status = one("status") or "DRAFT"
            if status not in ("DRAFT", "REQUESTED"):
                raise BadInput("A new kit is a draft or requested", field="status")
            values = {
                "assigned_to_id": optional_int(one("assignedToId"), "The assignee", "assignedToId"),
                "staging_location_id": optional_int(one("stagingLocationId"), "The staging location",
                                                    "stagingLocationId"),
                "delivery_location_id": optional_int(one("deliveryLocationId"), "The delivery location",
                                                     "deliveryLocationId"),
                "priority": optional_int(one("priority"), "The priority", "priority"),
                "run_id": optional_int(one("runId"), "The run", "runId"),
            }

            def create(uow: UnitOfWork) -> int:
                return kits.create_part_kit(uow, status=status, items=items, **values).id

            kit_id = await run.write(request, create)
        except KitwrightError as error:
            at = re.match(r"items\[(\d+)\](\..+)$", error.field or "")
            if at and int(at[1]) < len(lines):
                error.field = f"items[{lines[int(at[1])]}]{at[2]}"
            return await new_kit_form(request, status=400, message=plain(error), values=form, field=error.field)
        flash(request, f"Kit {kit_id} created with {len(items)} item{'s' if len(items) != 1 else ''}.")
        return redirect(f"/kits/{kit_id}")

    # ------------------------------------------------------------------ kit page

    async def kit_page(request: Request) -> Response:
        kit_id = int(request.path_params["id"])

        def load(session: Session) -> dict[str, Any]:
            return {"view": views.kit_view(session, kit_id), "parts": views.part_choices(session),
                    "locations": views.location_choices(session)}

        try:
            data = await run.read(load)
        except KitwrightError as error:
            return page(request, "error.html", status=404, message=plain(error))
        return page(request, "kit.html", statuses=STATUSES, **data)

    async def act(request: Request, work: Any, done: Any) -> Response:
        """Run one action on a kit, then back to its page with one message."""
        kit_id = int(request.path_params["id"])
        form = await read_form(request)
        try:
            result = await run.write(request, lambda uow: work(uow, kit_id, form))
        except KitwrightError as error:
            flash(request, plain(error), "error")
        else:
            flash(request, done(result) if callable(done) else done)
        return redirect(f"/kits/{kit_id}")

    async def set_status(request: Request) -> Response:
        kit_id = int(request.path_params["id"])
        form = await read_form(request)
        target = form.get("status", "")
        back = form.get("back") if form.get("back") in ("board",) else None
        try:
            if target not in {s.value for s in STATUSES}:
                raise BadInput("Choose a status", field="status")
            await run.write(request, lambda uow: kits.update_part_kit(
                uow, kit_id, form.get("etag", ""), {"status": target}).id)
        except KitwrightError as error:
            flash(request, plain(error), "error")
        else:
            words = {"DELIVERED": "delivered: its inventory moved to the delivery location",
                     "COMPLETED": "completed: what it still held is released where it stands",
                     "CANCELED": "canceled: what it held is available again where it stands"}
            flash(request, f"Kit {kit_id} " + words.get(target, f"is now {target.replace('_', ' ').lower()}") + ".")
        return redirect("/kits" if back == "board" else f"/kits/{kit_id}")

    async def fulfil(request: Request) -> Response:
        def work(uow: UnitOfWork, kit_id: int, form: dict[str, str]) -> str:
            source = optional_int(form.get("sourceLocationId"), "The source location", "sourceLocationId")
            result = kits.fulfill_part_kit(uow, id=kit_id, source_location_id=source)
            issued = len(result.issued)
            text = (f"Issued {issued} record{'s' if issued != 1 else ''}, oldest or soonest-expiring first."
                    if issued else "Nothing available to issue.")
            if result.shortages:
                numbers = views.part_numbers(uow.session, (s.part_id for s in result.shortages))
                short = "; ".join(f"{numbers.get(s.part_id, s.part_id)} needs {quantity(s.quantity)} more"
                                  for s in result.shortages)
                text += f" Short: {short}."
            return text

        return await act(request, work, lambda text: text)

    async def add_item(request: Request) -> Response:
        def work(uow: UnitOfWork, kit_id: int, form: dict[str, str]) -> int:
            part = required_int(form.get("partId"), "a part", "partId")
            return kits.create_part_kit_item(uow, part_kit_id=kit_id, part_id=part,
                                             quantity=form.get("quantity", "").strip()).id

        return await act(request, work, lambda item_id: f"Item {item_id} added.")

    async def move_back(request: Request) -> Response:
        def work(uow: UnitOfWork, kit_id: int, form: dict[str, str]) -> str:
            record = required_int(form.get("partInventoryId"), "a record", "partInventoryId")
            item = required_int(form.get("partKitItemId"), "a kit item", "partKitItemId")
            if kits.get_part_kit_item(uow.session, item).part_kit_id != kit_id:
                raise BadInput("That item belongs to another kit", field="partKitItemId")
            amount = form.get("quantity", "").strip() or None
            stock = kits.move_item_to_inventory(
                uow, part_inventory_id=record, part_kit_item_id=item, quantity=amount,
                location_id=optional_int(form.get("locationId"), "The location", "locationId"),
            )
            return f"Moved {quantity(stock.quantity)} of record {stock.id} back to inventory."

        return await act(request, work, lambda text: text)

    async def stage(request: Request) -> Response:
        def work(uow: UnitOfWork, kit_id: int, form: dict[str, str]) -> str:
            where = required_int(form.get("locationId"), "where to stage", "locationId")
            kits.stage_part_kit_inventory(uow, id=kit_id, location_id=where)
            return f"Staged: the kit's inventory is now at {views.location_names(uow.session, [where])[where]}."

        return await act(request, work, lambda text: text)

    async def scan_issue(request: Request) -> Response:
        kit_id = int(request.path_params["id"])
        form = await read_form(request)
        code = form.get("code", "")
        amount = form.get("quantity", "").strip() or None
        ok = True
        try:
            text = await run.write(request, lambda uow: _scan_message(
                scan.issue_scanned(uow, kit_id=kit_id, code=code, quantity=amount)))
        except KitwrightError as error:
            ok, text = False, plain(error)
            cleaned = code.strip()
            if cleaned and cleaned not in text:
                # The box is empty again after a scan: say which code the message is about.
                text = f"“{cleaned[:200]}”: {text}"
        if not is_htmx(request):
            flash(request, text, "ok" if ok else "error")
            return redirect(f"/kits/{kit_id}#scan")
        view = await run.read(lambda s: views.kit_view(s, kit_id))
        return page(request, "kit_scanned.html", ok=ok, text=text, view=view, statuses=STATUSES,
                    locations=await run.read(views.location_choices))

    async def pick_list(request: Request) -> Response:
        kit_id = int(request.path_params["id"])

        def load(session: Session) -> dict[str, Any]:
            view = views.kit_view(session, kit_id)
            return {"view": view, "lines": kits.pick_list(session, kit_id),
                    "numbers": {line.item.id: line.part_number for line in view.lines}}

        try:
            data = await run.read(load)
        except KitwrightError as error:
            return page(request, "error.html", status=404, message=plain(error))
        return page(request, "pick_list.html", **data)

    return [
        Route("/kits", board, methods=["GET"]),
        Route("/kits", create_kit, methods=["POST"]),
        Route("/kits/new", new_kit_page, methods=["GET"]),
        Route("/kits/{id:int}", kit_page, methods=["GET"]),
        Route("/kits/{id:int}/status", set_status, methods=["POST"]),
        Route("/kits/{id:int}/fulfil", fulfil, methods=["POST"]),
        Route("/kits/{id:int}/items", add_item, methods=["POST"]),
        Route("/kits/{id:int}/scan", scan_issue, methods=["POST"]),
        Route("/kits/{id:int}/return", move_back, methods=["POST"]),
        Route("/kits/{id:int}/stage", stage, methods=["POST"]),
        Route("/kits/{id:int}/pick-list", pick_list, methods=["GET"]),
    ]


def _scan_message(result: scan.ScanResult) -> str:
    record = result.record
    what = (f"serial {record.serial_number}" if record.serial_number
            else f"{quantity(record.quantity)} of lot {record.lot_number}" if record.lot_number
            else f"{quantity(record.quantity)}")
    return f"Issued {result.part_number} {what} to the kit."
