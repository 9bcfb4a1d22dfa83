"""Who acts: the actor every unit of work, ledger entry and audit entry names."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, or an API key on behalf of its user.

    `id` is the user's id; `name` is what the ledger and the audit record ("alice", or
    "alice via key kw_3f9a…"). `role` and `permissions` are the rights in force for this
    request (services.auth computes them; a key never holds more than its user has now).
    """

    id: int | None
    name: str
    role: str | None = None
    permissions: frozenset[str] = dataclass_field(default_factory=frozenset)
    api_key_id: int | None = None
    authenticated: bool = True
    # A key narrowed to another role than its (non-admin) user's: `permissions` are what both
    # roles share, and the kit rules (services.kit_access) must allow the action for both.
    key_role: str | None = None


SYSTEM = Actor(id=1, name="system", role="admin")
ANONYMOUS = Actor(id=None, name="anonymous", authenticated=False)

# The actor of the request being served (set by the request guard, kitwright.guard), used by
# units of work opened without an explicit actor. Outside a request it is SYSTEM (CLI, demo).
current_actor: ContextVar[Actor] = ContextVar("kitwright_actor", default=SYSTEM)


def actor_of(scope: Mapping[str, Any]) -> Actor:
    """The actor the request guard found for the request of this ASGI `scope` (kept in its
    state); ANONYMOUS where the guard found none."""
    actor = scope.get("state", {}).get("actor")
    return actor if isinstance(actor, Actor) else ANONYMOUS
