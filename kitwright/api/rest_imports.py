"""REST imports (docs/importers.md).

- `POST /api/import/kit-items` with the file in multipart field `file` (CSV or XLSX),
  `?dryRun=true` to check only: 200 `{count, createdCount, updatedCount, dryRun,
  partKits: [{id}]}`; on any problem 400 with the usual `errors` body whose
  `extensions.details` lists every `{row, column, message}`, and nothing written.
- `GET /api/import/kit-items/template?format=csv|xlsx`: the empty template to fill in.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kitwright.api.rest import BodyRejected, bad_request, error_response, json_response
from kitwright.api.uploads import is_multipart, read_form
from kitwright.domain.errors import KitwrightError
from kitwright.services import import_kit_items as kit_items
from kitwright.services.actor import Actor, actor_of
from kitwright.services.uow import UnitOfWork

log = logging.getLogger("kitwright.api")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def dry_run_flag(request: Request) -> bool | None:
    raw = request.query_params.get("dryRun", request.query_params.get("dry_run", "false")).strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    return None


def internal_error() -> Response:
    return json_response({"errors": [{"message": "Internal error: the request could not be completed",
                                      "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}, 500)


def routes(sessions: sessionmaker[Session]) -> list[Route]:
    def run(stream: IO[bytes], filename: str | None, dry_run: bool, actor: Actor) -> dict[str, Any]:
        with sessions() as session, UnitOfWork(session, actor) as uow:
            result = kit_items.import_kit_items(uow, stream, filename=filename, dry_run=dry_run)
        return {
            "count": result.count, "createdCount": result.created_count,
            "updatedCount": result.updated_count, "dryRun": result.dry_run,
            "partKits": [{"id": str(id)} for id in result.part_kit_ids],
        }

    async def post_kit_items(request: Request) -> Response:
        dry_run = dry_run_flag(request)
        if dry_run is None:
            return bad_request("dryRun must be true or false", field="dryRun")
        if not is_multipart(request):
            return bad_request("send the file as multipart/form-data in the field 'file'", field="file")
        try:
            form = await read_form(request)
        except BodyRejected as rejected:
            return rejected.response
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return bad_request("the multipart field 'file' must hold the CSV or XLSX file", field="file")
            try:
                body = await run_in_threadpool(run, upload.file, upload.filename, dry_run, actor_of(request.scope))
            except KitwrightError as error:
                return error_response(error)
            except Exception:
                log.exception("POST /api/import/kit-items failed")
                return internal_error()
            return json_response(body)
        finally:
            await form.close()

    async def template(request: Request) -> Response:
        kind = request.query_params.get("format", "csv").lower()
        if kind == "csv":
            return Response(kit_items.template_csv(), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": 'attachment; filename="kit-items.csv"'})
        if kind == "xlsx":
            data = await run_in_threadpool(kit_items.template_xlsx)
            return Response(data, media_type=XLSX_TYPE, headers={
                "Content-Disposition": 'attachment; filename="kit-items.xlsx"'})
        return bad_request("format must be csv or xlsx", field="format")

    return [
        Route("/api/import/kit-items", post_kit_items, methods=["POST"]),
        Route("/api/import/kit-items/template", template, methods=["GET"]),
    ]


def plant_routes(sessions: sessionmaker[Session]) -> list[Route]:
    """`POST /api/import/{suppliers|parts|locations|part-inventory}` (multipart field `file`,
    `?dryRun=true`): 200 `{kind, count, createdCount, updatedCount, dryRun, ids}` or 400 with
    every problem."""
    from kitwright.services.plant_import import LOADERS

    def run(kind: str, stream: IO[bytes], filename: str | None, dry_run: bool, actor: Actor) -> dict[str, Any]:
        with sessions() as session, UnitOfWork(session, actor) as uow:
            result = LOADERS[kind](uow, stream, filename=filename, dry_run=dry_run)
        return {"kind": result.kind, "count": result.count, "createdCount": result.created_count,
                "updatedCount": result.updated_count,
                "dryRun": result.dry_run, "ids": [str(i) for i in result.ids]}

    async def post(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in LOADERS:
            return bad_request(f"unknown import {kind[:40]!r}; one of {', '.join(LOADERS)}", status=404)
        dry_run = dry_run_flag(request)
        if dry_run is None:
            return bad_request("dryRun must be true or false", field="dryRun")
        if not is_multipart(request):
            return bad_request("send the file as multipart/form-data in the field 'file'", field="file")
        try:
            form = await read_form(request)
        except BodyRejected as rejected:
            return rejected.response
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return bad_request("the multipart field 'file' must hold the CSV or XLSX file", field="file")
            try:
                body = await run_in_threadpool(run, kind, upload.file, upload.filename, dry_run,
                                               actor_of(request.scope))
            except KitwrightError as error:
                return error_response(error)
            except Exception:
                log.exception("POST /api/import/%s failed", kind)
                return internal_error()
            return json_response(body)
        finally:
            await form.close()

    return [Route("/api/import/{kind}", post, methods=["POST"])]
