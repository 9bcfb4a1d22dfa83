"""What every page shares: the template environment and its one renderer (`page`), who is signed
in and what they may do, flash messages, form reading, and errors in plain words.

Every route is also guarded by the security middleware (its permission is listed in
security.permissions.ROUTE_PERMISSIONS), so hiding a button is a courtesy, never the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kitwright import __version__
from kitwright.domain.errors import KitwrightError
from kitwright.domain.quantities import normalize
from kitwright.security.permissions import Permission, allowed
from kitwright.services.actor import Actor, actor_of, current_actor
from kitwright.services.uow import UnitOfWork
from kitwright.web.session import csrf_token, current_web_session

T = TypeVar("T")

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def quantity(value: object) -> str:
    """A quantity as people write it: 40, 12.5 (no trailing zeros, no exponent)."""
    try:
        return format(normalize(Decimal(str(value))), "f")
    except (TypeError, ValueError, ArithmeticError):
        return str(value)


def label(value: object) -> str:
    """IN_PROGRESS -> In progress."""
    text = str(value or "").replace("_", " ").lower()
    return text[:1].upper() + text[1:]


templates.filters["qty"] = quantity
templates.filters["label"] = label
templates.globals["P"] = Permission


def _signed_in_name() -> str | None:
    actor = current_actor.get()
    session = current_web_session.get()
    if session is None or "uid" not in session or not actor.authenticated:
        return None
    return actor.name


templates.globals["csrf_token"] = csrf_token
templates.globals["signed_in_as"] = _signed_in_name


def can(actor: Actor, permission: Permission) -> bool:
    return allowed(actor.role, actor.permissions, permission)


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message shown once on the next page (kept in the signed session cookie)."""
    request.session["flash"] = {"kind": kind, "text": text[:500]}


def page(request: Request, template: str, *, status: int = 200, **values: Any) -> Response:
    """The one renderer of web/: a whole page, or the fragment an htmx request swaps in (which
    leaves the flash message for the next whole page)."""
    actor = actor_of(request.scope)
    message = request.session.pop("flash", None) if "session" in request.scope and not is_htmx(request) else None
    html = templates.get_template(template).render(
        version=__version__, actor=actor, can=lambda p: can(actor, p), flash=message,
        path=request.url.path, **values,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


FIELD_WORDS = {
    "partInventoryId": "the inventory record", "partKitItemId": "the kit item", "quantity": "the quantity",
    "deliveryLocationId": "the delivery location", "stagingLocationId": "the staging location",
    "locationId": "the location", "etag": "the page", "code": "the scan", "assignedToId": "the assignee",
    "priority": "the priority", "status": "the status", "partId": "the part",
}


MODEL_NAMES = {"PartKitItem": "kit item", "PartKit": "kit", "PartInventory": "inventory record",
               "Part": "part", "Location": "location", "User": "user"}
MODEL_WORDS = re.compile(r"\b(" + "|".join(sorted(MODEL_NAMES, key=len, reverse=True)) + r") (\d+)\b")


def plain(error: KitwrightError) -> str:
    """The service's message, which is already written for people, with a hint for conflicts."""
    text = error.message
    if error.code == "CONFLICT":
        return "Someone changed this while you were looking at it. The page now shows the latest; try again."
    text = MODEL_WORDS.sub(lambda m: MODEL_NAMES[m[1]] + " " + m[2], text)
    line = re.match(r"items\[(\d+)\]\.(\w+)$", error.field or "")
    if line:
        # "items[2].quantity must …" -> "Line 3: the quantity must …"
        words = FIELD_WORDS.get(line[2], line[2])
        text = text.replace(error.field or "", words, 1)
        if text.startswith(line[2] + " "):
            text = words + text[len(line[2]):]
        text = f"Line {int(line[1]) + 1}: " + text
    elif error.field and text.startswith(error.field + " "):
        text = FIELD_WORDS.get(error.field, error.field) + text[len(error.field):]
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


async def read_form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=200)
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


async def read_form_lists(request: Request) -> dict[str, list[str]]:
    form = await request.form(max_files=0, max_fields=200)
    out: dict[str, list[str]] = {}
    for k, v in form.multi_items():
        if isinstance(v, str):
            out.setdefault(k, []).append(v)
    return out


def optional_int(raw: str | None, what: str, field: str) -> int | None:
    from kitwright.domain.errors import BadInput

    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise BadInput(f"{what} must be a whole number", field=field)
    return int(text)


def required_int(raw: str | None, what: str, field: str) -> int:
    from kitwright.domain.errors import BadInput

    value = optional_int(raw, what, field)
    if value is None:
        raise BadInput(f"Choose {what}", field=field)
    return value


class Runner:
    """Runs service calls in a worker thread with a session (reads) or a unit of work (writes)
    acting as the signed-in person."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    async def read(self, fn: Callable[[Session], T]) -> T:
        def work() -> T:
            with self.sessions() as session:
                return fn(session)

        return await run_in_threadpool(work)

    async def write(self, request: Request, fn: Callable[[UnitOfWork], T]) -> T:
        actor = actor_of(request.scope)

        def work() -> T:
            with self.sessions() as session, UnitOfWork(session, actor) as uow:
                return fn(uow)

        return await run_in_threadpool(work)
