"""Pages for imports, runs, orders and kanban kits (docs/web.md).

Each page reads through services (services.views_more and the feature's own service module)
and each action calls the service the matching GraphQL mutation calls; the security middleware
refuses an action to a role the API would refuse (security.permissions.ROUTE_PERMISSIONS).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.domain.errors import BadInput, Forbidden, KitwrightError
from kitwright.services import import_kit_items, runs, views, views_more
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
    redirect,
    required_int,
)

RUN_STATUSES = ("TODO", "IN_PROGRESS", "HOLD", "COMPLETED", "CANCELED")
# What a run page offers: the status a button moves the run to, and its words.
RUN_MOVES = {"IN_PROGRESS": "Start", "HOLD": "Hold", "COMPLETED": "Complete", "CANCELED": "Cancel run"}
MAX_UPLOAD = 50 * 1024 * 1024  # the importer streams; this bounds what one form post may hold


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    run = Runner(sessions)

    # ------------------------------------------------------------------ imports

    async def imports_page(request: Request) -> Response:
        return page(request, "imports.html", result=None)

    async def import_post(request: Request) -> Response:
        values: dict[str, Any] = {"result": None, "problems": [], "message": None, "filename": None}
        status = 200
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception:  # a malformed multipart body: say so instead of a 500
            form = None
        try:
            upload = form.get("file") if form is not None else None
            dry_run = (form.get("mode") if form is not None else None) != "import"
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise BadInput("Choose a CSV or XLSX file to import", field="file")
            if upload.size is not None and upload.size > MAX_UPLOAD:
                raise BadInput("The file is larger than 50 MB; split it", field="file")
            values["filename"] = upload.filename
            source, name = upload.file, upload.filename
            values["result"] = await run.write(request, lambda uow: import_kit_items.import_kit_items(
                uow, source, filename=name, dry_run=dry_run))
        except KitwrightError as error:
            status = 403 if isinstance(error, Forbidden) else 400  # a row on a kit the caller may not edit
            values["problems"] = [p for p in error.details if p.row is not None or p.column is not None]
            found = len(values["problems"])
            values["message"] = (
                f"Nothing was imported: the file has {found} problem{'s' if found != 1 else ''}, "
                f"listed below by row and column. Fix {'them' if found != 1 else 'it'} and try again."
                if found else plain(error))
        finally:
            if form is not None:
                await form.close()
        if is_htmx(request):
            # htmx swaps only 2xx answers; the fragment says in words what went wrong
            return page(request, "import_result.html", **values)
        return page(request, "imports.html", status=status, **values)

    # ------------------------------------------------------------------ runs

    async def runs_page(request: Request) -> Response:
        raw = request.query_params.get("status")
        chosen = raw if raw in RUN_STATUSES else None
        rows, parts = await run.read(lambda s: views_more.run_list(s, chosen))
        return page(request, "runs.html", rows=rows, parts=parts, chosen=chosen, statuses=RUN_STATUSES)

    async def run_page(request: Request) -> Response:
        run_id = int(request.path_params["id"])

        def load(session: Session) -> dict[str, Any]:
            return {"view": views_more.run_view(session, run_id), "locations": views.location_choices(session)}

        try:
            data = await run.read(load)
        except KitwrightError as error:
            return page(request, "error.html", status=404, message=plain(error))
        return page(request, "run.html", moves=RUN_MOVES, **data)

    async def run_action(request: Request, work: Any) -> Response:
        run_id = int(request.path_params["id"])
        form = await read_form(request)
        try:
            text = await run.write(request, lambda uow: work(uow, run_id, form))
        except KitwrightError as error:
            flash(request, plain(error), "error")
        else:
            flash(request, text)
        return redirect(f"/runs/{run_id}")

    async def run_status(request: Request) -> Response:
        def work(uow: UnitOfWork, run_id: int, form: dict[str, str]) -> str:
            target = form.get("status", "")
            if target not in RUN_MOVES:
                raise BadInput("Choose what to do with the run", field="status")
            done = runs.update_run(uow, run_id, form.get("etag", ""), {"status": target})
            return f"Run {done.id} is now {done.status.replace('_', ' ').lower()}."

        return await run_action(request, work)

    async def run_kit(request: Request) -> Response:
        def work(uow: UnitOfWork, run_id: int, form: dict[str, str]) -> str:
            result = runs.create_kit_for_run(
                uow, run_id=run_id,
                staging_location_id=optional_int(form.get("stagingLocationId"), "The staging location",
                                                 "stagingLocationId"),
                delivery_location_id=optional_int(form.get("deliveryLocationId"), "The delivery location",
                                                  "deliveryLocationId"),
                fulfill=form.get("fulfill") == "yes",
            )
            text = f"Kit {result.kit.id} requested for the run"
            if result.fulfilment is not None:
                text += f"; {len(result.fulfilment.issued)} record(s) issued oldest or soonest-expiring first"
                if result.fulfilment.shortages:
                    numbers = views.part_numbers(uow.session, (s.part_id for s in result.fulfilment.shortages))
                    text += "; short: " + ", ".join(f"{numbers.get(s.part_id, s.part_id)} {quantity(s.quantity)}"
                                                    for s in result.fulfilment.shortages)
            return text + "."

        return await run_action(request, work)

    async def run_install(request: Request) -> Response:
        def work(uow: UnitOfWork, run_id: int, form: dict[str, str]) -> str:
            requirement = required_int(form.get("buildRequirementId"), "a build requirement", "buildRequirementId")
            record = required_int(form.get("partInventoryId"), "a kitted record", "partInventoryId")
            if requirement not in {f.id for f in runs.requirement_facts(uow.session, run_id)}:
                raise BadInput("That requirement belongs to another run", field="buildRequirementId")
            done = runs.install_part_inventory(uow, build_requirement_id=requirement, part_inventory_id=record,
                                               quantity=form.get("quantity", "").strip() or None)
            return f"Installed {quantity(done.abom_item.quantity)} of record {done.record.id}."

        return await run_action(request, work)

    # ------------------------------------------------------------------ orders, kanban

    async def orders_page(request: Request) -> Response:
        return page(request, "orders.html", rows=await run.read(views_more.order_list))

    async def order_page(request: Request) -> Response:
        order_id = int(request.path_params["id"])
        try:
            view = await run.read(lambda s: views_more.order_view(s, order_id))
        except KitwrightError as error:
            return page(request, "error.html", status=404, message=plain(error))
        return page(request, "order.html", view=view)

    async def kanban_page(request: Request) -> Response:
        return page(request, "kanban.html", rows=await run.read(views_more.kanban_list))

    return [
        Route("/imports", imports_page, methods=["GET"]),
        Route("/imports/kit-items", import_post, methods=["POST"]),
        Route("/runs", runs_page, methods=["GET"]),
        Route("/runs/{id:int}", run_page, methods=["GET"]),
        Route("/runs/{id:int}/status", run_status, methods=["POST"]),
        Route("/runs/{id:int}/kit", run_kit, methods=["POST"]),
        Route("/runs/{id:int}/install", run_install, methods=["POST"]),
        Route("/orders", orders_page, methods=["GET"]),
        Route("/orders/{id:int}", order_page, methods=["GET"]),
        Route("/kanban", kanban_page, methods=["GET"]),
    ]
