"""Actions (validation rules, docs/actions.md): saving them, and running them on every change.

Rules run in one place for every path. A session `before_flush` listener sees each part,
location, inventory record, kit and kit item the flush will create, update or delete, and runs
the enabled rules for its target and event inside the same transaction, before anything is
written: a blocking rule raises BadInput and the unit of work rolls back. GraphQL, REST, web
pages and the CLI all write through units of work, so none of them can skip the rules. Bulk
paths that write with set-based SQL (the importers) call `check_rows` with every row instead,
so each failing row is reported with the rule's message.

Enabled rules are read once per transaction (one query) and their compiled programs are
cached by code text (domain.actions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE as _NO_VALUE

from kitwright.domain import actions as rules
from kitwright.domain.actions import Change, CompiledRule, Event, Severity, Target
from kitwright.domain.errors import BadInput, NotFound, Problems
from kitwright.domain.limits import ID_CHUNK, MAX_ID, MAX_RULE_ORDER
from kitwright.domain.text import camel
from kitwright.services.actor import current_actor
from kitwright.services.listing import Listing
from kitwright.services.uow import UnitOfWork, check_etag, check_updatable
from kitwright.store.models import (
    AbomItem,
    AuditEntry,
    BuildRequirement,
    Location,
    MbomItem,
    Part,
    PartInventory,
    PartKit,
    PartKitItem,
    Rule,
    Run,
    utcnow,
)

MODELS: dict[type[Any], Target] = {
    Part: Target.PART,
    Location: Target.LOCATION,
    PartInventory: Target.PARTINVENTORY,
    PartKit: Target.PARTKIT,
    PartKitItem: Target.PARTKITITEM,
    Run: Target.RUN,
    MbomItem: Target.MBOMITEM,
    BuildRequirement: Target.BUILDREQUIREMENT,
    AbomItem: Target.ABOMITEM,
}
# Targets whose objects also carry `part` (and an mBOM line its `parent`) for conditions.
_WITH_PART = frozenset({Target.PARTKITITEM, Target.PARTINVENTORY, Target.RUN, Target.MBOMITEM,
                        Target.BUILDREQUIREMENT})
RULE_UPDATABLE = {"title", "target", "event_type", "enabled", "position", "severity", "code", "message"}
_CACHE_KEY = "kitwright_rules"
_SKIPPED = frozenset({"etag", "password_hash"})


# --------------------------------------------------------------------------- saving rules


def _position(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RULE_ORDER:
        raise BadInput(f"order must be a whole number from 0 to {MAX_RULE_ORDER}", field="order")
    return value


def create_rule(
    uow: UnitOfWork, *, title: str, target: str, event_type: str, code: str,
    enabled: bool = True, position: int = 0, severity: str = Severity.BLOCK.value,
    message: str | None = None,
) -> Rule:
    problems = Problems()
    values: dict[str, Any] = {}
    for name, check in (
        ("title", lambda: rules.check_title(title)),
        ("target", lambda: rules.enum_value(Target, target, "target")),
        ("event_type", lambda: rules.enum_value(Event, event_type, "eventType")),
        ("severity", lambda: rules.enum_value(Severity, severity, "severity")),
        ("position", lambda: _position(position)),
        ("message", lambda: rules.check_message(message)),
        ("code", lambda: (rules.compile_condition(code), code.strip())[1]),
    ):
        try:
            values[name] = check()
        except BadInput as error:
            problems.add(error.message, field=error.field)
    problems.raise_if_any()
    rule = Rule(enabled=bool(enabled), created_by_id=uow.actor.id, **values)
    uow.session.add(rule)
    forget_rules(uow.session)
    uow.commit()
    return rule


def update_rule(uow: UnitOfWork, id: int, etag: str, changes: Mapping[str, Any]) -> Rule:
    check_updatable(changes, RULE_UPDATABLE)
    rule = uow.get(Rule, id, lock=True)
    check_etag(rule, etag)
    for name, value in changes.items():
        if value is None and name != "message":
            raise BadInput(f"{name} must not be null", field=name)
    if "title" in changes:
        rule.title = rules.check_title(changes["title"])
    if "target" in changes:
        rule.target = rules.enum_value(Target, changes["target"], "target")
    if "event_type" in changes:
        rule.event_type = rules.enum_value(Event, changes["event_type"], "eventType")
    if "severity" in changes:
        rule.severity = rules.enum_value(Severity, changes["severity"], "severity")
    if "position" in changes:
        rule.position = _position(changes["position"])
    if "message" in changes:
        rule.message = rules.check_message(changes["message"])
    if "enabled" in changes:
        rule.enabled = bool(changes["enabled"])
    if "code" in changes:
        rules.compile_condition(changes["code"])
        rule.code = str(changes["code"]).strip()
    forget_rules(uow.session)
    uow.commit()
    return rule


def delete_rule(uow: UnitOfWork, id: int, etag: str) -> int:
    rule = uow.get(Rule, id, lock=True)
    check_etag(rule, etag)
    uow.session.delete(rule)
    forget_rules(uow.session)
    uow.commit()
    return id


def get_rule(session: Session, id: int) -> Rule:
    rule = session.get(Rule, id) if 0 < id <= MAX_ID else None
    if rule is None:
        raise NotFound(f"Rule {id} does not exist", field="id")
    return rule


RULE_COLUMNS = {
    "id": Rule.id, "title": Rule.title, "target": Rule.target, "eventType": Rule.event_type,
    "enabled": Rule.enabled, "order": Rule.position, "severity": Rule.severity,
}
RULE_SORTS = {"ID": Rule.id, "ORDER": Rule.position, "TITLE": Rule.title}


list_rules = Listing(Rule, RULE_COLUMNS, RULE_SORTS, default_sort=("ORDER_ASC", "ID_ASC"))


# --------------------------------------------------------------------------- running rules


def forget_rules(session: Session) -> None:
    session.info.pop(_CACHE_KEY, None)


# Read on every write: built once.
_ENABLED_RULES = (
    select(Rule.id, Rule.title, Rule.target, Rule.event_type, Rule.severity, Rule.message, Rule.code)
    .where(Rule.enabled == True)  # noqa: E712
    .order_by(Rule.position, Rule.id)
)


def enabled_rules(session: Session) -> list[CompiledRule]:
    """The enabled rules, compiled, in order; read once per transaction."""
    cached = session.info.get(_CACHE_KEY)
    if cached is not None:
        return list(cached)
    rows = session.connection().execute(_ENABLED_RULES).all()  # no autoflush: runs inside one
    compiled: list[CompiledRule] = []
    for id, title, target, event_type, severity, message, code in rows:
        try:
            program = rules.compile_condition(code)
        except BadInput as error:  # saved by an older version, or edited in the database
            raise BadInput(f"action {id} ({title}) cannot run: {error.message}", field=f"rule:{id}") from None
        compiled.append(CompiledRule(id, title, target, event_type, severity, message, program))
    session.info[_CACHE_KEY] = compiled
    return list(compiled)


def forget_rules_on_end(session: Session, transaction: Any) -> None:
    # Another transaction may see other rules: read them afresh.
    if getattr(transaction, "parent", None) is None:
        forget_rules(session)


def _user(session: Session) -> dict[str, Any]:
    actor = session.info.get("actor") or current_actor.get()
    return {"id": actor.id, "name": actor.name, "role": actor.role}


def values_of(obj: Any) -> dict[str, Any]:
    """An object's columns as a condition sees them (`check_rows` of bulk writers, their `old` values)."""
    return _values(obj)


def _values(obj: Any) -> dict[str, Any]:
    """An object's columns as the flush will write them (camelCase, as the API names them)."""
    state = inspect(obj)
    values: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in _SKIPPED:
            continue
        value = state.dict.get(attr.key, _NO_VALUE)
        if value is _NO_VALUE:
            value = state.attrs[attr.key].loaded_value
        if value is not _NO_VALUE:
            values[camel(attr.key)] = value
    return values


def _stored(session: Session, model: type[Any], ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The rows as stored before this flush, read by id: the old values of updates and
    deletes (an object's own history is not reliable once an attribute was flagged modified)."""
    mapper = inspect(model)
    attrs = [a for a in mapper.column_attrs if a.key not in _SKIPPED]
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), ID_CHUNK):
        statement = select(*(a.columns[0] for a in attrs)).where(
            mapper.primary_key[0].in_(ids[start:start + ID_CHUNK]))
        for row in session.execute(statement):
            record = {camel(a.key): value for a, value in zip(attrs, row, strict=True)}
            found[record["id"]] = record
    return found


def _enrich(session: Session, target: str, records: Iterable[Mapping[str, Any] | None]) -> None:
    """Add the part (and kit) a record points at, with one query each for all records."""
    wanted = [r for r in records if isinstance(r, dict)]
    if target not in _WITH_PART or not wanted:
        return
    part_ids = sorted({r[key] for r in wanted for key in ("partId", "parentId") if r.get(key) is not None})
    kit_ids = sorted({r["partKitId"] for r in wanted if r.get("partKitId") is not None})
    parts: dict[int, dict[str, Any]] = {}
    kits: dict[int, dict[str, Any]] = {}
    with session.no_autoflush:
        for start in range(0, len(part_ids), ID_CHUNK):
            for id, number, revision, tracking in session.execute(
                select(Part.id, Part.part_number, Part.revision, Part.tracking_type)
                .where(Part.id.in_(part_ids[start:start + ID_CHUNK]))
            ):
                parts[id] = {"id": id, "partNumber": number, "revision": revision, "trackingType": tracking}
        for start in range(0, len(kit_ids), ID_CHUNK):
            for id, status in session.execute(
                select(PartKit.id, PartKit.status).where(PartKit.id.in_(kit_ids[start:start + ID_CHUNK]))
            ):
                kits[id] = {"id": id, "status": status}
    for record in wanted:
        # An importer gives `part` itself for a part the same file creates (no id yet).
        if record.get("partId") is not None or "part" not in record:
            record["part"] = parts.get(record.get("partId"))  # type: ignore[arg-type]
        if target == Target.MBOMITEM and (record.get("parentId") is not None or "parent" not in record):
            record["parent"] = parts.get(record.get("parentId"))  # type: ignore[arg-type]
        if target == Target.PARTKITITEM:
            record["partKit"] = kits.get(record.get("partKitId"))  # type: ignore[arg-type]


def _record_warnings(session: Session, trips: Sequence[rules.Trip], target: str) -> None:
    actor = session.info.get("actor") or current_actor.get()
    for trip in trips:
        if trip.blocked:
            continue
        record = trip.change.new or trip.change.old or {}
        session.add(AuditEntry(
            at=utcnow(), actor_id=actor.id, actor=actor.name[:200], action="WARN", target_type="Rule",
            target_id=trip.rule.id,
            changes={"message": trip.message[:500], "target": target, "event": trip.change.event,
                     "objectId": record.get("id"), "row": trip.change.row},
        ))


def check_rows(
    session: Session,
    target: str,
    rows: Sequence[tuple[str, int | None, dict[str, Any] | None, dict[str, Any] | None]],
    problems: Problems,
) -> None:
    """For bulk writers: run the rules on `(event, row, old, new)` changes; every blocking
    trip becomes a problem on its row, warnings go to the audit trail."""
    active = [r for r in enabled_rules(session) if r.target == target]
    if not active or not rows:
        return
    events = {r.event for r in active}
    relevant = [row for row in rows if row[0] in events]
    _enrich(session, target, [r[2] for r in relevant] + [r[3] for r in relevant])
    # A bulk import may check 100,000 rows: its bound grows with the rows (1 ms each).
    budget = rules.DEFAULT_BUDGET_SECONDS + len(relevant) / 1000
    trips = rules.evaluate(active, target, (Change(e, old, new, row) for e, row, old, new in relevant),
                           _user(session), budget_seconds=budget)
    for trip in trips:
        if trip.blocked:
            problems.add(trip.message, row=trip.change.row, column=f"rule:{trip.rule.id}")
    if not any(trip.blocked for trip in trips):
        _record_warnings(session, trips, target)


def watched(session: Session, model: type[Any], event: Event) -> bool:
    """Whether an enabled rule runs on `event` of `model`'s rows (callers of `check_changes`
    skip building the values when none does)."""
    target = MODELS[model].value
    return any(r.target == target and r.event == event.value for r in enabled_rules(session))


def check_changes(session: Session, model: type[Any],
                  changes: Sequence[tuple[Event, dict[str, Any] | None, dict[str, Any] | None]]) -> None:
    """For writers that apply changes of loaded rows with a Core statement the flush never sees
    (one executemany instead of an UPDATE per row): run the rules on each `(event, old, new)`,
    values as `values_of` gives them, exactly as the flush would (a blocking trip refuses the
    change, warnings go to the audit trail)."""
    target = MODELS[model].value
    mine = [r for r in enabled_rules(session) if r.target == target] if changes else []
    events = {r.event for r in mine}
    relevant = [Change(event.value, old, new) for event, old, new in changes if event.value in events]
    if not relevant:
        return
    _enrich(session, target, [c.old for c in relevant] + [c.new for c in relevant])
    trips = rules.evaluate(mine, target, relevant, _user(session))
    rules.raise_blocking([t for t in trips if t.blocked])
    _record_warnings(session, trips, target)


def check_bulk_update(session: Session, model: type[Any], where: Any, values: Mapping[str, Any],
                      *, event: Event = Event.UPDATE) -> None:
    """For a set-based UPDATE (or DELETE) of the rows of `model` matching `where`, which the
    flush never sees: run the target's rules on every such row, old values as stored and new
    ones with `values` (column names) applied; a blocking trip refuses the whole statement.
    The rows are read as plain tuples, ID_CHUNK at a time by id, and only when a rule watches."""
    target = MODELS[model]
    active = [r for r in enabled_rules(session) if r.target == target and r.event == event]
    if not active:
        return
    mapper = inspect(model)
    attrs = [a for a in mapper.column_attrs if a.key not in _SKIPPED]
    key = mapper.primary_key[0]
    applied = {camel(name): value for name, value in values.items()}
    user = _user(session)
    last = 0
    trips: list[rules.Trip] = []
    with session.no_autoflush:
        while True:
            rows = session.execute(
                select(*(a.columns[0] for a in attrs)).where(where, key > last).order_by(key).limit(ID_CHUNK)
            ).all()
            if not rows:
                break
            olds = [{camel(a.key): value for a, value in zip(attrs, row, strict=True)} for row in rows]
            last = olds[-1]["id"]
            news = None if event is Event.DELETE else [{**old, **applied} for old in olds]
            changes = [Change(event.value, old, None if news is None else news[n])
                       for n, old in enumerate(olds)]
            _enrich(session, target, [*olds, *(news or [])])
            if news and "partNumber" in applied:
                # A rename: the part as read is still unflushed; show its new number.
                for record in news:
                    if record.get("part"):
                        record["part"] = {**record["part"], "partNumber": applied["partNumber"]}
            found = rules.evaluate(active, target, changes, user, budget_seconds=rules.DEFAULT_BUDGET_SECONDS)
            trips.extend(found)
            if any(t.blocked for t in found):
                break
    rules.raise_blocking([t for t in trips if t.blocked][:100])
    _record_warnings(session, trips, target)


def run_rules_on_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if session.info.get("kitwright_actions_checked"):
        return  # a bulk writer ran check_rows on every row it is flushing
    pending: dict[Target, list[tuple[Event, Any]]] = defaultdict(list)
    for kind, objects in ((Event.CREATE, session.new), (Event.UPDATE, session.dirty),
                          (Event.DELETE, session.deleted)):
        for obj in objects:
            target = MODELS.get(type(obj))
            if target is None:
                continue
            if kind is Event.UPDATE and not session.is_modified(obj, include_collections=False):
                continue
            pending[target].append((kind, obj))
    active = enabled_rules(session) if pending else []
    if not active:
        return
    watched = {(r.target, r.event) for r in active}
    found: dict[str, list[Change]] = defaultdict(list)
    with session.no_autoflush:
        for target, changed in pending.items():
            changed = [(kind, obj) for kind, obj in changed if (target.value, kind.value) in watched]
            if not changed:
                continue
            model = next(m for m, t in MODELS.items() if t is target)
            ids = sorted({obj.id for kind, obj in changed if kind is not Event.CREATE and obj.id is not None})
            stored = _stored(session, model, ids) if ids else {}
            for kind, obj in changed:
                old = None if kind is Event.CREATE else stored.get(obj.id)
                new = None if kind is Event.DELETE else _values(obj)
                found[target.value].append(Change(kind.value, old, new))
    user = _user(session)
    blocking: list[rules.Trip] = []
    for name, changes in found.items():
        mine = [r for r in active if r.target == name]
        if not mine:
            continue
        _enrich(session, name, [c.old for c in changes] + [c.new for c in changes])
        trips = rules.evaluate(mine, name, changes, user)
        blocking.extend(t for t in trips if t.blocked)
        if not any(t.blocked for t in trips):
            _record_warnings(session, trips, name)
    rules.raise_blocking(blocking)

