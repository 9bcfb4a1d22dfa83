"""Pages: home, the inventory list (searchable, filtered, paged), a record's page with its whole
history, a part's page with its stock, and the static files (htmx, the style sheet).

Every page reads through the services (services.inventory, services.views, services.ledger),
never the database directly. The kit pages are in web.kits, retail availability in
web.availability; docs/web.md describes them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from kitwright.domain.errors import KitwrightError
from kitwright.domain.status import PartInventoryStatus
from kitwright.services import inventory, views, views_more
from kitwright.store.queries import PageRequest
from kitwright.web.common import Runner, optional_int, page, plain, templates

__all__ = ["routes", "templates"]

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"htmx.min.js": "text/javascript", "kitwright.css": "text/css", "kitwright.js": "text/javascript"}
PAGE_SIZE = 50
STATUSES = [s.value for s in PartInventoryStatus]


def inventory_filters(params: dict[str, str]) -> dict[str, dict[str, Any]]:
    filters: dict[str, dict[str, Any]] = {}
    if params.get("partNumber"):
        filters["partNumber"] = {"startsWith": params["partNumber"].strip()[:200]}
    if params.get("serialNumber"):
        filters["serialNumber"] = {"startsWith": params["serialNumber"].strip()[:200]}
    if params.get("lotNumber"):
        filters["lotNumber"] = {"startsWith": params["lotNumber"].strip()[:200]}
    if params.get("status") in STATUSES:
        filters["status"] = {"eq": params["status"]}
    location = optional_int(params.get("locationId"), "The location", "locationId")
    if location is not None:
        filters["locationId"] = {"eq": location}
    part = optional_int(params.get("partId"), "The part", "partId")
    if part is not None:
        filters["partId"] = {"eq": part}
    return filters


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    run = Runner(sessions)

    async def home(request: Request) -> Response:
        return page(request, "home.html", counts=await run.read(views.counts))

    async def inventory_page(request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}

        def load(session: Session) -> dict[str, Any]:
            result = inventory.list_part_inventories(
                session, inventory_filters(params), ["CREATED_AT_DESC"],
                PageRequest(first=PAGE_SIZE, after=params.get("after") or None),
            )
            rows = list(result.rows)
            return {
                "rows": rows, "names": views.location_names(session, (r.location_id for r in rows)),
                "total": result.count_total(), "locations": views.location_choices(session),
                "next": result.cursor(len(rows) - 1) if result.has_next_page and rows else None,
            }

        try:
            data = await run.read(load)
        except KitwrightError as error:
            return page(request, "error.html", status=400, message=plain(error))
        keep = {k: v for k, v in params.items() if k != "after" and v}
        return page(request, "inventory.html", params=params, keep=keep, statuses=STATUSES, **data)

    async def record_page(request: Request) -> Response:
        record_id = int(request.path_params["id"])
        try:
            view = await run.read(lambda s: views.record_view(s, record_id))
        except KitwrightError as error:
            return page(request, "error.html", status=404, message=plain(error))
        return page(request, "record.html", view=view)

    async def history_page(request: Request) -> Response:
        # The record's page holds its whole history; the old address still works.
        from kitwright.web.common import redirect

        return redirect(f"/inventory/{int(request.path_params['id'])}#history")

    async def part_page(request: Request) -> Response:
        part_id = int(request.path_params["id"])
        try:
            view, build = await run.read(lambda s: (views.part_view(s, part_id), views_more.part_build(s, part_id)))
        except KitwrightError as error:
            return page(request, "error.html", status=404, message=plain(error))
        return page(request, "part.html", view=view, build=build)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name],
                            headers={"Cache-Control": "public, max-age=3600"})

    return [
        Route("/", home),
        Route("/inventory", inventory_page),
        Route("/inventory/{id:int}", record_page),
        Route("/inventory/{id:int}/history", history_page),
        Route("/parts/{id:int}", part_page),
        Route("/static/{name}", static),
    ]
