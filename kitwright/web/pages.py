"""Pages: a home page and the inventory list (filtered, paged) with each record's history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kitwright import __version__
from kitwright.domain.errors import KitwrightError
from kitwright.services import inventory, ledger
from kitwright.store.models import Location, Part, PartInventory
from kitwright.store.queries import MAX_ID, PageRequest

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _render(name: str, status: int = 200, **values: Any) -> Response:
    return HTMLResponse(templates.get_template(name).render(version=__version__, **values), status_code=status)


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    def home_data() -> dict[str, Any]:
        with sessions() as session:
            return {
                "parts": session.scalar(select(func.count()).select_from(Part)),
                "locations": session.scalar(select(func.count()).select_from(Location)),
                "records": session.scalar(select(func.count()).select_from(PartInventory)),
            }

    async def home(request: Request) -> Response:
        return _render("home.html", counts=await run_in_threadpool(home_data))

    def inventory_data(params: dict[str, str]) -> dict[str, Any]:
        filters: dict[str, dict[str, Any]] = {}
        if params.get("partNumber"):
            filters["partNumber"] = {"startsWith": params["partNumber"][:200]}
        if params.get("status"):
            filters["status"] = {"eq": params["status"][:20].upper()}
        with sessions() as session:
            page = inventory.list_part_inventories(
                session, filters, ["CREATED_AT_DESC"],
                PageRequest(first=50, after=params.get("after") or None),
            )
            rows = [
                {"record": row, "status": row.status, "location": row.location_id}
                for row in page.rows
            ]
            wanted = {r["location"] for r in rows if r["location"]}
            found = session.execute(select(Location.id, Location.name).where(Location.id.in_(wanted)))
            names = {location_id: name for location_id, name in found.all()}  # noqa: C416
            return {
                "rows": rows, "names": names, "total": page.count_total(),
                "next": page.cursor(len(page.rows) - 1) if page.has_next_page else None,
                "params": params,
            }

    async def inventory_page(request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        try:
            data = await run_in_threadpool(inventory_data, params)
        except KitwrightError as error:
            return _render("error.html", status=400, message=error.message)
        return _render("inventory.html", **data)

    def history_data(record_id: int) -> dict[str, Any]:
        with sessions() as session:
            page = ledger.list_ledger_entries(
                session, {"partInventoryId": {"eq": record_id}}, ["ID_ASC"], PageRequest(first=500)
            )
            return {"record_id": record_id, "entries": page.rows}

    async def history_page(request: Request) -> Response:
        raw = request.path_params["id"]
        if not 0 <= int(raw) <= MAX_ID:  # no row has such an id; the database would refuse it
            return _render("error.html", status=404, message=f"No inventory record {raw}.")
        return _render("history.html", **await run_in_threadpool(history_data, int(raw)))

    return [
        Route("/", home),
        Route("/inventory", inventory_page),
        Route("/inventory/{id:int}/history", history_page),
    ]
