"""File uploads: the GraphQL multipart request convention and plain multipart forms.

A GraphQL upload is a multipart/form-data body with an `operations` field (the usual JSON
request, the file variable null), a `map` field (`{"0": ["variables.file"]}`) and the file
parts. Files are spooled to disk past a small size, so memory stays bounded; the whole body
is capped at MAX_UPLOAD bytes (413 past it).
"""

from __future__ import annotations

from typing import Any

import simplejson
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message

from kitwright.api.rest import BodyRejected, bad_request, reject_constant

MAX_UPLOAD = 64 * 1024 * 1024
MAX_FILES = 1


class _TooLarge(Exception):
    pass


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_form(request: Request, max_bytes: int = MAX_UPLOAD) -> FormData:
    """The multipart form, refusing bodies over `max_bytes` and more than one file."""
    too_big = bad_request(f"upload larger than {max_bytes} bytes", status=413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise BodyRejected(too_big)
    received = 0
    receive = request.receive

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise _TooLarge
        return message

    limited_request = Request(request.scope, limited)
    try:
        return await limited_request.form(max_files=MAX_FILES, max_fields=20)
    except _TooLarge:
        raise BodyRejected(too_big) from None
    except Exception as error:  # malformed multipart: python-multipart raises several kinds
        raise BodyRejected(bad_request(f"unreadable multipart body: {str(error)[:200]}")) from None


def _set_path(target: Any, path: list[str], value: Any) -> bool:
    for index, key in enumerate(path):
        last = index == len(path) - 1
        if isinstance(target, dict):
            if last:
                target[key] = value
                return True
            target = target.get(key)
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            if last:
                target[int(key)] = value
                return True
            target = target[int(key)]
        else:
            return False
    return False


async def read_multipart_operations(request: Request) -> tuple[Any, FormData]:
    """The GraphQL request of a multipart upload with its files put in place of the
    variables `map` names. The caller closes the returned form."""
    form = await read_form(request)
    try:
        operations = form.get("operations")
        mapping = form.get("map", "{}")
        if not isinstance(operations, str) or not isinstance(mapping, str):
            raise BodyRejected(bad_request("a GraphQL upload needs the form fields operations and map"))
        try:
            payload = simplejson.loads(operations, parse_constant=reject_constant)
            files = simplejson.loads(mapping, parse_constant=reject_constant)
        except (ValueError, RecursionError):
            raise BodyRejected(bad_request("operations and map must be JSON")) from None
        if not isinstance(payload, dict) or not isinstance(files, dict):
            raise BodyRejected(bad_request("operations must be a JSON object and map a JSON object"))
        for name, paths in files.items():
            upload = form.get(str(name))
            if not isinstance(upload, UploadFile):
                raise BodyRejected(bad_request(f"map names file {name!r}, which was not sent", field="map"))
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise BodyRejected(bad_request("map values must be lists of paths", field="map"))
            for path in paths:
                if not _set_path(payload, path.split("."), upload):
                    raise BodyRejected(bad_request(f"map path {path!r} is not in operations", field="map"))
        return payload, form
    except BodyRejected:
        await form.close()
        raise
