"""Benchmark runs against the generated data set, each figure beside the same work in raw SQL.

    python bench/generate.py --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench_runs \
        --inventory 1000000 --replace
    python bench/bench_runs.py --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench_runs

It WRITES (parts, mBOM lines, runs, kits, installs): point it at a database of its own.

1. createKitForRun: an assembly whose mBOM has `--lines` components (parts with available
   stock), a started run of it, and `services.runs.create_kit_for_run` (what the run still
   needs, a kit of it, fulfilled oldest first: lock, split, link, ledger), `--repeats` times
   with a fresh run each time; beside it the same work by hand in one transaction (rolled
   back): the need query, the kit and item INSERTs, the FIFO window SELECT, FOR UPDATE, the
   split / link writes (bench_kits.fulfil_raw).
2. aBOM trees: a unit nested `--depth` levels deep (each level also holding `--fanout` stock
   records), built with the services; then "what is in it" from the top and "where is it
   installed" from the bottom, `services.runs.installed_in / installed_where` beside the same
   recursive CTE sent raw through psycopg, median of `--tree-repeats`.
3. A unit moving with what is installed in it: the top unit of the tree sent back to stock
   (`services.runs.move_unit_to_inventory`, which moves the 36 records installed in it and
   writes their FOLLOW_UNIT entries), alternating between two locations, median of
   `--move-repeats`; beside it one recursive-CTE UPDATE of the same rows in raw SQL.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from bench_kits import FACTOR, fulfil_raw, pick_parts

from kitwright.config import settings, use_settings
from kitwright.services import bom, parts, runs
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import BuildRequirement, MbomItem, PartInventory, Run

console = Console(stderr=True)

NEED_SQL = """
    SELECT br.id, br.part_id, br.quantity - coalesce(inst.q, 0) - coalesce(dem.q, 0)
    FROM build_requirement br
    LEFT JOIN (SELECT build_requirement_id AS id, sum(quantity) AS q FROM abom_item
               WHERE parent_part_inventory_id IS NOT NULL GROUP BY 1) inst ON inst.id = br.id
    LEFT JOIN (SELECT i.part_id, sum(i.quantity) AS q FROM part_kit_item i JOIN part_kit k ON k.id = i.part_kit_id
               WHERE k.run_id = %(run)s AND k.status NOT IN ('COMPLETED', 'CANCELED') GROUP BY 1) dem
           ON dem.part_id = br.part_id
    WHERE br.run_id = %(run)s AND NOT br.waived
"""

TREE_DOWN = """
    WITH RECURSIVE t(id, child, parent, quantity, depth) AS (
        SELECT id, part_inventory_id, parent_part_inventory_id, quantity, 1 FROM abom_item
        WHERE parent_part_inventory_id = %(start)s
      UNION ALL
        SELECT a.id, a.part_inventory_id, a.parent_part_inventory_id, a.quantity, t.depth + 1
        FROM abom_item a JOIN t ON a.parent_part_inventory_id = t.child WHERE t.depth < 64)
    SELECT * FROM t ORDER BY depth, id
"""
TREE_UP = """
    WITH RECURSIVE t(id, child, parent, quantity, depth) AS (
        SELECT id, part_inventory_id, parent_part_inventory_id, quantity, 1 FROM abom_item
        WHERE part_inventory_id = %(start)s AND parent_part_inventory_id IS NOT NULL
      UNION ALL
        SELECT a.id, a.part_inventory_id, a.parent_part_inventory_id, a.quantity, t.depth + 1
        FROM abom_item a JOIN t ON a.part_inventory_id = t.parent
        WHERE a.parent_part_inventory_id IS NOT NULL AND t.depth < 64)
    SELECT * FROM t ORDER BY depth, id
"""

MOVE_TREE = """
    WITH RECURSIVE t(child, depth) AS (
        SELECT part_inventory_id, 1 FROM abom_item WHERE parent_part_inventory_id = %(start)s
      UNION ALL
        SELECT a.part_inventory_id, t.depth + 1 FROM abom_item a JOIN t ON a.parent_part_inventory_id = t.child
        WHERE t.depth < 64)
    UPDATE part_inventory SET location_id = %(location)s
    WHERE id IN (SELECT child FROM t UNION ALL SELECT %(start)s)
"""


def make_assembly(engine: sa.Engine, lines: list[tuple[int, int]]) -> int:
    with make_sessionmaker(engine)() as session:
        with UnitOfWork(session) as uow:
            assy = parts.create_part(uow, part_number=f"BENCH-ASSY-{uuid.uuid4().hex[:8]}", tracking_type="UNTRACKED")
            assy_id = assy.id
        with UnitOfWork(session) as uow:
            uow.session.add_all(MbomItem(parent_id=assy_id, part_id=p, quantity=Decimal(1)) for p, _ in lines)
            uow.commit()
    return assy_id


def start_run(engine: sa.Engine, assy_id: int, location_id: int) -> int:
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow:
        return runs.create_run(uow, title="bench", part_id=assy_id, status="IN_PROGRESS", location_id=location_id).id


def kit_service(engine: sa.Engine, run_id: int) -> tuple[float, int, int]:
    with make_sessionmaker(engine)() as session:
        start = time.perf_counter()
        with UnitOfWork(session) as uow:
            result = runs.create_kit_for_run(uow, run_id=run_id)
        elapsed = time.perf_counter() - start
    assert result.fulfilment is not None
    return elapsed, len(result.fulfilment.issued), len(result.fulfilment.shortages)


def kit_raw(engine: sa.Engine, run_id: int) -> tuple[float, int]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        start = time.perf_counter()
        cursor.execute("BEGIN")
        cursor.execute("SELECT id FROM run WHERE id = %(run)s FOR UPDATE", {"run": run_id})
        cursor.execute(NEED_SQL, {"run": run_id})
        need = [(int(part), int(units) // FACTOR) for _id, part, units in cursor.fetchall() if units > 0]
        cursor.execute("ROLLBACK")
        elapsed_need = time.perf_counter() - start
    finally:
        raw.close()
    elapsed, chosen = fulfil_raw(engine, need)
    return elapsed_need + elapsed, chosen


def build_tree(engine: sa.Engine, depth: int, fanout: int, location_id: int) -> tuple[int, int]:
    """Returns (top unit, deepest unit)."""
    with make_sessionmaker(engine)() as session:
        tag = uuid.uuid4().hex[:6]
        with UnitOfWork(session) as uow:
            leaf_part = parts.create_part(uow, part_number=f"BT-{tag}-{depth}", tracking_type="SERIAL")
        chain = [leaf_part]
        for level in reversed(range(depth)):
            with UnitOfWork(session) as uow:
                chain.insert(0, parts.create_part(uow, part_number=f"BT-{tag}-{level}", tracking_type="SERIAL"))
        with UnitOfWork(session) as uow:
            filler = parts.create_part(uow, part_number=f"BT-{tag}-F", tracking_type="UNTRACKED")
        for upper, lower in itertools.pairwise(chain):
            with UnitOfWork(session) as uow:
                bom.create_mbom_item(uow, parent_id=upper.id, part_id=lower.id, quantity=1)
            with UnitOfWork(session) as uow:
                bom.create_mbom_item(uow, parent_id=upper.id, part_id=filler.id, quantity=fanout)
        from kitwright.services.inventory import NewPartInventory, create_part_inventory

        with UnitOfWork(session) as uow:
            below = create_part_inventory(uow, NewPartInventory(part_id=chain[-1].id, serial_number=f"L-{tag}",
                                                                quantity=1, location_id=location_id)).id
        bottom = below
        old = settings()
        use_settings(replace(old, allow_install_from_stock=True))
        try:
            for part in reversed(chain[:-1]):
                with UnitOfWork(session) as uow:
                    run = runs.create_run(uow, title="tree", part_id=part.id, status="IN_PROGRESS",
                                          location_id=location_id)
                reqs = {r.part_id: r.id for r in session.scalars(sa.select(BuildRequirement).where(
                    BuildRequirement.run_id == run.id))}
                with UnitOfWork(session) as uow:
                    runs.install_part_inventory(uow, build_requirement_id=reqs[chain[chain.index(part) + 1].id],
                                                part_inventory_id=below)
                for _ in range(fanout):
                    with UnitOfWork(session) as uow:
                        stock = create_part_inventory(uow, NewPartInventory(
                            part_id=filler.id, quantity=1, location_id=location_id)).id
                    with UnitOfWork(session) as uow:
                        runs.install_part_inventory(uow, build_requirement_id=reqs[filler.id], part_inventory_id=stock)
                run_row = session.get(Run, run.id, populate_existing=True)
                assert run_row is not None
                with UnitOfWork(session) as uow:
                    runs.update_run(uow, run.id, run_row.etag, {"status": "COMPLETED"})
                below = session.get(Run, run.id, populate_existing=True).part_inventory_id  # type: ignore[union-attr]
        finally:
            use_settings(old)
        assert session.get(PartInventory, below) is not None
    return below, bottom


def median_ms(fn: Any, repeats: int) -> tuple[float, int]:
    times = []
    n = 0
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--fanout", type=int, default=5)
    parser.add_argument("--tree-repeats", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--move-repeats", type=int, default=20)
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url)
    if engine.dialect.name != "postgresql":
        console.print("bench_runs needs PostgreSQL (the raw side uses psycopg)")
        return 2
    rng = random.Random(args.seed)
    with engine.connect() as conn:
        records = conn.execute(sa.text("SELECT count(*) FROM part_inventory")).scalar_one()
        location_id = conn.execute(sa.text(
            "SELECT id FROM location WHERE inventory_available AND NOT archived ORDER BY id LIMIT 1")).scalar_one()
    lines = pick_parts(engine, args.lines, rng)
    console.print(f"{records} inventory records; an assembly of {len(lines)} mBOM lines")
    assy = make_assembly(engine, lines)
    service, raw = [], []
    for _ in range(args.repeats):
        elapsed, issued, short = kit_service(engine, start_run(engine, assy, location_id))
        service.append(elapsed)
        console.print(f"  createKitForRun: {elapsed * 1000:.0f} ms ({issued} records issued, {short} short)")
        elapsed, chosen = kit_raw(engine, start_run(engine, assy, location_id))
        raw.append(elapsed)
        console.print(f"  raw SQL:         {elapsed * 1000:.0f} ms ({chosen} records chosen)")
    print(f"createKitForRun, {len(lines)}-line BOM: service median {statistics.median(service) * 1000:.0f} ms, "
          f"raw SQL median {statistics.median(raw) * 1000:.0f} ms ({records} records)")

    top, bottom = build_tree(engine, args.depth, args.fanout, location_id)
    with make_sessionmaker(engine)() as session:
        down_ms, down_n = median_ms(lambda: len(runs.installed_in(session, top)), args.tree_repeats)
        up_ms, up_n = median_ms(lambda: len(runs.installed_where(session, bottom)), args.tree_repeats)
    raw_conn = engine.raw_connection()
    try:
        cursor = raw_conn.cursor()

        def raw_walk(sql: str, start: int) -> int:
            cursor.execute(sql, {"start": start})
            return len(cursor.fetchall())

        raw_down_ms, raw_down_n = median_ms(lambda: raw_walk(TREE_DOWN, top), args.tree_repeats)
        raw_up_ms, raw_up_n = median_ms(lambda: raw_walk(TREE_UP, bottom), args.tree_repeats)
        raw_conn.rollback()
    finally:
        raw_conn.close()
    assert (down_n, up_n) == (raw_down_n, raw_up_n), (down_n, up_n, raw_down_n, raw_up_n)
    with engine.connect() as conn:
        places = list(conn.execute(sa.text(
            "SELECT id FROM location WHERE inventory_available AND NOT archived ORDER BY id LIMIT 2")).scalars())
    moves: list[float] = []
    with make_sessionmaker(engine)() as session:
        for n in range(args.move_repeats):
            start = time.perf_counter()
            with UnitOfWork(session) as uow:
                runs.move_unit_to_inventory(uow, part_inventory_id=top, location_id=places[(n + 1) % 2])
            moves.append(time.perf_counter() - start)
        moved = [r.location_id for r in session.scalars(sa.select(PartInventory).where(
            PartInventory.id.in_([node.part_inventory_id for node in runs.installed_in(session, top)])))]
        assert set(moved) == {places[args.move_repeats % 2]}, moved
    raw_moves: list[float] = []
    raw_conn = engine.raw_connection()
    try:
        cursor = raw_conn.cursor()
        for n in range(args.move_repeats):
            start = time.perf_counter()
            cursor.execute(MOVE_TREE, {"start": top, "location": places[n % 2]})
            raw_conn.rollback()
            raw_moves.append(time.perf_counter() - start)
    finally:
        raw_conn.close()
    print(f"a unit moving with {down_n} installed records: service {statistics.median(moves) * 1000:.1f} ms, "
          f"raw SQL {statistics.median(raw_moves) * 1000:.1f} ms")
    print(f"what is in it (depth {args.depth}, {down_n} installs): service {down_ms:.2f} ms, raw SQL {raw_down_ms:.2f} ms")
    print(f"where is it installed ({up_n} levels up): service {up_ms:.2f} ms, raw SQL {raw_up_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
