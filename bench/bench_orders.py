"""Retail orders at scale on PostgreSQL: allocation of kit orders and warehouse events, each
beside the same work written as raw SQL (docs/retail-orders.md, bench/README-orders.md).

    .venv/bin/python bench/bench_orders.py \
        --database-url postgresql://postgres@127.0.0.1:5432/kitwright_orders --orders 1000

Two copies of the retail data set (bench/generate_retail.py: 100 sites; kits of 2-6 components,
kit k keeping 2 + k % 5 of the six the generator makes) are generated: one is driven through the services (ORM, row locks in id order, splits, ledger
entries, all checks), the other through hand-written SQL doing the same reservations and
shipments without ledger or checks. Orders have 1-3 kit lines of 1-3 kits; default settings
(each line whole from one site). Every allocated order is released; every release line group
is shipped whole, in messages of 1-20 events. Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from generate_retail import generate, recreate  # bench/ is on sys.path when run as a script
from rich.console import Console

from kitwright.services import orders
from kitwright.services.orders import NewEvent, NewLine
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade
from kitwright.store.models import OrderReleaseLine

console = Console()
FACTOR = 1_000_000


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
    return (f"{label}: {len(samples):,} {unit} in {sum(samples):.1f}s = {len(samples) / sum(samples):,.0f}/s, "
            f"median {statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")


def plan_orders(count: int, kits: int, pool: int, seed: int) -> list[list[tuple[int, int]]]:
    rng = random.Random(seed)
    return [[(pool + rng.randint(1, kits), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]
            for _ in range(count)]


# -- through the services ----------------------------------------------------------------


def run_services(url: str, planned: list[list[tuple[int, int]]], seed: int) -> dict[str, list[float]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    times: dict[str, list[float]] = defaultdict(list)
    order_ids = []
    with sessions() as session:
        for n, lines in enumerate(planned):
            with UnitOfWork(session) as uow:
                order = timed(times["create"], lambda uow=uow, n=n, lines=lines: orders.create_order(
                    uow, f"B{seed}-{n}", [NewLine(str(i + 1), part, qty) for i, (part, qty) in enumerate(lines)]))
                order_ids.append(order.id)
        allocated = []
        for order_id in order_ids:
            with UnitOfWork(session) as uow:
                result = timed(times["allocate"], lambda uow=uow, order_id=order_id: orders.allocate_order(uow, order_id))
            if result.allocations:
                allocated.append(order_id)
        for order_id in allocated:
            with UnitOfWork(session) as uow:
                timed(times["release"], lambda uow=uow, order_id=order_id: orders.release_order(uow, order_id))
        # Plain rows: ORM objects expire at every commit and would be read again one by one.
        groups: dict[tuple[int, int], list[Any]] = defaultdict(list)
        for row in session.execute(sa.select(
            OrderReleaseLine.id, OrderReleaseLine.release_id, OrderReleaseLine.order_line_id,
            OrderReleaseLine.part_id, OrderReleaseLine.quantity,
        ).order_by(OrderReleaseLine.id)):
            groups[(row.release_id, row.order_line_id)].append(row)
        messages = pack(list(groups.values()), seed)
        processed = 0
        for n, message in enumerate(messages):
            events = [NewEvent("SHIP", row.part_id, row.quantity, release_line_id=row.id, package_id=f"P{row.release_id}")
                      for group in message for row in group]
            with UnitOfWork(session) as uow:
                outcome = timed(times["message"], lambda uow=uow, n=n, events=events: orders.process_order_events(
                    uow, f"MSG{seed}-{n}", events))
            processed += outcome.processed
            times["events"].append(len(events))
        console.print(f"  services: {len(allocated):,} of {len(order_ids):,} orders allocated, "
                      f"{len(messages):,} messages ({processed:,} processed), {int(sum(times['events'])):,} events")
    engine.dispose()
    return times


def pack(groups: list[list[Any]], seed: int) -> list[list[list[Any]]]:
    """Messages of 1-20 events made of whole release-line groups (a group larger than the
    drawn size goes alone)."""
    rng = random.Random(seed + 1)
    messages: list[list[list[Any]]] = []
    current: list[list[Any]] = []
    size, limit = 0, rng.randint(1, 20)
    for group in groups:
        if current and size + len(group) > limit:
            messages.append(current)
            current, size, limit = [], 0, rng.randint(1, 20)
        current.append(group)
        size += len(group)
    if current:
        messages.append(current)
    return messages


# -- the same work in raw SQL ------------------------------------------------------------

CANDIDATES = sa.text("""
SELECT pi.id, pi.part_id, l.site_id, pi.quantity, pc.quantity AS ratio
FROM part_component pc
JOIN part_inventory pi ON pi.part_id = pc.component_part_id
JOIN location l ON l.id = pi.location_id
WHERE pc.part_id = :kit AND NOT pi.on_order AND NOT pi.scrapped AND pi.quantity > 0
  AND l.inventory_available AND NOT l.available_soon
  AND NOT EXISTS (SELECT 1 FROM order_allocation_inventory a WHERE a.part_inventory_id = pi.id AND NOT a.released)
ORDER BY pi.id FOR UPDATE OF pi""")


def run_raw(url: str, planned: list[list[tuple[int, int]]], seed: int) -> dict[str, list[float]]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    times: dict[str, list[float]] = defaultdict(list)
    allocated_orders: list[int] = []
    with engine.connect() as conn:
        for n, lines in enumerate(planned):
            def create(n: int = n, lines: list[tuple[int, int]] = lines) -> int:
                order_id = int(conn.execute(sa.text(
                    "INSERT INTO retail_order (order_number, created_at, etag) VALUES (:n, now(), 'e') RETURNING id"),
                    {"n": f"R-{n}"}).scalar_one())
                for i, (part, qty) in enumerate(lines):
                    conn.execute(sa.text(
                        "INSERT INTO order_line (order_id, line_number, part_id, quantity, canceled_quantity, "
                        "shipped_quantity, shorted_quantity, returned_quantity, allocation_attempted, is_kit) "
                        "VALUES (:o, :l, :p, :q, 0, 0, 0, 0, true, true)"), {"o": order_id, "l": str(i + 1), "p": part, "q": qty})
                conn.commit()
                return order_id
            timed(times["create"], create)
        order_ids = [int(x) for x in conn.execute(sa.text("SELECT id FROM retail_order ORDER BY id")).scalars()]

        def allocate(order_id: int) -> bool:
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

        for order_id in order_ids:
            if timed(times["allocate"], lambda order_id=order_id: allocate(order_id)):
                allocated_orders.append(order_id)

        def release(order_id: int) -> None:
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

        for order_id in allocated_orders:
            timed(times["release"], lambda order_id=order_id: release(order_id))
        groups: dict[tuple[int, int], list[Any]] = defaultdict(list)
        for row in conn.execute(sa.text("SELECT id, release_id, order_line_id, part_id, quantity, kits "
                                        "FROM order_release_line ORDER BY id")):
            groups[(row.release_id, row.order_line_id)].append(row)
        messages = pack(list(groups.values()), seed)

        def ship(message: list[list[Any]], n: int) -> None:
            conn.execute(sa.text("INSERT INTO order_event_message (external_message_id, processed, created_at) "
                                 "VALUES (:m, true, now())"), {"m": f"MSG{seed}-{n}"})
            for group in message:
                ids = [row.id for row in group]
                kits = group[0].kits
                conn.execute(sa.text("UPDATE order_release_line SET released = released - :k, shipped = shipped + :k "
                                     "WHERE id = ANY(:ids)"), {"k": kits, "ids": ids})
                conn.execute(sa.text("UPDATE order_line SET shipped_quantity = shipped_quantity + :k WHERE id = :l"),
                             {"k": kits, "l": group[0].order_line_id})
                conn.execute(sa.text("""
                    WITH held AS (
                        SELECT a.id, a.part_inventory_id FROM order_allocation_inventory a
                        JOIN order_allocation o ON o.id = a.allocation_id
                        WHERE o.release_id = :r AND a.order_line_id = :l AND NOT a.released
                        ORDER BY a.part_inventory_id FOR UPDATE),
                    consumed AS (UPDATE part_inventory SET quantity = 0 WHERE id IN (SELECT part_inventory_id FROM held))
                    UPDATE order_allocation_inventory SET quantity = 0, released = true
                    WHERE id IN (SELECT id FROM held)"""), {"r": group[0].release_id, "l": group[0].order_line_id})
                invoice = conn.execute(sa.text("INSERT INTO invoice (order_id, kind, package_id, created_at) "
                                               "SELECT order_id, 'SALE', :p, now() FROM order_line WHERE id = :l RETURNING id"),
                                       {"p": f"P{group[0].release_id}", "l": group[0].order_line_id}).scalar_one()
                conn.execute(sa.text("INSERT INTO invoice_line (invoice_id, order_line_id, quantity) VALUES (:i, :l, :k)"),
                             {"i": invoice, "l": group[0].order_line_id, "k": kits})
            conn.commit()

        for n, message in enumerate(messages):
            timed(times["message"], lambda message=message, n=n: ship(message, n))
            times["events"].append(sum(len(g) for g in message))
        console.print(f"  raw SQL: {len(allocated_orders):,} of {len(order_ids):,} orders allocated, "
                      f"{len(messages):,} messages, {int(sum(times['events'])):,} events")
    engine.dispose()
    return times


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
    parser.add_argument("--kits", type=int, default=1_000)
    parser.add_argument("--pool", type=int, default=500)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    raw_url = args.database_url + "_raw"
    for url in (args.database_url, raw_url):
        recreate(url)
        engine = make_engine(url)
        upgrade(engine)
        console.print(f"generating {url}")
        generate(engine, kits=args.kits, sites=args.sites, components=6, pool=args.pool)
        trim_components(engine, args.pool)
        engine.dispose()
    planned = plan_orders(args.orders, args.kits, args.pool, args.seed)
    service = run_services(args.database_url, planned, args.seed)
    raw = run_raw(raw_url, planned, args.seed)
    for label, unit in (("create", "orders"), ("allocate", "orders"), ("release", "orders"), ("message", "messages")):
        console.print(summary(f"services {label}", service[label], unit))
        console.print(summary(f"raw SQL  {label}", raw[label], unit))
    for name, times in (("services", service), ("raw SQL", raw)):
        events = sum(times["events"])
        console.print(f"{name} events: {int(events):,} events in {sum(times['message']):.1f}s = "
                      f"{events / max(sum(times['message']), 1e-9):,.0f} events/s")



if __name__ == "__main__":
    main()
