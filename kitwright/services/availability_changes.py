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

An answer covers a window of the log: the notes after `since` and visible at the answer's upper
bound (the reader's snapshot, or the last id, when the first page is read). Its kit x site
pairs are sorted (kit, then site) and cut in pages of `first`; a page's token carries the
window and the last pair returned, so the next page continues exactly there, and the last
page's token is the upper bound. A transaction that commits while a client pages is outside
the window (it was running at the upper bound) and comes in the next answer.

Figures are recomputed only for the kit x site pairs of the page, with the same arithmetic as
the feed (`services.availability.kit_site_figures`).

Retention. A token older than `availability_changes_retention` is refused with GONE (its
client reads the whole feed again); notes are pruned once every token still accepted has seen
them (`prune_batch`, run by `kitwright availability prune` and, a bounded batch now and then,
by writers).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, inspect, literal_column, select, text
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.util import identity_key

from kitwright.config import settings
from kitwright.domain.availability import DEFAULT_VIEW, SiteCurve, View
from kitwright.domain.errors import BadInput, Gone
from kitwright.domain.limits import ID_CHUNK
from kitwright.services import availability
from kitwright.store.models import (
    AbomItem,
    AvailabilityChange,
    AvailabilityChangeMark,
    Location,
    OrderAllocationInventory,
    Part,
    PartComponent,
    PartInventory,
    PartKitInventory,
    utcnow,
)
from kitwright.store.touch import value_before

_OLD_PLACES = "availability_old_places"
_OLD_KITS = "availability_old_kits"
# (transaction, the first note id it wrote): a mark taken in it counts only notes before it.
_OWN_FIRST = "availability_own_first"
_EXTRA_PLACES = "availability_extra_places"
_LINKS = (PartKitInventory, OrderAllocationInventory, AbomItem)
_LOCATION_KEYS = ("inventory_available", "available_soon", "site_id", "parent_id")

Place = tuple[int, int | None]  # (part, location)


# One statement per transaction, built once: the notes of every flush (and of writers that
# bypass the ORM) are kept in `session.info` and written together just before the commit
# (`_write_pending`), in the order they were noted; a rollback drops them with everything else.
_PENDING = "availability_changes_pending"
_ROW_KEYS = ("part_id", "location_id", "site_id", "kit_id")
_INSERT = insert(AvailabilityChange).returning(AvailabilityChange.id)
_INSERT_PG = insert(AvailabilityChange).values(
    xid=literal_column("pg_current_xact_id()::text::bigint")).returning(AvailabilityChange.id)


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
    written = connection.execute(
        _INSERT_PG if connection.dialect.name == "postgresql" else _INSERT, values).scalars().all()
    transaction = session.get_transaction()
    held = session.info.get(_OWN_FIRST)
    if held is None or held[0] is not transaction:
        session.info[_OWN_FIRST] = (transaction, min(written))
    _maybe_prune(session)


def write_before_commit(session: Session) -> None:
    _write_pending(session)


def forget_on_end(session: Session, transaction: Any) -> None:
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


def _value(obj: Any, key: str, *, old: bool) -> Any:
    """The attribute's value before the flush (`old`) or now; NO_VALUE when not held."""
    state: Any = inspect(obj)
    if old and key in state.committed_state:
        return value_before(state.session, obj, key)
    return state.dict.get(key, NO_VALUE)


def note_old_places(session: Session, _flush: UOWTransaction, _instances: object) -> None:
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
    deleted_parts = sorted(obj.id for obj in session.deleted if isinstance(obj, Part) and obj.id)
    if deleted_parts:
        # The database deletes a deleted part's kit definition (ON DELETE CASCADE), unseen by
        # the flush: note the kit now, while its definition still says it is one.
        session.info[_OLD_KITS] = set(session.connection().scalars(
            select(PartComponent.part_id).where(PartComponent.part_id.in_(deleted_parts)).distinct()))


def note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    old: dict[int, Place] = session.info.pop(_OLD_PLACES, {})
    places: set[Place] = set(old.values()) | session.info.pop(_EXTRA_PLACES, set())
    sites: set[int] = set()
    kits: set[int] = set(session.info.pop(_OLD_KITS, ()))
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


# -- tokens ---------------------------------------------------------------------------------
#
# A token is opaque to clients: base64url of "v2;engine;issued;position" for a point in the log,
# with ";upper_issued;upper;kit,site" added while a window is paged (`-` before the first pair).
# `issued` is when the point was taken (Unix microseconds; the database's clock on PostgreSQL,
# as marks are), for the retention check. Tokens "v1:engine:position" (no `issued`) are read
# as taken at the epoch: too old.

_MAX_XID = 2**63 - 1


@dataclass(frozen=True)
class Mark:
    """A point in the log: a snapshot ("xmin:xmax:xip,...") on PostgreSQL, a note id on
    SQLite, and when it was taken (Unix microseconds)."""

    position: str
    issued: int


@dataclass(frozen=True)
class Token:
    since: Mark
    upper: Mark | None = None  # set while a window is paged
    after: tuple[int, int] | None = None  # the last (kit, site) returned


def _refuse() -> BadInput:
    return BadInput("since must be a token returned by kitAvailabilityChanges", field="since")


def _valid_position(engine: str, position: str) -> bool:
    if engine != "postgresql":
        return position.isdigit() and int(position) <= _MAX_XID
    # pg_snapshot's own rules, checked here so a bad token is the client's error, not ours.
    parts = position.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return False
    xmin, xmax = int(parts[0]), int(parts[1])
    running = parts[2].split(",") if parts[2] else []
    if not 0 < xmin <= xmax <= _MAX_XID or not all(x.isdigit() for x in running):
        return False
    xids = [int(x) for x in running]
    return xids == sorted(xids) and all(xmin <= x < xmax for x in xids)


def _mark(engine: str, issued: str, position: str) -> Mark:
    if not issued.isdigit() or len(issued) > 18 or not _valid_position(engine, position):
        raise _refuse()
    return Mark(position, int(issued))


def _encode(engine: str, token: Token) -> str:
    fields = ["v2", engine, str(token.since.issued), token.since.position]
    if token.upper is not None:
        after = "-" if token.after is None else f"{token.after[0]},{token.after[1]}"
        fields += [str(token.upper.issued), token.upper.position, after]
    return base64.urlsafe_b64encode(";".join(fields).encode()).decode().rstrip("=")


def _decode(token: str, engine: str) -> Token:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _refuse() from None
    if text.startswith("v1:"):
        _version, kind, position = [*text.split(":", 2), "", ""][:3]
        if kind != engine or not _valid_position(engine, position):
            raise _refuse()
        return Token(Mark(position, 0))
    fields = text.split(";")
    if len(fields) not in (4, 7) or fields[0] != "v2" or fields[1] != engine:
        raise _refuse()
    since = _mark(engine, fields[2], fields[3])
    if len(fields) == 4:
        return Token(since)
    upper = _mark(engine, fields[4], fields[5])
    if fields[6] == "-":
        return Token(since, upper)
    kit, _, site = fields[6].partition(",")
    if not kit.isdigit() or not site.isdigit() or len(kit) > 19 or len(site) > 19:
        raise _refuse()
    return Token(since, upper, (int(kit), int(site)))


def _micros(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _here(session: Session) -> Mark:
    """The current point: the reader's snapshot on PostgreSQL (a note is new to its holder
    exactly when that snapshot could not see its transaction, `pg_visible_in_snapshot`, however
    late the transaction commits), the last note id on SQLite. Its time is no later than the
    snapshot (the statement's start on PostgreSQL)."""
    engine = session.connection().dialect.name
    if engine == "postgresql":
        position, at = session.execute(select(literal_column("pg_current_snapshot()::text"),
                                              func.statement_timestamp())).one()
        return Mark(str(position), _micros(at))
    at = utcnow()
    return Mark(str(int(session.scalar(select(func.max(AvailabilityChange.id))) or 0)), _micros(at))


def current_token(session: Session) -> str:
    """A token for "now": changes committed after it are reported from it."""
    return _encode(session.connection().dialect.name, Token(_here(session)))


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """Figures of the kit x site pairs that changed (kit, then site ascending), and the token
    to ask from next time; `has_next_page` when the window holds more pairs than this page."""

    token: str
    as_of: dt.date
    figures: list[tuple[int, SiteCurve]]
    has_next_page: bool = False


def changes_since(
    session: Session,
    since: str | None,
    *,
    view: View = DEFAULT_VIEW,
    as_of: dt.date | None = None,
    first: int | None = None,
    now: dt.datetime | None = None,
) -> Changes:
    """kitAvailabilityChanges: the current figures of every kit x site whose supply changed
    since `since` (none when `since` is None: then only the token to start from), at most
    `first` of them (None: all)."""
    day = as_of or availability.today()
    engine = session.connection().dialect.name
    if first is not None and first < 0:
        raise BadInput("first must not be negative", field="first")
    if since is None:
        return Changes(current_token(session), day, [])
    token = _decode(since, engine)
    _check_age(token.since, now or _clock(session.connection()))
    upper = token.upper or _here(session)
    rows = _window(session, engine, token.since.position, upper.position)
    affected = affected_pairs(session, rows)
    pairs = sorted((kit, site) for kit, sites in affected.items() for site in sites)
    if token.after is not None:
        pairs = [pair for pair in pairs if pair > token.after]
    page = pairs if first is None else pairs[:first]
    more = len(page) < len(pairs)
    wanted: dict[int, set[int]] = {}
    for kit, site in page:
        wanted.setdefault(kit, set()).add(site)
    figures = availability.kit_site_figures(session, wanted, view=view, as_of=day)
    # More to come: the same window, after the last pair returned; else the window's end.
    next_token = Token(token.since, upper, page[-1] if page else token.after) if more else Token(upper)
    return Changes(_encode(engine, next_token), day, figures, more)


def _window(session: Session, engine: str, since: str, upper: str) -> list[Any]:
    """The distinct targets of the notes after `since` up to `upper`."""
    stmt = select(AvailabilityChange.part_id, AvailabilityChange.location_id, AvailabilityChange.site_id,
                  AvailabilityChange.kit_id).distinct()
    if engine == "postgresql":
        xid = "(availability_change.xid::text)::xid8"
        window = text(f"NOT pg_visible_in_snapshot({xid}, CAST(:since_snapshot AS pg_snapshot)) "
                      f"AND pg_visible_in_snapshot({xid}, CAST(:upper_snapshot AS pg_snapshot))").bindparams(
            since_snapshot=since, upper_snapshot=upper)
        # The xid range lets the index narrow the scan; the snapshots decide.
        lowest, highest = int(since.split(":", 1)[0]), int(upper.split(":", 2)[1])
        stmt = stmt.where(AvailabilityChange.xid >= lowest, AvailabilityChange.xid < highest, window)
    else:
        stmt = stmt.where(AvailabilityChange.id > int(since), AvailabilityChange.id <= int(upper))
    return list(session.execute(stmt))


def _check_age(mark: Mark, now: dt.datetime) -> None:
    """A token older than the retention may miss pruned notes (see `prune_batch`): refused."""
    retention = settings().availability_changes_retention
    if mark.issued < _micros(now - retention):
        raise Gone(
            f"the token is older than the {retention.total_seconds() / 3600:g} hours changes are kept, so some "
            "changes after it may be gone. Read the whole feed again (kitAvailabilityFeed), with a token from "
            "kitAvailabilityChanges without since taken before it",
            field="since",
        )


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
        # A deleted site (only an empty one can be) has no figures left to report.
        sites = set(session.scalars(select(Location.id).where(Location.id.in_(sorted(sites)),
                                                              Location.parent_id.is_(None))))
    if sites:
        for kit in session.scalars(select(PartComponent.part_id).distinct()):
            affected.setdefault(kit, set()).update(sites)
    if kits:
        roots = set(session.scalars(select(Location.id).where(Location.parent_id.is_(None))))
        for kit in kits:
            affected.setdefault(kit, set()).update(roots)
    return affected


# -- retention ------------------------------------------------------------------------------
#
# A note may be deleted once a mark older than the retention had seen it: every token young
# enough to be accepted (`_check_age`) was taken after that mark, so it saw the note too. The
# clock of marks and tokens is the database's on PostgreSQL (a mark's time is taken after its
# snapshot, a token's before), the app's on SQLite. Notes live the retention plus at most one
# mark interval.

# A writer prunes at most this often per process, at most ID_CHUNK notes at a time: a bounded
# cost now and then, however long the log (indexes on xid / id find the notes).
PRUNE_EVERY_SECONDS = 60.0
MAX_MARK_EVERY = dt.timedelta(hours=1)
_prune_lock = threading.Lock()
_next_prune = 0.0


def _clock(connection: Connection) -> dt.datetime:
    if connection.dialect.name == "postgresql":
        return connection.execute(select(func.clock_timestamp())).scalar_one()  # type: ignore[no-any-return]
    return utcnow()


def _maybe_prune(session: Session) -> None:
    global _next_prune
    clock = time.monotonic()
    with _prune_lock:
        if clock < _next_prune:
            return
        _next_prune = clock + PRUNE_EVERY_SECONDS
    now = _clock(session.connection())
    _mark_if_due(session, now)
    prune_batch(session, limit=ID_CHUNK, now=now)


def _mark_if_due(session: Session, now: dt.datetime) -> None:
    last = session.connection().execute(select(func.max(AvailabilityChangeMark.at))).scalar()
    if last is None or last <= now - min(MAX_MARK_EVERY, settings().availability_changes_retention / 10):
        mark(session)


def mark(session: Session) -> None:
    """Note, in the session's transaction, the log's point as committed now and its time."""
    position, at = committed_position(session)
    session.connection().execute(insert(AvailabilityChangeMark).values(at=at, position=position))


def committed_position(session: Session) -> tuple[str, dt.datetime]:
    """The log's point counting committed notes only (not this transaction's own), and a time
    no earlier than it."""
    connection = session.connection()
    own = session.info.get(_OWN_FIRST)
    mine = own[1] if own is not None and own[0] is session.get_transaction() else None
    if connection.dialect.name == "postgresql":
        snapshot, xid, at = connection.execute(select(
            literal_column("pg_current_snapshot()::text"), literal_column("pg_current_xact_id_if_assigned()::text"),
            func.clock_timestamp())).one()
        xmin, xmax, running = str(snapshot).split(":")
        xids = {int(x) for x in running.split(",") if x}
        if xid is not None:
            xids.add(int(xid))  # this transaction's notes are not committed
        low = min([int(xmin), *xids])
        return f"{low}:{xmax}:{','.join(str(x) for x in sorted(xids))}", at
    if mine is not None:
        return str(mine - 1), utcnow()  # one writer at a time: every lower id is committed
    return str(int(connection.execute(select(func.max(AvailabilityChange.id))).scalar() or 0)), utcnow()


def prune_batch(session: Session, *, limit: int, now: dt.datetime | None = None) -> int:
    """In the session's transaction, delete up to `limit` notes the newest mark older than the
    retention had seen (and the marks before that one). The newest note always stays, so
    SQLite never hands out a deleted id again. Concurrent pruners skip each other's rows
    instead of waiting."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    now = now or _clock(connection)
    usable = connection.execute(
        select(AvailabilityChangeMark.at, AvailabilityChangeMark.position)
        .where(AvailabilityChangeMark.at <= now - settings().availability_changes_retention)
        .order_by(AvailabilityChangeMark.at.desc()).limit(1)
    ).first()
    if usable is None:
        return 0
    at, position = usable
    older = select(AvailabilityChangeMark.id).where(AvailabilityChangeMark.at < at)
    connection.execute(delete(AvailabilityChangeMark).where(AvailabilityChangeMark.id.in_(
        older.with_for_update(skip_locked=True) if postgres else older)))
    newest = select(func.max(AvailabilityChange.id)).scalar_subquery()
    if postgres:
        seen = text("pg_visible_in_snapshot((availability_change.xid::text)::xid8, CAST(:mark AS pg_snapshot))"
                    ).bindparams(mark=position)
        victims = (select(AvailabilityChange.id)
                   .where(AvailabilityChange.xid < int(position.split(":")[1]), seen, AvailabilityChange.id < newest)
                   .order_by(AvailabilityChange.xid).limit(limit).with_for_update(skip_locked=True))
    else:
        victims = (select(AvailabilityChange.id)
                   .where(AvailabilityChange.id <= int(position), AvailabilityChange.id < newest)
                   .order_by(AvailabilityChange.id).limit(limit))
    return connection.execute(delete(AvailabilityChange).where(AvailabilityChange.id.in_(victims))).rowcount


def prune(session: Session, *, batch: int = ID_CHUNK) -> int:
    """Delete every note a mark older than the retention had seen, one transaction per `batch`
    notes; returns how many. For `kitwright availability prune` (writers also prune, a batch
    at most a minute per process)."""
    from kitwright.services.uow import UnitOfWork  # services.uow imports this module

    total = 0
    while True:
        with UnitOfWork(session) as uow:
            now = _clock(uow.session.connection())
            _mark_if_due(uow.session, now)
            removed = prune_batch(uow.session, limit=batch, now=now)
            uow.commit()
        total += removed
        if removed < batch:
            return total
