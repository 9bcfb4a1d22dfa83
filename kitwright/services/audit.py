"""The audit trail: every change of users, API keys, kits, kit items, rules, runs, parts and
locations names who made it.

The unit of work attaches the audit's listeners to its own session (`watch`, called by
`UnitOfWork.__enter__`), so no service can forget: after each flush, each new, changed or
deleted row of an audited table becomes one `audit_entry` with the acting user or key (the
unit of work's actor) and the changed fields. Secrets are never copied: hash columns read
"(changed)". Every table is either in `AUDITED_TABLES` or in `UNAUDITED_TABLES` with the reason
it is left out (tests/integration/test_audit_trail.py checks both lists against the schema);
inventory records, for one, are not audited here: the ledger already holds their changes.
Rows changed by bulk SQL (not through the ORM) are not seen by the listener.

An UPDATE entry holds `[old, new]` for every field that changed and nothing else; a CREATE
entry the new row, a DELETE entry the row as it was (docs/kit-rules.md, "Audit"). SQLAlchemy
forgets the old value of a field set while unloaded or marked with `flag_modified` (which
services use to change an etag); those old values are read back from the row before the flush.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE

from kitwright.services.actor import current_actor
from kitwright.services.listing import Listing
from kitwright.store.models import AuditEntry, utcnow

# Table -> the target type its audit entries name.
AUDITED_TABLES: Final[Mapping[str, str]] = MappingProxyType({
    "app_user": "User",
    "api_key": "ApiKey",
    "part_kit": "PartKit",
    "part_kit_item": "PartKitItem",
    "rule": "Rule",
    "run": "Run",
    "part": "Part",
    "location": "Location",
    "kanban_kit": "KanbanKit",
    "line_stock_level": "LineStockLevel",
})
_LEDGER = "its changes move stock, and the ledger records each move (services.ledger)"
_ORDERS = "an order document written from order events, each kept as received in order_event_message"
_NOT_YET = "reference data, not audited yet"
# Table -> why its changes are not audited here.
UNAUDITED_TABLES: Final[Mapping[str, str]] = MappingProxyType({
    "part_inventory": _LEDGER,
    "part_kit_inventory": _LEDGER,
    "order_allocation_inventory": _LEDGER,
    "abom_item": _LEDGER + "; it also names who installed it",
    "kanban_cycle": _LEDGER + "; it also names who filled, delivered and emptied it",
    "kanban_cycle_line": _LEDGER,
    "return_verification": _LEDGER,
    "ledger_entry": "the ledger itself, append-only",
    "audit_entry": "the audit trail itself, append-only",
    "availability_change": "a log derived from supply changes the ledger already holds",
    "availability_change_mark": "bookkeeping of the change log's pruning, no one's action",
    "order_event_message": "the order events as received, append-only",
    "unprocessed_order_event": "the queue of order events still to process",
    "retail_order": _ORDERS, "order_line": _ORDERS, "order_line_component": _ORDERS,
    "order_allocation": _ORDERS, "order_release": _ORDERS, "order_release_line": _ORDERS,
    "invoice": _ORDERS, "invoice_line": _ORDERS, "return_order": _ORDERS, "return_line": _ORDERS,
    "unit_of_measure": _NOT_YET,
    "supplier": _NOT_YET,
    "part_component": _NOT_YET,
    "mbom_item": _NOT_YET,
    "mbom_item_reference_designator": _NOT_YET,
    "order_settings": "one row of settings, not audited yet",
    "kanban_pattern_line": "the lines of a kanban kit's pattern, not audited yet",
    "build_requirement": "a run's needs, from its mBOM; not audited yet",
    "number_sequence": "a counter handing out numbers",
    "access_token": "a short-lived credential: its hash and expiry",
    "web_session": "a sign-in session: its hash and expiry",
    "app_secret": "keys the service generates, never shown",
    "rate_limit_bucket": "request counters",
})
SECRET_COLUMNS = frozenset({"password_hash", "secret_hash", "token_hash"})
SKIPPED_COLUMNS = frozenset({"etag"})


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)


def _shown(column: str, value: Any) -> Any:
    if column in SECRET_COLUMNS:
        return None if value is None else "(set)"
    return _plain(value)


def _columns(obj: Any) -> list[str]:
    mapper = inspect(type(obj))
    return [attr.key for attr in mapper.column_attrs if attr.key not in SKIPPED_COLUMNS]


def _snapshot(obj: Any, known: Mapping[str, Any]) -> dict[str, Any]:
    state = inspect(obj)
    values: dict[str, Any] = {}
    for key in _columns(obj):
        value = known[key] if key in state.unloaded and key in known else state.attrs[key].loaded_value
        if value is not NO_VALUE and value is not None:
            values[key] = _shown(key, value)
    return values


def _diff(obj: Any, known: Mapping[str, Any]) -> dict[str, Any]:
    state = inspect(obj)
    changes: dict[str, Any] = {}
    for key in _columns(obj):
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        # No deleted value: SQLAlchemy did not hold the old one; it was read before the flush.
        old = history.deleted[0] if history.deleted else known.get(key)
        new = history.added[0] if history.added else None
        if old == new:
            continue
        if key in SECRET_COLUMNS:
            changes[key] = "(changed)"
        else:
            changes[key] = [_plain(old), _plain(new)]
    return changes


def _unknown(obj: Any, deleted: bool) -> list[str]:
    """The columns whose value before this flush the session does not hold."""
    state = inspect(obj)
    if deleted:
        return [key for key in _columns(obj) if key in state.unloaded]
    return [key for key in _columns(obj) if state.committed_state.get(key, None) is NO_VALUE]


def read_forgotten_values(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Read the stored values the after-flush diff will need, one SELECT per table (the rows
    are the ones being written, so the services already hold their locks)."""
    wanted: dict[type[Any], dict[Any, Any]] = {}
    for deleted, objects in ((False, session.dirty), (True, session.deleted)):
        for obj in objects:
            if getattr(obj, "__tablename__", None) in AUDITED_TABLES and _unknown(obj, deleted):
                identity = inspect(obj).identity
                if identity is not None:
                    wanted.setdefault(type(obj), {})[identity] = obj
    known: dict[tuple[str, Any], dict[str, Any]] = {}
    session.info["audit_known"] = known
    for model, rows in wanted.items():
        mapper = inspect(model)
        attrs = [attr for attr in mapper.column_attrs if attr.key not in SKIPPED_COLUMNS]
        [key] = mapper.primary_key  # every audited table has a single `id`
        stmt = select(key, *(attr.columns[0] for attr in attrs)).where(key.in_(sorted(i[0] for i in rows)))
        for id_, *stored in session.connection().execute(stmt):
            known[(model.__tablename__, (id_,))] = dict(zip((a.key for a in attrs), stored, strict=True))


def _known(session: Session, obj: Any) -> dict[str, Any]:
    identity = inspect(obj).identity
    found: dict[str, Any] = session.info.get("audit_known", {}).get((obj.__tablename__, identity), {})
    return found


def _actor(session: Session) -> tuple[int | None, str]:
    actor = session.info.get("actor")
    if actor is None:
        actor = current_actor.get()
    return actor.id, actor.name


def audit_flush(session: Session, _flush: UOWTransaction) -> None:
    rows: list[dict[str, Any]] = []
    found: list[tuple[str, Any, dict[str, Any]]] = []
    for action, objects in (("CREATE", session.new), ("UPDATE", session.dirty), ("DELETE", session.deleted)):
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table not in AUDITED_TABLES:
                continue
            if action == "UPDATE":
                if not session.is_modified(obj, include_collections=False):
                    continue
                changes = _diff(obj, _known(session, obj))
                if not changes:
                    continue
            else:
                changes = _snapshot(obj, _known(session, obj))
            found.append((action, obj, changes))
    session.info.pop("audit_known", None)
    if not found:
        return
    actor_id, actor_name = _actor(session)
    now = utcnow()
    for action, obj, changes in found:
        rows.append({
            "at": now, "actor_id": actor_id, "actor": actor_name[:200], "action": action,
            "target_type": AUDITED_TABLES[obj.__tablename__],
            "target_id": getattr(obj, "id", None), "changes": changes,
        })
    session.connection().execute(insert(AuditEntry), rows)


AUDIT_COLUMNS = {
    "id": AuditEntry.id,
    "actorId": AuditEntry.actor_id,
    "actor": AuditEntry.actor,
    "action": AuditEntry.action,
    "targetType": AuditEntry.target_type,
    "targetId": AuditEntry.target_id,
    "at": AuditEntry.at,
}
AUDIT_SORTS = {"ID": AuditEntry.id, "AT": AuditEntry.at}


list_audit_entries = Listing(AuditEntry, AUDIT_COLUMNS, AUDIT_SORTS)
