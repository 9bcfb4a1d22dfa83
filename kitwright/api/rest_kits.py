"""REST: a kit's pick list as CSV (GET /api/kits/{id}/pick-list.csv)."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.api.rest import bad_request, error_response
from kitwright.domain.errors import KitwrightError, NotFound
from kitwright.domain.limits import MAX_ID
from kitwright.domain.quantities import normalize
from kitwright.domain.text import csv_cell
from kitwright.services import kits

PICK_LIST_COLUMNS = (
    "part_kit_id", "part_kit_item_id", "location", "part_number", "part_inventory_id",
    "serial_number", "lot_number", "quantity",
)


def pick_list_csv(session: Session, kit_id: int) -> str:
    kit = kits.get_part_kit(session, kit_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PICK_LIST_COLUMNS)
    for line in kits.pick_list(session, kit.id):
        writer.writerow([csv_cell(cell) for cell in (
            kit.id, line.item_id or "", line.location_name or "", line.part_number, line.record_id,
            line.serial_number or "", line.lot_number or "", format(normalize(line.quantity), "f"),
        )])
    return out.getvalue()


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    async def pick_list(request: Request) -> Response:
        raw = request.path_params["id"]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
            return bad_request("id must be an integer", field="id")
        if int(raw) > MAX_ID:
            return error_response(NotFound(f"kit {raw} does not exist", field="id"))

        def build() -> str:
            with sessions() as session:
                return pick_list_csv(session, int(raw))

        try:
            text = await run_in_threadpool(build)
        except KitwrightError as error:
            return error_response(error)
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="kit-{raw}-pick-list.csv"'})

    return [Route("/api/kits/{id}/pick-list.csv", pick_list, methods=["GET"])]
