"""The ASGI app: GraphQL at /graphql (GraphiQL in a browser), health, web pages."""

from __future__ import annotations

import logging
import os
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

from kitwright.api.auth import SecurityMiddleware, request_actor, token_routes
from kitwright.api.context import Context
from kitwright.api.errors import format_error
from kitwright.api.rest import MAX_BODY, BodyRejected, bad_request, json_response, read_json
from kitwright.api.schema import schema
from kitwright.security.settings import SecuritySettings
from kitwright.services.uow import Actor
from kitwright.store.db import make_engine, make_sessionmaker

log = logging.getLogger("kitwright.api")



class GraphQLEndpoint:
    def __init__(self, sessions: sessionmaker[Session], security: SecuritySettings | None = None) -> None:
        self.sessions = sessions
        self.security = security or SecuritySettings()

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            if "text/html" in request.headers.get("accept", "") or "query" not in request.query_params:
                if not self.security.graphiql:
                    return bad_request("GraphiQL is turned off on this server", status=404)
                page = HTMLResponse(get_graphql_ide_html())
                csrf = request.scope.get("session", {}).get("csrf")
                if isinstance(csrf, str):
                    # GraphiQL sends this cookie back as X-CSRFToken (cookie-authenticated POSTs).
                    from kitwright.web.signin import set_csrf_cookie

                    set_csrf_cookie(page, csrf, https_only=self.security.https_only)
                return page
            return bad_request("send queries with POST", status=405)
        if request.method != "POST":
            return bad_request("use GET for GraphiQL or POST for queries", status=405)
        try:
            payload = await read_json(request, MAX_BODY)
        except BodyRejected as rejected:
            return rejected.response
        if not isinstance(payload, dict):
            return bad_request("the request body must be a JSON object")
        query = payload.get("query")
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return bad_request("query must be a non-empty string")
        if variables is not None and not isinstance(variables, dict):
            return bad_request("variables must be a JSON object")
        if operation_name is not None and not isinstance(operation_name, str):
            return bad_request("operationName must be a string")
        actor = request_actor(request)
        result = await run_in_threadpool(self.execute, query, variables, operation_name, actor)
        return json_response(result)

    def execute(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, actor: Actor
    ) -> dict[str, Any]:
        session = self.sessions()
        try:
            context = Context(session=session, actor=actor, introspection=self.security.introspection)
            outcome = schema.execute_sync(
                query, variable_values=variables, context_value=context, operation_name=operation_name
            )
            result: dict[str, Any] = {"data": outcome.data}
            if outcome.errors:
                result["errors"] = [format_error(error) for error in outcome.errors]
            return result
        except RecursionError:
            return {"data": None, "errors": [format_error(GraphQLError("the query is nested too deeply"))]}
        finally:
            session.close()


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(engine: Engine | None = None, security: SecuritySettings | None = None) -> Starlette:
    """The service. Every request is authenticated and checked (api.auth, api.authorization);
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
    from kitwright.api.rest_items import routes as item_routes

    routes.extend(item_routes(sessions))
    from kitwright.api.rest_kits import routes as kit_routes

    routes.extend(kit_routes(sessions))
    middleware = [
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
    return create_app(make_engine())
