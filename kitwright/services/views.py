"""Read models for the web pages: what a page shows, in a few set-based queries.

Pages never query the database themselves; they call these functions (and the list functions
of the other services), as the API calls the services. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import Session

from kitwright.domain import kits as rules
from kitwright.domain.kits import PartKitStatus
from kitwright.domain.quantities import ZERO, from_units
from kitwright.services.kits import kitted_by_item, list_part_kits
from kitwright.services.uow import get
from kitwright.store.models import (
    LedgerEntry,
    Location,
    Part,
    PartComponent,
    PartInventory,
    PartKit,
    PartKitInventory,
    PartKitItem,
    User,
    status_expression,
)
from kitwright.store.queries import PageRequest

BOARD_LIMIT = 500  # kits on one board; filters narrow it


def counts(session: Session) -> dict[str, int]:
    def count(model: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return {"parts": count(Part), "locations": count(Location), "records": count(PartInventory),
            "kits": count(PartKit)}


def location_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(Location.id, Location.name).where(Location.id.in_(wanted))).all())


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


def location_choices(session: Session) -> list[Choice]:
    """Every location that is not archived, labelled with its site, for pickers."""
    rows = session.execute(
        select(Location.id, Location.name, Location.site_id).where(Location.archived == False)  # noqa: E712
        .order_by(Location.path, Location.id)
    ).all()
    names = {rid: name for rid, name, _site in rows}
    return [Choice(rid, name if site in (None, rid) else f"{name} ({names.get(site, site)})")
            for rid, name, site in rows]


def user_choices(session: Session) -> list[Choice]:
    rows = session.execute(select(User.id, User.name).where(User.active == True, User.id != 1)  # noqa: E712
                           .order_by(User.name))
    return [Choice(uid, name) for uid, name in rows]


def part_choices(session: Session, limit: int = 1000) -> list[Choice]:
    rows = session.execute(select(Part.id, Part.part_number, Part.revision, Part.description)
                           .order_by(Part.part_number, Part.revision, Part.id).limit(limit))
    return [Choice(pid, f"{number}{' rev ' + rev if rev else ''}{' · ' + desc if desc else ''}")
            for pid, number, rev, desc in rows]


# --------------------------------------------------------------------------- kits board


@dataclass
class KitCard:
    kit: PartKit
    items: int
    kitted_in_full: int  # items holding all they ask for
    assignee: str | None
    location: str | None


def kit_board(
    session: Session, filters: Mapping[str, Mapping[str, Any]]
) -> dict[PartKitStatus, list[KitCard]]:
    """Kits matching `filters` (services.kits column names), in columns by status; within a
    column, by priority (lower first, none last), then oldest first."""
    page = list_part_kits(session, filters, ["ID_ASC"], PageRequest(first=BOARD_LIMIT))
    kits = page.rows
    ids = [k.id for k in kits]
    rows = session.execute(
        select(PartKitItem.id, PartKitItem.part_kit_id, PartKitItem.quantity).where(PartKitItem.part_kit_id.in_(ids))
    ).all() if ids else []
    kitted = kitted_by_item(session, (r[0] for r in rows))
    totals: dict[int, tuple[int, int]] = {}
    for item_id, kit_id, requested in rows:
        n, done = totals.get(kit_id, (0, 0))
        totals[kit_id] = (n + 1, done + (rules.remaining_quantity(requested, kitted[item_id]) <= ZERO))
    users = user_names(session, (k.assigned_to_id for k in kits))
    places = location_names(session, (k.current_location_id or k.delivery_location_id for k in kits))
    board: dict[PartKitStatus, list[KitCard]] = {status: [] for status in PartKitStatus}
    for kit in sorted(kits, key=lambda k: (k.priority is None, k.priority or 0, k.created_at, k.id)):
        n, done = totals.get(kit.id, (0, 0))
        where = kit.current_location_id or kit.delivery_location_id
        board[PartKitStatus(kit.status)].append(KitCard(
            kit, n, done,
            users.get(kit.assigned_to_id) if kit.assigned_to_id else None,
            places.get(where) if where else None,
        ))
    return board


# --------------------------------------------------------------------------- kit page


@dataclass
class HeldRecord:
    record_id: int
    serial_number: str | None
    lot_number: str | None
    quantity: Decimal
    location: str | None
    etag: str


@dataclass
class ItemLine:
    item: PartKitItem
    part_number: str
    revision: str
    description: str | None
    tracking: str
    kitted: Decimal
    remaining: Decimal
    held: list[HeldRecord] = field(default_factory=list)


@dataclass
class KitView:
    kit: PartKit
    status: PartKitStatus
    lines: list[ItemLine]
    staging: str | None
    delivery: str | None
    current: str | None
    assignee: str | None
    created_by: str | None

    @property
    def complete(self) -> bool:
        return all(line.remaining <= ZERO for line in self.lines)

    @property
    def held_count(self) -> int:
        return sum(len(line.held) for line in self.lines)


def kit_view(session: Session, kit_id: int) -> KitView:
    kit = get(session, PartKit, kit_id)
    rows = session.execute(
        select(PartKitItem, Part.part_number, Part.revision, Part.description, Part.tracking_type)
        .join(Part, Part.id == PartKitItem.part_id)
        .where(PartKitItem.part_kit_id == kit.id).order_by(PartKitItem.id)
    ).all()
    kitted = kitted_by_item(session, [row[0].id for row in rows])
    lines = {item.id: ItemLine(item, number, rev, desc, tracking, kitted[item.id],
                               rules.remaining_quantity(item.quantity, kitted[item.id]))
             for item, number, rev, desc, tracking in rows}
    held = session.execute(
        select(PartKitInventory.part_kit_item_id, PartInventory.id, PartInventory.serial_number,
               PartInventory.lot_number, PartKitInventory.issued_quantity, Location.name, PartInventory.etag)
        .join(PartInventory, PartInventory.id == PartKitInventory.part_inventory_id)
        .outerjoin(Location, Location.id == PartInventory.location_id)
        .where(PartKitInventory.part_kit_id == kit.id, PartKitInventory.released == False)  # noqa: E712
        .order_by(PartInventory.id)
    )
    for item_id, rid, serial, lot, q, where, etag in held:
        if item_id in lines:
            lines[item_id].held.append(HeldRecord(rid, serial, lot, q, where, etag))
    places = location_names(session, [kit.staging_location_id, kit.delivery_location_id, kit.current_location_id])
    users = user_names(session, [kit.assigned_to_id, kit.created_by_id])
    return KitView(
        kit, PartKitStatus(kit.status), list(lines.values()),
        places.get(kit.staging_location_id) if kit.staging_location_id else None,
        places.get(kit.delivery_location_id) if kit.delivery_location_id else None,
        places.get(kit.current_location_id) if kit.current_location_id else None,
        users.get(kit.assigned_to_id) if kit.assigned_to_id else None,
        users.get(kit.created_by_id) if kit.created_by_id else None,
    )


# --------------------------------------------------------------------------- record page


@dataclass
class RecordView:
    record: PartInventory
    status: str
    part: Part
    location: str | None
    location_trail: list[str]
    site: str | None
    kit_id: int | None
    kit_status: str | None
    kit_item_id: int | None
    history: list[LedgerEntry]
    origin_id: int | None


def _trail(session: Session, location_id: int | None) -> list[str]:
    if location_id is None:
        return []
    location = get(session, Location, location_id)
    ids = [int(p) for p in location.path.strip("/").split("/") if p.isdigit()] or [location.id]
    names = location_names(session, ids)
    return [names.get(i, str(i)) for i in ids]


def record_view(session: Session, record_id: int, history_limit: int = 500) -> RecordView:
    from kitwright.services.ledger import list_ledger_entries

    record = get(session, PartInventory, record_id)
    status = session.scalar(select(status_expression()).where(PartInventory.id == record.id)) or ""
    part = get(session, Part, record.part_id)
    link = session.execute(
        select(PartKitInventory.part_kit_id, PartKitInventory.part_kit_item_id, PartKit.status)
        .join(PartKit, PartKit.id == PartKitInventory.part_kit_id)
        .where(PartKitInventory.part_inventory_id == record.id, PartKitInventory.released == False)  # noqa: E712
    ).first()
    trail = _trail(session, record.location_id)
    history = list_ledger_entries(session, {"partInventoryId": {"eq": record.id}}, ["ID_ASC"],
                                  PageRequest(first=history_limit)).rows
    return RecordView(
        record, str(status), part, trail[-1] if trail else None, trail, trail[0] if trail else None,
        link[0] if link else None, link[2] if link else None, link[1] if link else None,
        list(history), record.origin_part_inventory_id,
    )


# --------------------------------------------------------------------------- part page


@dataclass
class StockLine:
    location_id: int | None
    location: str | None
    site: str | None
    status: str
    records: int
    quantity: Decimal


@dataclass
class PartView:
    part: Part
    stock: list[StockLine]
    by_site: dict[str, dict[str, Decimal]]
    kits: list[tuple[PartKit, Decimal]]
    components: list[tuple[Part, Decimal]]
    used_in: list[tuple[Part, Decimal]]


def part_view(session: Session, part_id: int, kit_limit: int = 100) -> PartView:
    part = get(session, Part, part_id)
    status = status_expression()
    units = type_coerce(func.sum(type_coerce(PartInventory.quantity, BigInteger)), BigInteger)
    rows = session.execute(
        select(PartInventory.location_id, status.label("status"), func.count(), units)
        .where(PartInventory.part_id == part.id)
        .group_by(PartInventory.location_id, status)
    ).all()
    location_ids = [r[0] for r in rows if r[0] is not None]
    sites = dict(session.execute(
        select(Location.id, Location.site_id).where(Location.id.in_(location_ids))).all()) if location_ids else {}
    names = location_names(session, [*location_ids, *sites.values()])
    stock = [
        StockLine(lid, names.get(lid) if lid else None, names.get(sites.get(lid) or 0) if lid else None,
                  str(st), int(n), from_units(int(u or 0)))
        for lid, st, n, u in rows
    ]
    stock.sort(key=lambda s: (s.site or "", s.location or "", s.status))
    by_site: dict[str, dict[str, Decimal]] = {}
    for line in stock:
        bucket = by_site.setdefault(line.site or "nowhere", {})
        bucket[line.status] = bucket.get(line.status, ZERO) + line.quantity
    kits = session.execute(
        select(PartKit, func.sum(type_coerce(PartKitItem.quantity, BigInteger)))
        .join(PartKitItem, PartKitItem.part_kit_id == PartKit.id)
        .where(PartKitItem.part_id == part.id)
        .group_by(PartKit.id).order_by(PartKit.id.desc()).limit(kit_limit)
    ).all()
    components = session.execute(
        select(Part, PartComponent.quantity).join(PartComponent, PartComponent.component_part_id == Part.id)
        .where(PartComponent.part_id == part.id).order_by(Part.part_number)
    ).all()
    used_in = session.execute(
        select(Part, PartComponent.quantity).join(PartComponent, PartComponent.part_id == Part.id)
        .where(PartComponent.component_part_id == part.id).order_by(Part.part_number)
    ).all()
    return PartView(
        part, stock, by_site, [(k, from_units(int(u or 0))) for k, u in kits],
        [(p, q) for p, q in components], [(p, q) for p, q in used_in],
    )


def retail_kits(session: Session, limit: int = 500) -> list[Part]:
    """Parts defined as kits of components (retail kits), by part number."""
    has_components = select(PartComponent.part_id).distinct()
    return list(session.scalars(select(Part).where(Part.id.in_(has_components))
                                .order_by(Part.part_number, Part.id).limit(limit)))


def site_choices(session: Session) -> list[Choice]:
    rows = session.execute(select(Location.id, Location.name).where(Location.parent_id.is_(None))
                           .order_by(Location.name, Location.id))
    return [Choice(i, n) for i, n in rows]


def part_numbers(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return dict(session.execute(select(Part.id, Part.part_number).where(Part.id.in_(wanted))).all())


def part(session: Session, part_id: int) -> Part:
    return get(session, Part, part_id, field="partId")
