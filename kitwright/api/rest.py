"""JSON over plain HTTP: the one writer and error shape every REST route and /graphql use.

Errors have the GraphQL shape `{"errors": [{"message", "extensions": {"code", "field",
"details"}}]}` with the HTTP status of their code; Decimals are written as exact JSON numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson
from starlette.requests import Request
from starlette.responses import Response

from kitwright.domain.errors import BadInput, KitwrightError

STATUS = {"BAD_USER_INPUT": 400, "NOT_FOUND": 404, "CONFLICT": 409, "GONE": 410, "UNAUTHENTICATED": 401, "FORBIDDEN": 403}


def json_response(data: Any, status: int = 200) -> Response:
    # simplejson writes Decimals as exact JSON number text (json would need floats).
    text = simplejson.dumps(data, use_decimal=True, ensure_ascii=False, default=str)
    return Response(text, status_code=status, media_type="application/json")


def extensions_of(error: KitwrightError) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": error.code}
    if error.field:
        extensions["field"] = error.field
    if error.details:
        extensions["details"] = [problem.as_dict() for problem in error.details]
    return extensions


def error_response(error: KitwrightError, status: int | None = None) -> Response:
    body = {"errors": [{"message": error.message, "extensions": extensions_of(error)}]}
    return json_response(body, status or STATUS.get(error.code, 400))


def bad_request(message: str, status: int = 400, *, field: str | None = None) -> Response:
    return error_response(BadInput(message, field=field), status)


def reject_constant(name: str) -> Any:
    """For json parsers: NaN and Infinity are not numbers a client may send."""
    raise ValueError(f"{name} is not a number")


MAX_BODY = 1_000_000  # bytes of one JSON request


class BodyRejected(Exception):
    """The request body cannot be read as JSON; `response` says why."""

    def __init__(self, response: Response) -> None:
        super().__init__("request body rejected")
        self.response = response


async def read_json(request: Request, max_bytes: int = MAX_BODY) -> Any:
    """The body as JSON (numbers as exact Decimals), refusing oversized or malformed input."""
    declared = request.headers.get("content-length")

    def too_big() -> BodyRejected:
        return BodyRejected(bad_request(f"request body larger than {max_bytes} bytes", status=413))

    if declared is not None and (not (declared.isascii() and declared.isdigit()) or int(declared) > max_bytes):
        raise too_big()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_big()
    try:
        return simplejson.loads(bytes(body), parse_float=Decimal, parse_constant=reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BodyRejected(bad_request("the request body is not valid JSON")) from None
