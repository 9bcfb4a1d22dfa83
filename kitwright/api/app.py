"""The ASGI app: GraphQL at /graphql (GraphiQL in a browser), health, web pages."""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from typing import Any

import simplejson
from graphql import GraphQLError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from kitwright.api.context import Context
from kitwright.api.errors import format_error
from kitwright.api.schema import schema
from kitwright.store.db import make_engine, make_sessionmaker

log = logging.getLogger("kitwright.api")

MAX_BODY = 1_000_000  # bytes of one GraphQL request


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _error_response(message: str, status: int = 400) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
    return JSONResponse(body, status_code=status)


def _json(data: Any, status: int = 200) -> Response:
    # simplejson writes Decimals as exact JSON number text (json would need floats).
    text = simplejson.dumps(data, use_decimal=True, ensure_ascii=False, default=str)
    return Response(text, status_code=status, media_type="application/json")


class GraphQLEndpoint:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            if "text/html" in request.headers.get("accept", "") or "query" not in request.query_params:
                return HTMLResponse(get_graphql_ide_html())
            return _error_response("send queries with POST", status=405)
        if request.method != "POST":
            return _error_response("use GET for GraphiQL or POST for queries", status=405)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return _error_response(f"request body larger than {MAX_BODY} bytes", status=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _error_response(f"request body larger than {MAX_BODY} bytes", status=413)
        try:
            payload = simplejson.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error_response("the request body is not valid JSON")
        if not isinstance(payload, dict):
            return _error_response("the request body must be a JSON object")
        query = payload.get("query")
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return _error_response("query must be a non-empty string")
        if variables is not None and not isinstance(variables, dict):
            return _error_response("variables must be a JSON object")
        if operation_name is not None and not isinstance(operation_name, str):
            return _error_response("operationName must be a string")
        result = await run_in_threadpool(self.execute, query, variables, operation_name)
        return _json(result)

    def execute(self, query: str, variables: dict[str, Any] | None, operation_name: str | None) -> dict[str, Any]:
        session = self.sessions()
        try:
            context = Context(session=session)
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


def create_app(engine: Engine | None = None) -> Starlette:
    engine = engine or make_engine()
    sessions = make_sessionmaker(engine)
    endpoint = GraphQLEndpoint(sessions)
    routes = [
        Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
        Route("/health", health),
    ]
    from kitwright.web.pages import routes as web_routes

    routes.extend(web_routes(sessions))
    app = Starlette(routes=routes)
    app.state.engine = engine
    app.state.sessions = sessions
    return app


def app_from_env() -> Starlette:
    """Factory for uvicorn (`kitwright serve`): the database comes from the environment."""
    logging.basicConfig(level=os.environ.get("KITWRIGHT_LOG_LEVEL", "INFO"))
    return create_app(make_engine())
