"""Retail orders at the issue's full size on PostgreSQL: 10,000 kit orders and 100,000 order
events, a sample of every kind of work timed through the services beside the same work in raw
SQL (docs/retail-orders.md, bench/README-orders.md).

    .venv/bin/python bench/bench_orders.py \
        --database-url postgresql://postgres@127.0.0.1:5432/kitwright_orders

Two copies of the retail data set (bench/generate_retail.py: 100 sites, 1,000 kits of 2-6
components drawn from 500 component parts, every component at every site) are generated. On
each copy the whole plan is written: 10,000 orders of 1-3 kit lines of 1-3 kits (default
settings: each line whole from one site), allocated, released, and their release-line groups
packed (some) and shipped in messages of 1-20 events, at least 100,000 events in all.

Most of that work is written in bulk (COPY and set-based SQL) with what the services would
write (orders, order-line components, allocations, held splits and their links, releases,
consumed records, messages, invoices, and on the services copy every ledger entry); every
`--sample`-th order of the plan is instead created, allocated, released, packed and shipped
one operation at a time, through the services on one copy and through hand-written SQL doing
the same reservations, releases and shipments (without ledger, ORM or checks) on the other. The
sample works on the full data set: it runs after the bulk part of each phase. Medians and p95
are per operation of the sample. Finally a set of release-line groups (`--reconcile`) is sent
as two half messages each (both fail and are stored) and one reconciler call processes them all.
Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from generate_retail import generate, recreate  # bench/ is on sys.path when run as a script
from rich.console import Console

from kitwright.domain import orders as rules
from kitwright.domain.quantities import from_units
from kitwright.services import orders
from kitwright.services.orders import NewEvent, NewLine
from kitwright.services.uow import SYSTEM, UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade

console = Console()
FACTOR = 1_000_000


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def timed(samples: list[float], action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    samples.append(time.perf_counter() - started)
    return result


def summary(label: str, samples: list[float], unit: str) -> str:
    if not samples:
        return f"{label}: nothing"
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"{label}: {len(samples):,} {unit} in {sum(samples):.1f}s, "
            f"median {statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")


def plan_orders(count: int, kits: int, pool: int, seed: int) -> list[list[tuple[int, int]]]:
    rng = random.Random(seed)
    return [[(pool + rng.randint(1, kits), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]
            for _ in range(count)]


def pack(groups: Sequence[Any], seed: int, size: Callable[[Any], int]) -> list[list[Any]]:
    """Messages of 1-20 events made of whole release-line groups (a group larger than the
    drawn size goes alone)."""
    rng = random.Random(seed)
    messages: list[list[Any]] = []
    current: list[Any] = []
    count, limit = 0, rng.randint(1, 20)
    for group in groups:
        if current and count + size(group) > limit:
            messages.append(current)
            current, count, limit = [], 0, rng.randint(1, 20)
        current.append(group)
        count += size(group)
    if current:
        messages.append(current)
    return messages


# -- the bulk writer ----------------------------------------------------------------------


def snapshot(part_id: int, location_id: int, units: int, origin: int | None) -> dict[str, Any]:
    """What services.ledger.snapshot writes for an untracked record."""
    return {"part_id": part_id, "location_id": location_id, "serial_number": None, "lot_number": None,
            "quantity": str(from_units(units)), "on_order": False, "scrapped": False,
            "origin_part_inventory_id": origin}


@dataclass
class Held:
    record_id: int
    part_id: int
    location_id: int
    units: int
    origin: int | None


@dataclass
class Group:
    release_id: int
    order_id: int
    order_line_id: int
    kits: int
    lines: list[Any]  # (release line id, part id, quantity units)

    @property
    def size(self) -> int:
        return len(self.lines)


@dataclass
class Copy:
    """One database and what the bulk writer knows of it."""

    url: str
    services: bool  # the services copy: ledger entries, order-line components, links as the services write
    engine: sa.Engine = field(init=False)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    masters: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # kit -> (component, ratio units)
    held: dict[int, list[Held]] = field(default_factory=lambda: defaultdict(list))  # order line -> records
    next_message: int = 1

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(self.url.replace("postgresql://", "postgresql+psycopg://"))

    def copy_rows(self, conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        count = 0
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def setval(self, conn: sa.Connection, *tables: str) -> None:
        for table in tables:
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))

    def ledger(self, conn: sa.Connection, entries: list[tuple[str, int, int, int, dict[str, Any], Any, Any]]) -> None:
        if self.services and entries:
            self.copy_rows(conn, "ledger_entry", (
                "at", "actor_id", "actor", "operation", "part_inventory_id", "part_id", "location_id",
                '"references"', "before", "after"), (
                (self.now, SYSTEM.id, SYSTEM.name, op, rid, part, loc, json.dumps(refs),
                 None if before is None else json.dumps(before), json.dumps(after))
                for op, rid, part, loc, refs, before, after in entries))

    # -- orders
    def create_orders(self, planned: list[list[tuple[int, int]]], indexes: list[int]) -> dict[int, int]:
        """Orders O-<index> with their lines (and, on the services copy, the components the
        service copies from the item master); returns plan index -> order id."""
        with self.engine.begin() as conn:
            self.masters = defaultdict(list)
            for kit, component, ratio in conn.execute(sa.text(
                    "SELECT part_id, component_part_id, quantity FROM part_component ORDER BY id")):
                self.masters[kit].append((component, ratio))
            first_order = int(conn.scalar(sa.text("SELECT coalesce(max(id), 0) + 1 FROM retail_order")) or 1)
            first_line = int(conn.scalar(sa.text("SELECT coalesce(max(id), 0) + 1 FROM order_line")) or 1)
            ids = {index: first_order + n for n, index in enumerate(indexes)}
            lines = []
            line_id = first_line
            for index in indexes:
                for number, (kit, quantity) in enumerate(planned[index], start=1):
                    lines.append((line_id, ids[index], str(number), kit, quantity))
                    line_id += 1
            self.copy_rows(conn, "retail_order", ("id", "order_number", "created_at", "created_by_id", "etag"),
                           ((ids[i], f"O-{i}", self.now, SYSTEM.id, f"bulk{ids[i]}") for i in indexes))
            self.copy_rows(conn, "order_line", (
                "id", "order_id", "line_number", "part_id", "quantity", "canceled_quantity", "shipped_quantity",
                "shorted_quantity", "returned_quantity", "allocation_attempted", "is_kit"),
                ((lid, oid, number, kit, qty, 0, 0, 0, 0, not self.services, True)
                 for lid, oid, number, kit, qty in lines))
            if self.services:
                self.copy_rows(conn, "order_line_component", ("order_line_id", "part_id", "quantity"), (
                    (lid, component, ratio) for lid, _oid, _n, kit, _q in lines
                    for component, ratio in self.masters[kit]))
            self.setval(conn, "retail_order", "order_line", "order_line_component")
        return ids

    def allocate(self, order_ids: list[int]) -> int:
        """Each order as the service allocates it by default (domain.orders.plan_allocation:
        each line whole from the first site that can fill it, lines in order from one pool),
        written in bulk: allocations, splits of the records, links, the origin records' new
        quantities and, on the services copy, the ledger entries."""
        with self.engine.begin() as conn:
            stock: dict[tuple[int, int], list[int]] = {}  # (site, part) -> [record id, units, location]
            for rid, part, site, units, location in conn.execute(sa.text("""
                SELECT pi.id, pi.part_id, l.site_id, pi.quantity, pi.location_id FROM part_inventory pi
                JOIN location l ON l.id = pi.location_id
                WHERE NOT pi.on_order AND NOT pi.scrapped AND pi.quantity > 0 AND l.inventory_available
                  AND NOT l.available_soon
                  AND NOT EXISTS (SELECT 1 FROM order_allocation_inventory a
                                  WHERE a.part_inventory_id = pi.id AND NOT a.released)
                ORDER BY pi.id""")):
                assert (site, part) not in stock, "one available record per site and part"
                stock[(site, part)] = [rid, units, location]
            sites_of: dict[int, list[int]] = defaultdict(list)
            for site, part in sorted(stock):
                sites_of[part].append(site)
            lines_of: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
            for lid, oid, kit, qty in conn.execute(sa.text(
                    "SELECT id, order_id, part_id, quantity FROM order_line WHERE order_id = ANY(:o) ORDER BY id"),
                    {"o": order_ids}):
                lines_of[oid].append((lid, kit, qty))
            next_allocation = int(conn.scalar(sa.text("SELECT coalesce(max(id), 0) + 1 FROM order_allocation")) or 1)
            next_record = int(conn.scalar(sa.text("SELECT max(id) + 1 FROM part_inventory")) or 1)
            allocations, splits, links, entries = [], [], [], []
            changed: dict[int, int] = {}
            for oid in order_ids:
                demands = [rules.LineDemand(lid, qty, tuple(self.masters[kit])) for lid, kit, qty in lines_of[oid]]
                parts = {p for d in demands for p, _ in d.components}
                pool = {(site, p): stock[(site, p)][1] for p in parts for site in sites_of[p]}
                plan = rules.plan_allocation(demands, pool, enable_kits=False)  # type: ignore[arg-type]
                origin_entries, split_entries = [], []
                ratios = {d.line_id: d.components for d in demands}
                for allocation in plan:
                    aid = next_allocation
                    next_allocation += 1
                    allocations.append((aid, oid, allocation.line_id, allocation.site_id, allocation.kits, self.now))
                    refs = {"orderId": oid, "orderLineId": allocation.line_id, "allocationId": aid}
                    for part, ratio in ratios[allocation.line_id]:
                        take = ratio * allocation.kits
                        record = stock[(allocation.site_id, part)]
                        rid, units, location = record
                        before = snapshot(part, location, units, None)
                        record[1] = units - take
                        changed[rid] = units - take
                        origin_entries.append(("ORDER_ALLOCATE", rid, part, location, refs, before,
                                               snapshot(part, location, units - take, None)))
                        if take == units:  # the whole record is held
                            held = Held(rid, part, location, take, None)
                            changed[rid] = units
                            origin_entries[-1] = ("ORDER_ALLOCATE", rid, part, location, refs, before, before)
                        else:
                            held = Held(next_record, part, location, take, rid)
                            next_record += 1
                            splits.append((held.record_id, part, f"C-{part}", location, take, "{}", False, False,
                                           "ORDER_ALLOCATION", rid, self.now, SYSTEM.id, f"split{held.record_id}"))
                            split_entries.append(("ORDER_ALLOCATE", held.record_id, part, location, refs, None,
                                                  snapshot(part, location, take, rid)))
                        self.held[allocation.line_id].append(held)
                        links.append((aid, allocation.line_id, part, held.record_id, take, False))
                entries.extend(origin_entries + split_entries)
            self.copy_rows(conn, "order_allocation", ("id", "order_id", "order_line_id", "site_id", "kits", "created_at"),
                           allocations)
            self.copy_rows(conn, "part_inventory", (
                "id", "part_id", "part_number", "location_id", "quantity", "attributes", "on_order", "scrapped",
                "how_created", "origin_part_inventory_id", "created_at", "created_by_id", "etag"), splits)
            conn.execute(sa.text("CREATE TEMP TABLE bulk_quantity (id integer PRIMARY KEY, quantity bigint) ON COMMIT DROP"))
            self.copy_rows(conn, "bulk_quantity", ("id", "quantity"), sorted(changed.items()))
            conn.execute(sa.text("UPDATE part_inventory p SET quantity = b.quantity, etag = md5(random()::text) "
                                 "FROM bulk_quantity b WHERE p.id = b.id"))
            self.copy_rows(conn, "order_allocation_inventory", (
                "allocation_id", "order_line_id", "part_id", "part_inventory_id", "quantity", "released"), links)
            self.ledger(conn, entries)
            conn.execute(sa.text("UPDATE order_line SET allocation_attempted = true WHERE order_id = ANY(:o)"),
                         {"o": order_ids})
            self.setval(conn, "order_allocation", "part_inventory", "order_allocation_inventory", "ledger_entry")
        return len(allocations)

    def release(self, order_ids: list[int]) -> int:
        """One release per (order, site), numbered as the service numbers them, its lines
        every component of the kits allocated there (set-based)."""
        components = ("order_line_component c ON c.order_line_id = a.order_line_id" if self.services else
                      "order_line ol ON ol.id = a.order_line_id JOIN (SELECT id, part_id AS kit_id, "
                      "component_part_id AS part_id, quantity FROM part_component) c ON c.kit_id = ol.part_id")
        with self.engine.begin() as conn:
            made = conn.execute(sa.text("""
                INSERT INTO order_release (order_id, site_id, release_number, created_at)
                SELECT s.order_id, s.site_id, o.order_number || '-' || row_number() OVER (PARTITION BY s.order_id ORDER BY s.site_id),
                       now()
                FROM (SELECT DISTINCT order_id, site_id FROM order_allocation
                      WHERE order_id = ANY(:o) AND release_id IS NULL AND kits > 0) s
                JOIN retail_order o ON o.id = s.order_id ORDER BY s.order_id, s.site_id"""), {"o": order_ids}).rowcount
            conn.execute(sa.text("""
                UPDATE order_allocation a SET release_id = r.id FROM order_release r
                WHERE a.order_id = ANY(:o) AND a.release_id IS NULL AND r.order_id = a.order_id AND r.site_id = a.site_id"""),
                {"o": order_ids})
            conn.execute(sa.text(f"""
                INSERT INTO order_release_line (release_id, line_number, order_line_id, part_id, ratio, quantity, kits,
                    released, in_progress, picked, packed, shipped, shorted, canceled)
                SELECT a.release_id, row_number() OVER (PARTITION BY a.release_id ORDER BY a.order_line_id, c.id),
                       a.order_line_id, c.part_id, c.quantity, c.quantity * a.kits, a.kits, a.kits, 0, 0, 0, 0, 0, 0
                FROM order_allocation a JOIN {components}
                WHERE a.order_id = ANY(:o) ORDER BY a.release_id, a.order_line_id, c.id"""), {"o": order_ids})
        return int(made)

    def groups(self) -> list[Group]:
        found: dict[tuple[int, int], Group] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(sa.text("""
                SELECT rl.id, rl.release_id, r.order_id, rl.order_line_id, rl.part_id, rl.quantity, rl.kits
                FROM order_release_line rl JOIN order_release r ON r.id = rl.release_id ORDER BY rl.id""")):
                group = found.setdefault((row.release_id, row.order_line_id),
                                         Group(row.release_id, row.order_id, row.order_line_id, row.kits, []))
                group.lines.append((row.id, row.part_id, row.quantity))
        return list(found.values())

    def apply_messages(self, packs: list[list[Group]], ships: list[list[Group]]) -> int:
        """PACK and SHIP messages written as the services leave them: the message rows, the
        stages, the consumed records and links, one invoice per package and message with its
        lines, and on the services copy the ORDER_SHIP ledger entries."""
        with self.engine.begin() as conn:
            messages, shipped, invoices, invoice_lines, consumed, entries = [], [], [], [], [], []
            next_invoice = int(conn.scalar(sa.text("SELECT coalesce(max(id), 0) + 1 FROM invoice")) or 1)
            for kind, batch in (("PACK", packs), ("SHIP", ships)):
                for message in batch:
                    mid = self.next_message
                    self.next_message += 1
                    messages.append((mid, f"BULK-{kind}-{mid}", True, self.now))
                    if kind == "PACK":
                        continue
                    by_package: dict[str, int] = {}
                    for group in message:
                        shipped.append((group.release_id, group.order_line_id, group.kits))
                        package = f"P{group.release_id}"
                        if package not in by_package:
                            by_package[package] = next_invoice
                            invoices.append((next_invoice, group.order_id, "SALE", package, self.now, mid))
                            next_invoice += 1
                        invoice_lines.append((by_package[package], group.order_line_id, group.kits))
                        refs = {"orderId": group.order_id, "orderLineId": group.order_line_id,
                                "releaseId": group.release_id}
                        for held in self.held.pop(group.order_line_id, []):
                            consumed.append(held.record_id)
                            entries.append(("ORDER_SHIP", held.record_id, held.part_id, held.location_id, refs,
                                            snapshot(held.part_id, held.location_id, held.units, held.origin),
                                            snapshot(held.part_id, held.location_id, 0, held.origin)))
            self.copy_rows(conn, "order_event_message", ("id", "external_message_id", "processed", "created_at"),
                           messages)
            conn.execute(sa.text("CREATE TEMP TABLE bulk_ship (release_id integer, order_line_id integer, kits integer) "
                                 "ON COMMIT DROP"))
            self.copy_rows(conn, "bulk_ship", ("release_id", "order_line_id", "kits"), shipped)
            conn.execute(sa.text("""
                UPDATE order_release_line rl SET released = 0, in_progress = 0, picked = 0, packed = 0,
                    shipped = rl.shipped + b.kits
                FROM bulk_ship b WHERE rl.release_id = b.release_id AND rl.order_line_id = b.order_line_id"""))
            conn.execute(sa.text("UPDATE order_line ol SET shipped_quantity = ol.shipped_quantity + b.kits "
                                 "FROM bulk_ship b WHERE ol.id = b.order_line_id"))
            conn.execute(sa.text("""
                UPDATE order_allocation_inventory a SET quantity = 0, released = true FROM bulk_ship b, order_allocation o
                WHERE o.id = a.allocation_id AND o.release_id = b.release_id AND a.order_line_id = b.order_line_id
                  AND NOT a.released"""))
            conn.execute(sa.text("UPDATE part_inventory SET quantity = 0, etag = md5(random()::text) WHERE id = ANY(:ids)"),
                         {"ids": consumed})
            self.copy_rows(conn, "invoice", ("id", "order_id", "kind", "package_id", "created_at", "message_id"), invoices)
            self.copy_rows(conn, "invoice_line", ("invoice_id", "order_line_id", "quantity"), invoice_lines)
            self.ledger(conn, entries)
            self.setval(conn, "order_event_message", "invoice", "invoice_line", "ledger_entry")
        return len(messages)

    def analyze(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()

    def count(self, sql: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.text(sql)) or 0)


# -- one operation through the services ----------------------------------------------------


class Services:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.session = make_sessionmaker(self.engine)()

    def create(self, index: int, lines: list[tuple[int, int]]) -> int:
        with UnitOfWork(self.session) as uow:
            return orders.create_order(uow, f"O-{index}", [
                NewLine(str(i + 1), part, qty) for i, (part, qty) in enumerate(lines)]).id

    def allocate(self, order_id: int) -> bool:
        with UnitOfWork(self.session) as uow:
            return bool(orders.allocate_order(uow, order_id).allocations)

    def release(self, order_id: int) -> None:
        with UnitOfWork(self.session) as uow:
            orders.release_order(uow, order_id)

    def message(self, name: str, kind: str, groups: list[Group], events: list[NewEvent] | None = None) -> bool:
        events = events if events is not None else [
            NewEvent(kind, part, from_units(units), release_line_id=rid, package_id=f"P{g.release_id}")
            for g in groups for rid, part, units in g.lines]
        with UnitOfWork(self.session) as uow:
            return orders.process_order_events(uow, name, events).processed

    def reconcile(self) -> tuple[int, int]:
        with UnitOfWork(self.session) as uow:
            result = orders.reconcile_order_events(uow)
        return len(result.processed), len(result.stuck)

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()


# -- the same operation in raw SQL ---------------------------------------------------------

CANDIDATES = sa.text("""
SELECT pi.id, pi.part_id, l.site_id, pi.quantity, pc.quantity AS ratio
FROM part_component pc
JOIN part_inventory pi ON pi.part_id = pc.component_part_id
JOIN location l ON l.id = pi.location_id
WHERE pc.part_id = :kit AND NOT pi.on_order AND NOT pi.scrapped AND pi.quantity > 0
  AND l.inventory_available AND NOT l.available_soon
  AND NOT EXISTS (SELECT 1 FROM order_allocation_inventory a WHERE a.part_inventory_id = pi.id AND NOT a.released)
ORDER BY pi.id FOR UPDATE OF pi""")


class Raw:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        self.conn = self.engine.connect()

    def create(self, index: int, lines: list[tuple[int, int]]) -> int:
        conn = self.conn
        order_id = int(conn.execute(sa.text(
            "INSERT INTO retail_order (order_number, created_at, etag) VALUES (:n, now(), 'e') RETURNING id"),
            {"n": f"O-{index}"}).scalar_one())
        for i, (part, qty) in enumerate(lines):
            conn.execute(sa.text(
                "INSERT INTO order_line (order_id, line_number, part_id, quantity, canceled_quantity, "
                "shipped_quantity, shorted_quantity, returned_quantity, allocation_attempted, is_kit) "
                "VALUES (:o, :l, :p, :q, 0, 0, 0, 0, true, true)"), {"o": order_id, "l": str(i + 1), "p": part, "q": qty})
        conn.commit()
        return order_id

    def allocate(self, order_id: int) -> bool:
        conn = self.conn
        lines = conn.execute(sa.text("SELECT id, part_id, quantity FROM order_line WHERE order_id = :o ORDER BY id"),
                             {"o": order_id}).all()
        any_allocated = False
        for line_id, kit, qty in lines:
            rows = conn.execute(CANDIDATES, {"kit": kit}).all()
            per_site: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
            ratios: dict[int, int] = {}
            for _rid, part, site, quantity, ratio in rows:
                per_site[site][part] += quantity
                ratios[part] = ratio
            chosen = next((site for site in sorted(per_site) if all(
                per_site[site][p] >= r * qty for p, r in ratios.items())), None)
            if chosen is None:
                continue
            allocation_id = conn.execute(sa.text(
                "INSERT INTO order_allocation (order_id, order_line_id, site_id, kits, created_at) "
                "VALUES (:o, :l, :s, :k, now()) RETURNING id"), {"o": order_id, "l": line_id, "s": chosen, "k": qty}
            ).scalar_one()
            need = {p: r * qty for p, r in ratios.items()}
            for rid, part, site, quantity, _ratio in rows:
                if site != chosen or need[part] <= 0:
                    continue
                take = min(quantity, need[part])
                need[part] -= take
                conn.execute(sa.text("UPDATE part_inventory SET quantity = quantity - :t WHERE id = :i"),
                             {"t": take, "i": rid})
                new_id = conn.execute(sa.text(
                    "INSERT INTO part_inventory (part_id, part_number, location_id, quantity, attributes, on_order, "
                    "scrapped, how_created, origin_part_inventory_id, created_at, etag) "
                    "SELECT part_id, part_number, location_id, :t, attributes, false, false, 'ORDER_ALLOCATION', id, "
                    "created_at, 'x' FROM part_inventory WHERE id = :i RETURNING id"), {"t": take, "i": rid}).scalar_one()
                conn.execute(sa.text(
                    "INSERT INTO order_allocation_inventory (allocation_id, order_line_id, part_id, "
                    "part_inventory_id, quantity, released) VALUES (:a, :l, :p, :r, :t, false)"),
                    {"a": allocation_id, "l": line_id, "p": part, "r": new_id, "t": take})
            any_allocated = True
        conn.commit()
        return any_allocated

    def release(self, order_id: int) -> None:
        conn = self.conn
        sites = conn.execute(sa.text("SELECT DISTINCT site_id FROM order_allocation WHERE order_id = :o AND "
                                     "release_id IS NULL ORDER BY site_id"), {"o": order_id}).scalars().all()
        for n, site in enumerate(sites, start=1):
            release_id = conn.execute(sa.text(
                "INSERT INTO order_release (order_id, site_id, release_number, created_at) "
                "VALUES (:o, :s, :n, now()) RETURNING id"), {"o": order_id, "s": site, "n": f"R{order_id}-{n}"}
            ).scalar_one()
            conn.execute(sa.text("UPDATE order_allocation SET release_id = :r WHERE order_id = :o AND site_id = :s "
                                 "AND release_id IS NULL"), {"r": release_id, "o": order_id, "s": site})
            conn.execute(sa.text("""
                INSERT INTO order_release_line (release_id, line_number, order_line_id, part_id, ratio, quantity,
                    kits, released, in_progress, picked, packed, shipped, shorted, canceled)
                SELECT :r, row_number() OVER (ORDER BY a.order_line_id, pc.id), a.order_line_id,
                       pc.component_part_id, pc.quantity, pc.quantity * a.kits, a.kits, a.kits, 0, 0, 0, 0, 0, 0
                FROM order_allocation a JOIN order_line ol ON ol.id = a.order_line_id
                JOIN part_component pc ON pc.part_id = ol.part_id WHERE a.release_id = :r"""), {"r": release_id})
        conn.commit()

    def message(self, name: str, kind: str, groups: list[Group]) -> bool:
        conn = self.conn
        conn.execute(sa.text("INSERT INTO order_event_message (external_message_id, processed, created_at) "
                             "VALUES (:m, true, now())"), {"m": name})
        invoices: dict[int, int] = {}
        for group in groups:
            ids = [rid for rid, _part, _units in group.lines]
            if kind == "PACK":
                conn.execute(sa.text("UPDATE order_release_line SET released = released - :k, packed = packed + :k "
                                     "WHERE id = ANY(:ids)"), {"k": group.kits, "ids": ids})
                continue
            conn.execute(sa.text("UPDATE order_release_line SET released = 0, in_progress = 0, picked = 0, packed = 0, "
                                 "shipped = shipped + :k WHERE id = ANY(:ids)"), {"k": group.kits, "ids": ids})
            conn.execute(sa.text("UPDATE order_line SET shipped_quantity = shipped_quantity + :k WHERE id = :l"),
                         {"k": group.kits, "l": group.order_line_id})
            conn.execute(sa.text("""
                WITH held AS (
                    SELECT a.id, a.part_inventory_id FROM order_allocation_inventory a
                    JOIN order_allocation o ON o.id = a.allocation_id
                    WHERE o.release_id = :r AND a.order_line_id = :l AND NOT a.released
                    ORDER BY a.part_inventory_id FOR UPDATE),
                consumed AS (UPDATE part_inventory SET quantity = 0 WHERE id IN (SELECT part_inventory_id FROM held))
                UPDATE order_allocation_inventory SET quantity = 0, released = true
                WHERE id IN (SELECT id FROM held)"""), {"r": group.release_id, "l": group.order_line_id})
            if group.release_id not in invoices:
                invoices[group.release_id] = conn.execute(sa.text(
                    "INSERT INTO invoice (order_id, kind, package_id, created_at) "
                    "VALUES (:o, 'SALE', :p, now()) RETURNING id"),
                    {"p": f"P{group.release_id}", "o": group.order_id}).scalar_one()
            conn.execute(sa.text("INSERT INTO invoice_line (invoice_id, order_line_id, quantity) VALUES (:i, :l, :k)"),
                         {"i": invoices[group.release_id], "l": group.order_line_id, "k": group.kits})
        conn.commit()
        return True

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


# -- one copy, start to end ------------------------------------------------------------------


def packed(group: Group, share: float) -> bool:
    """Whether a group is packed before it ships (a fixed share, the same groups on both copies)."""
    return (group.order_line_id * 7919) % 10_000 < share * 10_000


def run_copy(copy: Copy, planned: list[list[tuple[int, int]]], sample: set[int], args: argparse.Namespace
             ) -> dict[str, Any]:
    name = "services" if copy.services else "raw SQL"
    driver: Services | Raw = Services(copy.url) if copy.services else Raw(copy.url)
    times: dict[str, list[float]] = defaultdict(list)
    loads: dict[str, str] = {}
    bulk = [i for i in range(len(planned)) if i not in sample]
    picked = sorted(sample)

    def phase(label: str) -> None:
        loads[label] = loadavg()
        console.print(f"  {name}: {label} (load {loads[label]}, {time.strftime('%H:%M:%S')})")

    phase("create")
    bulk_ids = copy.create_orders(planned, bulk)
    sample_ids = [timed(times["create"], lambda i=i: driver.create(i, planned[i])) for i in picked]
    phase("allocate")
    copy.allocate(list(bulk_ids.values()))
    copy.analyze()
    allocated = [oid for oid in sample_ids if timed(times["allocate"], lambda oid=oid: driver.allocate(oid))]
    phase("release")
    copy.release(list(bulk_ids.values()))
    for oid in allocated:
        timed(times["release"], lambda oid=oid: driver.release(oid))
    phase("events")
    copy.analyze()
    groups = copy.groups()
    sample_orders = set(sample_ids)
    total_lines = sum(g.size for g in groups)
    share = min(1.0, max(0.0, (args.events - total_lines) / max(total_lines, 1) + 0.01))
    # Timed: the sampled orders' groups and every `--every`-th other group (so that at least
    # 1,000 messages are timed); the reconciler gets its own groups; the rest is bulk.
    others = [g for g in groups if g.order_id not in sample_orders]
    reconciled = others[1:: max(1, len(others) // args.reconcile)][: args.reconcile] if args.reconcile else []
    held_back = {(g.release_id, g.order_line_id) for g in reconciled}
    in_sample = [g for n, g in enumerate(groups) if g.order_id in sample_orders or (
        n % args.every == 0 and (g.release_id, g.order_line_id) not in held_back)]
    timed_groups = {(g.release_id, g.order_line_id) for g in in_sample}
    rest = [g for g in others if (g.release_id, g.order_line_id) not in held_back | timed_groups]
    size: Callable[[Group], int] = lambda g: g.size  # noqa: E731
    bulk_packs = pack([g for g in rest if packed(g, share)], args.seed + 1, size)
    bulk_ships = pack(rest, args.seed + 2, size)
    copy.apply_messages(bulk_packs, bulk_ships)
    copy.analyze()
    sample_packs = pack([g for g in in_sample if packed(g, share)], args.seed + 3, size)
    sample_ships = pack(in_sample, args.seed + 4, size)
    processed = 0
    for kind, batch in (("PACK", sample_packs), ("SHIP", sample_ships)):
        for n, message in enumerate(batch):
            ok = timed(times["message"], lambda kind=kind, n=n, message=message: driver.message(
                f"S-{kind}-{n}", kind, message))
            processed += bool(ok)
            times["events"].append(sum(g.size for g in message))
    events = (sum(g.size for m in bulk_packs + sample_packs for g in m)
              + sum(g.size for m in bulk_ships + sample_ships for g in m) + sum(g.size for g in reconciled))
    result: dict[str, Any] = {"times": times, "loads": loads, "events": events, "processed": processed,
                              "messages": len(sample_packs) + len(sample_ships),
                              "bulk_messages": len(bulk_packs) + len(bulk_ships),
                              "sample_orders": len(sample_ids), "allocated": len(allocated)}
    if copy.services and reconciled:
        phase("reconcile")
        assert isinstance(driver, Services)
        for n, group in enumerate(reconciled):
            all_events = [NewEvent("SHIP", part, from_units(units), release_line_id=rid, package_id=f"P{group.release_id}")
                          for rid, part, units in group.lines]
            half = max(1, len(all_events) // 2)
            for part_no, chunk in enumerate((all_events[:half], all_events[half:])):
                if chunk:
                    ok = timed(times["failing message"], lambda n=n, part_no=part_no, chunk=chunk: driver.message(
                        f"H-{n}-{part_no}", "SHIP", [], chunk))
                    assert not ok, "half a kit must be stored unprocessed"
        started = time.perf_counter()
        done, stuck = driver.reconcile()
        result["reconcile"] = (len(reconciled), done, stuck, time.perf_counter() - started)
    phase("done")
    result["counts"] = {table: copy.count(f"SELECT count(*) FROM {table}") for table in (
        "retail_order", "order_line", "order_allocation", "order_release", "order_release_line",
        "order_event_message", "invoice", "ledger_entry", "part_inventory", "unprocessed_order_event")}
    result["shipped_kits"] = copy.count("SELECT coalesce(sum(shipped), 0) FROM order_release_line")
    driver.close()
    return result


def trim_components(engine: sa.Engine, pool: int) -> None:
    """Kits of 2-6 components: kit k (part pool + k) keeps its first 2 + k % 5 components
    (the generator numbers component j of kit k as (k - 1) * 6 + j)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "DELETE FROM part_component WHERE id - (part_id - :pool - 1) * 6 > 2 + (part_id - :pool) % 5"),
            {"pool": pool})
        conn.exec_driver_sql("ANALYZE part_component")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL; a second database '<name>_raw' is made too")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000, help="at least this many events in all")
    parser.add_argument("--sample", type=int, default=1_000, help="orders timed one by one (spread over the plan)")
    parser.add_argument("--every", type=int, default=12, help="also time every N-th group of the other orders")
    parser.add_argument("--reconcile", type=int, default=200, help="release-line groups left to the reconciler")
    parser.add_argument("--stock", type=int, default=3, help="times the generator's on-hand quantities")
    parser.add_argument("--kits", type=int, default=1_000)
    parser.add_argument("--pool", type=int, default=500)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    started = time.perf_counter()
    console.print(f"start {time.strftime('%H:%M:%S')}, load {loadavg()}")
    raw_url = args.database_url + "_raw"
    for url in (args.database_url, raw_url):
        recreate(url)
        engine = make_engine(url)
        upgrade(engine)
        console.print(f"generating {url}")
        generate(engine, kits=args.kits, sites=args.sites, components=6, pool=args.pool)
        trim_components(engine, args.pool)
        with engine.begin() as conn:
            # The generator stocks a read benchmark; 10,000 orders need more, or the later
            # orders (and the sample among them) would mostly be backordered.
            conn.execute(sa.text("UPDATE part_inventory SET quantity = quantity * :m WHERE NOT on_order"),
                         {"m": args.stock})
        engine.dispose()
    planned = plan_orders(args.orders, args.kits, args.pool, args.seed)
    step = max(1, args.orders // max(args.sample, 1))
    sample = set(range(0, args.orders, step))
    service = run_copy(Copy(args.database_url, services=True), planned, sample, args)
    raw = run_copy(Copy(raw_url, services=False), planned, sample, args)
    console.print(f"\nend {time.strftime('%H:%M:%S')}, {time.perf_counter() - started:.0f} s in all, load {loadavg()}")
    for name, result in (("services", service), ("raw SQL", raw)):
        console.print(f"{name}: {result['sample_orders']:,} sampled orders ({result['allocated']:,} allocated), "
                      f"{result['messages']:,} sampled messages ({result['processed']:,} processed), "
                      f"{result['bulk_messages']:,} bulk messages, {result['events']:,} events in all, "
                      f"{result['shipped_kits']:,} kits shipped; loads {result['loads']}")
        console.print(f"  rows: {result['counts']}")
    for label, unit in (("create", "orders"), ("allocate", "orders"), ("release", "orders"), ("message", "messages")):
        console.print(summary(f"services {label}", service["times"][label], unit))
        console.print(summary(f"raw SQL  {label}", raw["times"][label], unit))
    for name, result in (("services", service), ("raw SQL", raw)):
        events = sum(result["times"]["events"])
        spent = sum(result["times"]["message"])
        console.print(f"{name} sampled events: {int(events):,} events in {spent:.1f}s = "
                      f"{events / max(spent, 1e-9):,.0f} events/s, {events / max(len(result['times']['message']), 1):.1f} a message")
    console.print(summary("services failing message (half a kit, stored)", service["times"]["failing message"], "messages"))
    if "reconcile" in service:
        groups, done, stuck, spent = service["reconcile"]
        console.print(f"services reconcile: {groups:,} groups, {done:,} events processed, {stuck:,} stuck, "
                      f"one call {spent * 1000:.0f} ms = {spent * 1000 / max(groups, 1):.2f} ms a group")


if __name__ == "__main__":
    main()
