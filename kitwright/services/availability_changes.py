"""Incremental availability: which kit x site figures changed since a token (docs/retail.md).

Writing. Session flush hooks note every supply change in `availability_change`, in the same
transaction as the change itself (one INSERT just before the commit), so a change and its note
commit or roll back together:

* an inventory record created, changed or deleted: (part, location) before and after;
* a link that commits a record (kitted, allocated, installed) created, changed or removed:
  the record's (part, location);
* a location whose flags (`inventoryAvailable`, `availableSoon`) or place (site) changed:
  every kit at its old and new site;
* a kit definition row added, changed or removed: that kit at every site.

Writers that bypass the ORM (set-based moves, the definition rewrite) call `note_places`
or `note_kits` themselves.

Reading. A token says up to where a client has seen. Ids come from a sequence before commit,
so on PostgreSQL a later id can become visible before an earlier one: paging on ids would skip
the earlier one. Each note therefore carries its transaction id (`xid`), and a token is the
xmin of the reader's snapshot (the oldest transaction still running, taken BEFORE the notes are
read): every transaction below it has finished, and any that commits later has an xid at or
above it, so reading `xid >= token` next time cannot miss it (a note may be reported twice;
figures are idempotent). SQLite runs one writer at a time, so ids there are in commit order
and the token is the last id read.

Figures are recomputed only for the kit x site pairs the notes name, with the same arithmetic
as the feed (`services.availability.kit_site_figures`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, insert, inspect, literal_column, select, text
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.util import identity_key

from kitwright.domain.availability import DEFAULT_VIEW, SiteCurve, View
from kitwright.domain.errors import BadInput
from kitwright.services import availability
from kitwright.store.models import (
    AbomItem,
    AvailabilityChange,
    Location,
    OrderAllocationInventory,
    PartComponent,
    PartInventory,
    PartKitInventory,
    utcnow,
)
from kitwright.store.touch import value_before

_OLD_PLACES = "availability_old_places"
_EXTRA_PLACES = "availability_extra_places"
_LINKS = (PartKitInventory, OrderAllocationInventory, AbomItem)
_LOCATION_KEYS = ("inventory_available", "available_soon", "site_id", "parent_id")

Place = tuple[int, int | None]  # (part, location)


# One statement per transaction, built once: the notes of every flush (and of writers that
# bypass the ORM) are kept in `session.info` and written together just before the commit
# (`_write_pending`), in the order they were noted; a rollback drops them with everything else.
_PENDING = "availability_changes_pending"
_ROW_KEYS = ("part_id", "location_id", "site_id", "kit_id")
_INSERT = insert(AvailabilityChange)
_INSERT_PG = insert(AvailabilityChange).values(xid=literal_column("pg_current_xact_id()::text::bigint"))


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.info.setdefault(_PENDING, []).extend(rows)


def _write_pending(session: Session) -> None:
    """Write the notes of this transaction in one INSERT (called before the commit)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # its notes join the others
    extra = session.info.pop(_EXTRA_PLACES, None)
    if extra:
        note_places(session, extra)
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    now = utcnow()
    values = [{**dict.fromkeys(_ROW_KEYS), **row, "at": now} for row in rows]
    connection = session.connection()
    connection.execute(_INSERT_PG if connection.dialect.name == "postgresql" else _INSERT, values)


def _write_before_commit(session: Session) -> None:
    _write_pending(session)


def _forget_on_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_EXTRA_PLACES, None)


def note_places(session: Session, places: Iterable[Place]) -> None:
    """Note supply changes of parts at locations (for writers that bypass the ORM)."""
    _write(session, [{"part_id": p, "location_id": loc} for p, loc in sorted(set(places), key=str)
                     if loc is not None])


def note_flushed_places(session: Session, places: Iterable[Place]) -> None:
    """Note supply changes of records written by a statement the flush does not see, as if the
    flush had seen them: they join the places of the next flush (or of the commit)."""
    session.info.setdefault(_EXTRA_PLACES, set()).update(places)


def note_kits(session: Session, kit_ids: Iterable[int]) -> None:
    """Note that kits' definitions changed (for writers that bypass the ORM)."""
    _write(session, [{"kit_id": kit} for kit in sorted(set(kit_ids))])


_WATCHED = "availability_changes_watched"


def watch(session: Session) -> None:
    """Log the supply changes of every flush of `session` from now on (once per session; the
    unit of work calls it, as it does for the audit trail)."""
    if session.info.get(_WATCHED):
        return
    event.listen(session, "before_flush", _note_old_places)
    event.listen(session, "after_flush", _note_changes)
    event.listen(session, "before_commit", _write_before_commit)
    event.listen(session, "after_transaction_end", _forget_on_end)
    session.info[_WATCHED] = True


def _value(obj: Any, key: str, *, old: bool) -> Any:
    """The attribute's value before the flush (`old`) or now; NO_VALUE when not held."""
    state: Any = inspect(obj)
    if old and key in state.committed_state:
        return value_before(state.session, obj, key)
    return state.dict.get(key, NO_VALUE)


def _note_old_places(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Where changed or deleted records were before this flush (read now: the flush overwrites
    it). Values the session does not hold are read in one SELECT."""
    old: dict[int, Place] = {}
    unknown: list[int] = []
    for obj in (*session.dirty, *session.deleted):
        if not isinstance(obj, PartInventory) or obj.id is None:
            continue
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        part, location = _value(obj, "part_id", old=True), _value(obj, "location_id", old=True)
        if part is NO_VALUE or location is NO_VALUE:
            unknown.append(obj.id)
        else:
            old[obj.id] = (part, location)
    if unknown:
        stmt = select(PartInventory.id, PartInventory.part_id, PartInventory.location_id).where(
            PartInventory.id.in_(sorted(unknown)))
        for id_, part, location in session.connection().execute(stmt):
            old[id_] = (part, location)
    session.info[_OLD_PLACES] = old


def _note_changes(session: Session, _flush: UOWTransaction) -> None:
    old: dict[int, Place] = session.info.pop(_OLD_PLACES, {})
    places: set[Place] = set(old.values()) | session.info.pop(_EXTRA_PLACES, set())
    sites: set[int] = set()
    kits: set[int] = set()
    linked: set[int] = set()
    for kind, objects in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in objects:
            if isinstance(obj, PartInventory):
                if obj.id in old:
                    before = old[obj.id]
                    part, location = _value(obj, "part_id", old=False), _value(obj, "location_id", old=False)
                    places.add((before[0] if part is NO_VALUE else part,
                                before[1] if location is NO_VALUE else location))
                elif kind == "new":
                    places.add((obj.part_id, obj.location_id))
            elif isinstance(obj, _LINKS):
                for when in (True, False):
                    record = _value(obj, "part_inventory_id", old=when)
                    if record is not NO_VALUE and record is not None:
                        linked.add(record)
            elif isinstance(obj, Location) and kind != "new":
                if kind == "dirty" and not any(
                    key in inspect(obj).committed_state for key in _LOCATION_KEYS
                ):
                    continue
                for when in (True, False):
                    site = _value(obj, "site_id", old=when)
                    if site is not NO_VALUE and site is not None:
                        sites.add(site)
            elif isinstance(obj, PartComponent):
                for when in (True, False):
                    kit = _value(obj, "part_id", old=when)
                    if kit is not NO_VALUE and kit is not None:
                        kits.add(kit)
    if linked:
        missing = []
        for record_id in linked:
            held = session.identity_map.get(identity_key(PartInventory, record_id))
            part = _value(held, "part_id", old=False) if held is not None else NO_VALUE
            location = _value(held, "location_id", old=False) if held is not None else NO_VALUE
            if part is NO_VALUE or location is NO_VALUE:
                missing.append(record_id)
            else:
                places.add(_place(part, location))
        if missing:
            stmt = select(PartInventory.part_id, PartInventory.location_id).where(
                PartInventory.id.in_(sorted(missing)))
            places.update((part, location) for part, location in session.connection().execute(stmt))
    rows: list[dict[str, Any]] = [
        {"part_id": part, "location_id": location}
        for part, location in sorted(places, key=str) if location is not None and part is not None
    ]
    rows += [{"site_id": site} for site in sorted(sites)]
    rows += [{"kit_id": kit} for kit in sorted(kits)]
    _write(session, rows)


def _place(part: Any, location: Any) -> Place:
    return part, location


# -- reading --------------------------------------------------------------------------------


_SNAPSHOT = re.compile(r"[0-9]+:[0-9]+:[0-9,]*")


def _encode(engine: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{engine}:{position}".encode()).decode().rstrip("=")


def _decode(token: str, engine: str) -> str:
    """The position in a token: a snapshot ("xmin:xmax:xip,...") on PostgreSQL, an id on SQLite."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        version, kind, position = text.split(":", 2)
        valid = _SNAPSHOT.fullmatch(position) if kind == "postgresql" else position.isdigit()
        if version != "v1" or kind != engine or not valid:
            raise ValueError
        return position
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput("since must be a token returned by kitAvailabilityChanges", field="since") from None


def current_token(session: Session) -> str:
    """A token for "now": changes committed after it are reported from it.

    On PostgreSQL the token is the reader's snapshot: a note is new to its holder exactly when
    that snapshot could not see its transaction (`pg_visible_in_snapshot`), however late the
    transaction commits."""
    engine = session.connection().dialect.name
    if engine == "postgresql":
        return _encode(engine, str(session.scalar(select(literal_column("pg_current_snapshot()::text")))))
    return _encode(engine, str(int(session.scalar(select(func.max(AvailabilityChange.id))) or 0)))


@dataclass(frozen=True)
class Changes:
    """Figures of the kit x site pairs that changed (kit, then site ascending), and the token
    to ask from next time."""

    token: str
    as_of: dt.date
    figures: list[tuple[int, SiteCurve]]


def changes_since(
    session: Session, since: str | None, *, view: View = DEFAULT_VIEW, as_of: dt.date | None = None
) -> Changes:
    """kitAvailabilityChanges: the current figures of every kit x site whose supply changed
    since `since` (none when `since` is None: then only the token to start from)."""
    day = as_of or availability.today()
    engine = session.connection().dialect.name
    if since is None:
        return Changes(current_token(session), day, [])
    position = _decode(since, engine)
    stmt = select(AvailabilityChange.id, AvailabilityChange.part_id, AvailabilityChange.location_id,
                  AvailabilityChange.site_id, AvailabilityChange.kit_id)
    if engine == "postgresql":
        # The new token first: notes read below come from a snapshot taken at or after it, so
        # a note is at worst reported twice, never skipped.
        token = current_token(session)
        xmin = int(position.split(":", 1)[0])
        unseen = text("NOT pg_visible_in_snapshot((availability_change.xid::text)::xid8, "
                      "CAST(:since_snapshot AS pg_snapshot))").bindparams(since_snapshot=position)
        rows = session.execute(stmt.where(AvailabilityChange.xid >= xmin, unseen)).all()
    else:
        rows = session.execute(stmt.where(AvailabilityChange.id > int(position))).all()
        token = _encode(engine, str(max([int(position), *(row.id for row in rows)])))
    affected = affected_pairs(session, rows)
    return Changes(token, day, availability.kit_site_figures(session, affected, view=view, as_of=day))


def affected_pairs(session: Session, rows: Iterable[Any]) -> dict[int, set[int]]:
    """kit -> sites whose figures the notes can have moved."""
    places: set[tuple[int, int]] = set()
    sites: set[int] = set()
    kits: set[int] = set()
    for row in rows:
        if row.kit_id is not None:
            kits.add(row.kit_id)
        elif row.site_id is not None:
            sites.add(row.site_id)
        elif row.part_id is not None and row.location_id is not None:
            places.add((row.part_id, row.location_id))
    affected: dict[int, set[int]] = {}
    if places:
        stmt = select(Location.id, Location.site_id).where(Location.id.in_(sorted({loc for _p, loc in places})))
        site_of: dict[int, int | None] = {row[0]: row[1] for row in session.execute(stmt)}
        by_part: dict[int, set[int]] = {}
        for part, location in places:
            site = site_of.get(location)
            if site is not None:
                by_part.setdefault(part, set()).add(site)
        if by_part:
            for kit, component in session.execute(select(PartComponent.part_id, PartComponent.component_part_id)
                                                  .where(PartComponent.component_part_id.in_(sorted(by_part)))):
                affected.setdefault(kit, set()).update(by_part[component])
    if sites:
        for kit in session.scalars(select(PartComponent.part_id).distinct()):
            affected.setdefault(kit, set()).update(sites)
    if kits:
        roots = set(session.scalars(select(Location.id).where(Location.parent_id.is_(None))))
        for kit in kits:
            affected.setdefault(kit, set()).update(roots)
    return affected
