"""The token endpoint (`POST /auth/token`, and ION's token paths) and the JSON answers the
request guard and the REST endpoints share: UNAUTHENTICATED and RATE_LIMITED (the actor the
guard found is `services.actor.actor_of`). The guard itself is kitwright.guard. No credential is ever
logged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs

import simplejson
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kitwright.domain.errors import KitwrightError
from kitwright.services import auth

ION_TOKEN_PATH = "/realms/api-keys/protocol/openid-connect/token"
AUTH0_TOKEN_PATH = "/oauth/token"  # where ion-importers' client asks for its token


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def unauthenticated(message: str = "sign in or send Authorization: Bearer <token>") -> Response:
    return JSONResponse(error_body("UNAUTHENTICATED", message), status_code=401,
                        headers={"WWW-Authenticate": 'Bearer realm="kitwright"'})


def too_many(wait: float) -> Response:
    return JSONResponse(error_body("RATE_LIMITED", "too many requests; slow down"), status_code=429,
                        headers={"Retry-After": str(max(1, round(wait)))})


# -- POST /auth/token ------------------------------------------------------------------------


def _token_error(status: int, error: str, description: str) -> Response:
    code = "UNAUTHENTICATED" if status == 401 else "BAD_USER_INPUT"
    body = {"error": error, "error_description": description, **error_body(code, description)}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def _credentials(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    body = await request.body()
    if len(body) > 10_000:
        return found
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            payload = simplejson.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            payload = None
        if isinstance(payload, dict):
            found = {k: v for k, v in payload.items() if isinstance(k, str) and isinstance(v, str)}
    else:
        found = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items() if v}
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(basic[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        found.setdefault("client_id", client_id)
        found.setdefault("client_secret", secret)
    return found


def token_routes(sessions: sessionmaker[Session]) -> list[Route]:
    async def token(request: Request) -> Response:
        """OAuth2 client credentials: client_id + client_secret of an API key -> bearer token."""
        fields = await _credentials(request)
        if fields.get("grant_type", "client_credentials") != "client_credentials":
            return _token_error(400, "unsupported_grant_type", "grant_type must be client_credentials")

        def issue() -> tuple[str, int]:
            with sessions() as session:
                return auth.issue_token(session, fields.get("client_id", ""), fields.get("client_secret", ""))

        try:
            access_token, expires_in = await run_in_threadpool(issue)
        except KitwrightError as error:
            return _token_error(401, "invalid_client", error.message)
        return JSONResponse(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in},
            headers={"Cache-Control": "no-store"},
        )

    # ION's scripts fetch tokens from ION's auth server path; it is served here too.
    return [Route(path, token, methods=["POST"]) for path in ("/auth/token", ION_TOKEN_PATH, AUTH0_TOKEN_PATH)]

