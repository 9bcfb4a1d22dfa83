"""The ASGI app: GraphQL at /graphql (GraphiQL in a browser), health, web pages."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import time
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from kitwright.api.auth import token_routes, too_many
from kitwright.api.batch import batch_limit, check_batch_size, read_operation, run_batch
from kitwright.api.context import Context
from kitwright.api.errors import format_error
from kitwright.api.limits import TooSlow
from kitwright.api.rest import BodyRejected, bad_request, error_response, json_response, read_json
from kitwright.api.schema import schema
from kitwright.api.uploads import is_multipart, read_multipart_operations
from kitwright.domain.errors import BadInput
from kitwright.guard import SecurityMiddleware
from kitwright.security.settings import SecuritySettings
from kitwright.services.actor import Actor, actor_of
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.web.session import set_csrf_cookie

log = logging.getLogger("kitwright.api")



class GraphQLEndpoint:
    def __init__(self, sessions: sessionmaker[Session], security: SecuritySettings | None = None) -> None:
        self.sessions = sessions
        self.security = security or SecuritySettings()
        self.batch_limit = batch_limit()

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            if "text/html" in request.headers.get("accept", "") or "query" not in request.query_params:
                if not self.security.graphiql:
                    return bad_request("GraphiQL is turned off on this server", status=404)
                page = HTMLResponse(get_graphql_ide_html())
                csrf = request.scope.get("session", {}).get("csrf")
                if isinstance(csrf, str):
                    # GraphiQL sends this cookie back as X-CSRFToken (cookie-authenticated POSTs).
                    set_csrf_cookie(page, csrf, https_only=self.security.https_only)
                return page
            return bad_request("send queries with POST", status=405)
        if request.method != "POST":
            return bad_request("use GET for GraphiQL or POST for queries", status=405)
        form = None
        try:
            if is_multipart(request):  # a file upload (api.uploads)
                payload, form = await read_multipart_operations(request)
            else:
                payload = await read_json(request, self.security.max_body_bytes)
        except BodyRejected as rejected:
            return rejected.response
        try:
            return await self._answer(request, payload)
        finally:
            if form is not None:
                await form.close()

    async def _answer(self, request: Request, payload: Any) -> Response:
        actor = actor_of(request.scope)
        if isinstance(payload, list):
            return await self.handle_batch(request, payload, actor)
        try:
            operation = read_operation(payload)
        except BadInput as error:
            return error_response(error)
        seconds = self.security.request_seconds
        deadline = time.monotonic() + seconds
        try:
            # The worker thread also stops itself at the deadline (api.limits.Deadline), and
            # the server's PostgreSQL connections cancel a statement that runs longer than the
            # whole time limit (app_from_env); this only stops waiting for it.
            # asyncio.timeout rather than wait_for: no second task per request.
            async with asyncio.timeout(seconds + 1):
                result = await run_in_threadpool(
                    self.execute, operation.query, operation.variables, operation.operation_name, actor, deadline
                )
        except TimeoutError:
            result = _too_slow(seconds)
        return json_response(result)

    async def handle_batch(self, request: Request, items: list[Any], actor: Actor) -> Response:
        """A JSON array of operations: one result each, in order (api.batch)."""
        try:
            check_batch_size(items, self.batch_limit)
        except BadInput as error:
            return error_response(error, status=413 if items else 400)
        charge = request.scope.get("state", {}).get("charge_operations")
        if callable(charge) and len(items) > 1:
            # the request itself was charged one already; the limiter may write to the database
            wait = await run_in_threadpool(charge, len(items) - 1)
            if wait is not None:
                return too_many(wait)

        deadline = time.monotonic() + self.security.request_seconds  # the whole batch

        def run() -> list[dict[str, Any]]:
            return run_batch(
                items, lambda op: self.execute(op.query, op.variables, op.operation_name, actor, deadline)
            )

        return json_response(await run_in_threadpool(run))

    def execute(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, actor: Actor,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        session = self.sessions()
        context = Context(session=session, actor=actor, introspection=self.security.introspection,
                          deadline=deadline, max_query_cost=self.security.max_query_cost)
        try:
            outcome = schema.execute_sync(
                query, variable_values=variables, context_value=context, operation_name=operation_name
            )
            if outcome.errors and any(_cut_short(error) for error in outcome.errors):
                return _too_slow(self.security.request_seconds)
            result: dict[str, Any] = {"data": outcome.data}
            if outcome.errors:
                result["errors"] = [self._public(format_error(error)) for error in outcome.errors]
            return result
        except RecursionError:
            return {"data": None, "errors": [format_error(GraphQLError("the query is nested too deeply"))]}
        finally:
            context.close()
            session.close()

    def _public(self, error: dict[str, Any]) -> dict[str, Any]:
        # In production the schema is not published: no "Did you mean …?" hints either.
        if self.security.production and isinstance(error.get("message"), str):
            error["message"] = _SUGGESTION.sub("", error["message"]).rstrip()
        return error


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _cut_short(error: GraphQLError) -> bool:
    """Stopped by the deadline: by a resolver's check or PostgreSQL's statement_timeout."""
    original = error.original_error
    return isinstance(original, TooSlow) or "statement timeout" in str(original or "")


def _too_slow(seconds: float) -> dict[str, Any]:
    error = TooSlow(f"the request ran past its time limit of {seconds:g} s and was stopped; ask for less")
    return {"data": None, "errors": [{"message": error.message, "extensions": {"code": error.code}}]}


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(engine: Engine | None = None, security: SecuritySettings | None = None) -> Starlette:
    """The service. Every request is authenticated and checked (kitwright.guard, api.authorization);
    `security` defaults to the KITWRIGHT_* environment (security.settings)."""
    engine = engine or make_engine()
    security = security or SecuritySettings.from_env()
    sessions = make_sessionmaker(engine)
    endpoint = GraphQLEndpoint(sessions, security)
    routes = [
        Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
        Route("/health", health),
    ]
    routes.extend(token_routes(sessions))
    from kitwright.web.signin import routes as signin_routes

    routes.extend(signin_routes(sessions, https_only=security.https_only))
    from kitwright.web.pages import routes as web_routes

    routes.extend(web_routes(sessions))
    from kitwright.web.availability import routes as availability_routes
    from kitwright.web.kits import routes as kit_page_routes

    routes.extend(kit_page_routes(sessions))
    routes.extend(availability_routes(sessions))
    from kitwright.web.features import routes as feature_routes

    routes.extend(feature_routes(sessions))
    from kitwright.api.rest_items import routes as item_routes

    routes.extend(item_routes(sessions))
    from kitwright.api.rest_kits import routes as kit_routes

    routes.extend(kit_routes(sessions))
    from kitwright.services.auth import set_password_hash_slots

    set_password_hash_slots(security.password_hash_slots)
    from kitwright.api.edge import EdgeMiddleware
    from kitwright.api.rest_orders import routes as order_routes

    routes.extend(order_routes(sessions))
    from kitwright.api.rest_imports import plant_routes
    from kitwright.api.rest_imports import routes as import_routes

    routes.extend(import_routes(sessions))
    routes.extend(plant_routes(sessions))
    middleware = [
        Middleware(EdgeMiddleware, settings=security),
        Middleware(
            SessionMiddleware, secret_key=_session_key(sessions, security), session_cookie="kitwright_session",
            max_age=security.session_max_age, same_site="lax", https_only=security.https_only,
        ),
        Middleware(SecurityMiddleware, sessions=sessions, settings=security),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.security = security
    if security.insecure_dev:
        log.warning(INSECURE_DEV_WARNING)
    return app


INSECURE_DEV_WARNING = (
    "INSECURE DEVELOPMENT MODE (--insecure-dev / KITWRIGHT_INSECURE_DEV=1): requests without "
    "credentials act as an admin. Never expose this server to a network."
)


def _session_key(sessions: sessionmaker[Session], security: SecuritySettings) -> str:
    if security.secret_key:
        return security.secret_key
    from kitwright.services.auth import app_secret

    with sessions() as session:
        return app_secret(session, "session_key")


def app_from_env() -> Starlette:
    """Factory for uvicorn (`kitwright serve`): the database comes from the environment."""
    logging.basicConfig(level=os.environ.get("KITWRIGHT_LOG_LEVEL", "INFO"))
    security = SecuritySettings.from_env()
    app = create_app(make_engine(statement_timeout_ms=max(1, int(security.request_seconds * 1000))), security)
    settle_garbage_collector()
    return app


# A request allocates a few thousand objects that refcounting frees when it ends; at the default
# threshold (700) the young generation was collected twice a request, mid-request, each time
# scanning the page's rows that were about to go anyway.
GC_YOUNG_THRESHOLD = 10_000


def settle_garbage_collector() -> None:
    """For a server process once its app is built: what exists now (modules, the schema, the
    app) lives as long as the process, so the collector stops scanning it (`gc.freeze`; a full
    collection scanned some 170,000 such objects every hundred requests or so), and the young
    generation is collected less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)
