"""Benchmark kits against the big data set, each figure beside the same work in raw SQL.

    python bench/generate.py --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench
    python bench/bench_kits.py --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench_kits

It WRITES (kits, splits, ledger entries): point it at a copy of the generated database
(`CREATE DATABASE kitwright_bench_kits TEMPLATE kitwright_bench`), not at one others measure.

1. fulfil: create a kit of `--lines` items (parts with available stock, a few units each) and
   time `services.kits.fulfill_part_kit` (FIFO across the whole kit, lock, split, link,
   ledger), `--fulfils` times with a fresh kit each time; beside it the same choice done by
   hand: one window-function SELECT of the FIFO candidates, `SELECT … FOR UPDATE` of them,
   the quantity UPDATEs, split INSERTs and link INSERTs, in one transaction (rolled back).
2. issue throughput: `--clients` concurrent HTTP clients send `issueItemToKit` (quantity 1
   from distinct lot/untracked records, a split each) to `kitwright serve --workers W` for
   `--seconds`; beside it the same clients doing the same transaction in raw SQL (lock the
   record, check it is not held, UPDATE, INSERT the split, the link and two ledger rows).
   For each side it also reads, from /proc, the CPU the server's processes, this client process
   and PostgreSQL's processes used while the clients ran: per request, and in cores. Server,
   database and clients share this machine's cores, so the rate is bounded by their sum.

Only 127.0.0.1 is contacted; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inventory import Server

from kitwright.services import kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartKitItem

console = Console(stderr=True)
FACTOR = 1_000_000

AVAILABLE_SQL = """
    pi.quantity > 0 AND NOT pi.on_order AND NOT pi.scrapped
    AND EXISTS (SELECT 1 FROM location l WHERE l.id = pi.location_id AND l.inventory_available)
    AND NOT EXISTS (SELECT 1 FROM part_kit_inventory k WHERE k.part_inventory_id = pi.id AND NOT k.released)
"""


def pick_parts(engine: sa.Engine, lines: int, rng: random.Random) -> list[tuple[int, int]]:
    """(part id, quantity to request) for parts with at least 3 available units."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"""
            SELECT pi.part_id, sum(pi.quantity) FROM part_inventory pi WHERE {AVAILABLE_SQL}
            GROUP BY pi.part_id HAVING sum(pi.quantity) >= {3 * FACTOR}""")).all()
    rng.shuffle(rows)
    return [(int(part), rng.randint(1, min(3, int(total) // FACTOR))) for part, total in rows[:lines]]


def make_kit(engine: sa.Engine, lines: list[tuple[int, int]]) -> int:
    with make_sessionmaker(engine)() as session:
        with UnitOfWork(session) as uow:
            kit = kits.create_part_kit(uow, status="REQUESTED")
            kit_id = kit.id
        with UnitOfWork(session) as uow:
            for part_id, quantity in lines:
                uow.session.add(PartKitItem(part_kit_id=kit_id, part_id=part_id, quantity=Decimal(quantity)))
            uow.commit()
    return kit_id


def fulfil_service(engine: sa.Engine, kit_id: int) -> tuple[float, int, int]:
    with make_sessionmaker(engine)() as session:
        start = time.perf_counter()
        with UnitOfWork(session) as uow:
            result = kits.fulfill_part_kit(uow, id=kit_id)
        elapsed = time.perf_counter() - start
    return elapsed, len(result.issued), len(result.shortages)


def fulfil_raw(engine: sa.Engine, lines: list[tuple[int, int]]) -> tuple[float, int]:
    """The same choice and writes by hand, in one transaction, rolled back."""
    need = {part: q * FACTOR for part, q in lines}
    values = ", ".join(f"({part}, {units})" for part, units in need.items())
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        start = time.perf_counter()
        cursor.execute("BEGIN")
        cursor.execute("INSERT INTO part_kit (status, created_at, etag) VALUES ('IN_PROGRESS', now(), 'x') RETURNING id")
        kit_id = cursor.fetchone()[0]
        cursor.execute(f"""
            INSERT INTO part_kit_item (part_kit_id, part_id, quantity, created_at, etag)
            SELECT {kit_id}, n.part_id, n.units, now(), 'x' FROM (VALUES {values}) AS n(part_id, units)
            RETURNING id, part_id""")
        items = {part: item for item, part in cursor.fetchall()}
        cursor.execute(f"""
            WITH need(part_id, units) AS (VALUES {values}),
            ranked AS (
                SELECT pi.id, pi.part_id, pi.quantity,
                       sum(pi.quantity) OVER (PARTITION BY pi.part_id ORDER BY pi.created_at, pi.id)
                         - pi.quantity AS preceding
                FROM part_inventory pi WHERE pi.part_id IN (SELECT part_id FROM need) AND {AVAILABLE_SQL})
            SELECT r.id, r.part_id, r.quantity, LEAST(r.quantity, n.units - r.preceding)
            FROM ranked r JOIN need n USING (part_id) WHERE r.preceding < n.units ORDER BY r.id""")
        chosen = cursor.fetchall()
        ids = [row[0] for row in chosen]
        cursor.execute("SELECT id FROM part_inventory WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,))
        cursor.fetchall()
        whole = [(kit_id, items[part], rid, take) for rid, part, have, take in chosen if take == have]
        split = [(rid, take, kit_id, items[part]) for rid, part, have, take in chosen if take < have]
        if whole:
            cursor.executemany("""INSERT INTO part_kit_inventory (part_kit_id, part_kit_item_id, part_inventory_id,
                issued_quantity, released, created_at) VALUES (%s, %s, %s, %s, false, now())""", whole)
        for rid, take, kid, item in split:
            cursor.execute("UPDATE part_inventory SET quantity = quantity - %s, etag = 'y' WHERE id = %s", (take, rid))
            cursor.execute("""INSERT INTO part_inventory (part_id, part_number, location_id, lot_number, quantity,
                attributes, on_order, scrapped, how_created, origin_part_inventory_id, created_at, etag)
                SELECT part_id, part_number, location_id, lot_number, %s, attributes, false, false, 'PARTIAL_KIT',
                id, created_at, 'z' FROM part_inventory WHERE id = %s RETURNING id""", (take, rid))
            new_id = cursor.fetchone()[0]
            cursor.execute("""INSERT INTO part_kit_inventory (part_kit_id, part_kit_item_id, part_inventory_id,
                issued_quantity, released, created_at) VALUES (%s, %s, %s, %s, false, now())""", (kid, item, new_id, take))
        elapsed = time.perf_counter() - start
        cursor.execute("ROLLBACK")
        return elapsed, len(chosen)
    finally:
        raw.close()


# -- issue throughput --------------------------------------------------------------------------

ISSUE = """mutation IssueItemToKit($input: InventoryToKitInput!) {
    issueItemToKit(input: $input) { partInventory { id } } }"""


def issue_targets(engine: sa.Engine, count: int, rng: random.Random) -> list[tuple[int, int]]:
    """(record id, part id) of available lot / untracked records holding at least 2."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"""
            SELECT pi.id, pi.part_id FROM part_inventory pi
            WHERE pi.serial_number IS NULL AND pi.quantity >= {2 * FACTOR} AND {AVAILABLE_SQL}
            ORDER BY random() LIMIT {count}""")).all()
    return [(int(a), int(b)) for a, b in rows]


def items_for(engine: sa.Engine, parts: set[int]) -> dict[int, int]:
    """One open kit with an item per part asking for plenty."""
    with make_sessionmaker(engine)() as session:
        with UnitOfWork(session) as uow:
            kit_id = kits.create_part_kit(uow, status="IN_PROGRESS").id
        with UnitOfWork(session) as uow:
            rows = [PartKitItem(part_kit_id=kit_id, part_id=p, quantity=Decimal(10**6)) for p in sorted(parts)]
            uow.session.add_all(rows)
            uow.commit()
            return {row.part_id: row.id for row in rows}


def run_clients(clients: int, seconds: float, work: list[Any], fn: Any) -> tuple[int, int, float, list[float]]:
    """`clients` threads take work items until time is up; returns (ok, failed, elapsed, latencies)."""
    lock = threading.Lock()
    queue = list(work)
    ok = failed = 0
    latencies: list[float] = []
    barrier = threading.Barrier(clients)
    deadline: list[float] = []

    def worker() -> None:
        nonlocal ok, failed
        state = fn("open")
        barrier.wait(timeout=60)
        if not deadline:
            deadline.append(time.monotonic() + seconds)
        while time.monotonic() < deadline[0]:
            with lock:
                if not queue:
                    break
                item = queue.pop()
            start = time.perf_counter()
            success = fn(item, state)
            with lock:
                latencies.append(time.perf_counter() - start)
                ok, failed = (ok + 1, failed) if success else (ok, failed + 1)
        fn("close", state)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return ok, failed, time.monotonic() - start, latencies


TICKS = os.sysconf("SC_CLK_TCK")


def _pids(*pgrep_args: str) -> set[int]:
    # pgrep exits with 1 when nothing matches: an empty set, not an error.
    found = subprocess.run(["pgrep", *pgrep_args], check=False, capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


def _cpu_of(pids: set[int]) -> float:
    """User + system seconds of these processes (those that ended are skipped)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


class CpuMeter:
    """CPU used by the server (its process session), this process and PostgreSQL (processes of
    the user postgres, when the database runs on this machine) between start() and stop()."""

    def __init__(self, server_session: int | None) -> None:
        self.server_session = server_session

    def _read(self) -> tuple[float, float, float]:
        server = _cpu_of(_pids("-s", str(self.server_session))) if self.server_session else 0.0
        self.database_pids |= _pids("-u", "postgres")
        return server, time.process_time(), _cpu_of(self.database_pids)

    def start(self) -> None:
        self.database_pids: set[int] = set()
        self.before, self.started = self._read(), time.monotonic()

    def stop(self, requests: int) -> dict[str, float]:
        after, seconds = self._read(), time.monotonic() - self.started
        used = [a - b for a, b in zip(after, self.before, strict=True)]
        result: dict[str, float] = {}
        for name, value in zip(("server", "client", "database"), used, strict=True):
            result[f"{name}_cpu_ms_per_request"] = round(value / max(requests, 1) * 1000, 2)
            result[f"{name}_cores"] = round(value / seconds, 2)
        return result


def http_issue(endpoint: str) -> Any:
    def fn(item: Any, state: Any = None) -> Any:
        if item == "open":
            return httpx.Client(timeout=30)
        if item == "close":
            state.close()
            return None
        record_id, item_id = item
        response = state.post(endpoint, json={"query": ISSUE, "variables": {
            "input": {"partInventoryId": record_id, "partKitItemId": item_id, "quantity": 1}}})
        return response.status_code == 200 and not response.json().get("errors")
    return fn


def raw_issue(engine: sa.Engine) -> Any:
    def fn(item: Any, state: Any = None) -> Any:
        if item == "open":
            return engine.raw_connection()
        if item == "close":
            state.close()
            return None
        record_id, item_id = item
        cursor = state.cursor()
        try:
            cursor.execute("SELECT part_kit_id FROM part_kit_item WHERE id = %s", (item_id,))
            kit_id = cursor.fetchone()[0]
            cursor.execute("SELECT id FROM part_kit WHERE id = %s FOR SHARE", (kit_id,))  # as the service
            cursor.execute("SELECT id FROM part_kit_item WHERE id = %s FOR UPDATE", (item_id,))
            cursor.execute("SELECT quantity, part_id, location_id FROM part_inventory WHERE id = %s FOR UPDATE",
                           (record_id,))
            quantity, part_id, location_id = cursor.fetchone()
            cursor.execute(f"SELECT 1 FROM part_inventory pi WHERE pi.id = %s AND {AVAILABLE_SQL}", (record_id,))
            if cursor.fetchone() is None or quantity < 2 * FACTOR:
                state.rollback()
                return False
            cursor.execute("UPDATE part_inventory SET quantity = quantity - %s, etag = %s WHERE id = %s",
                           (FACTOR, uuid.uuid4().hex, record_id))
            cursor.execute("""INSERT INTO part_inventory (part_id, part_number, location_id, lot_number, quantity,
                attributes, on_order, scrapped, how_created, origin_part_inventory_id, created_at, etag)
                SELECT part_id, part_number, location_id, lot_number, %s, attributes, false, false, 'PARTIAL_KIT',
                id, created_at, %s FROM part_inventory WHERE id = %s RETURNING id""",
                           (FACTOR, uuid.uuid4().hex, record_id))
            new_id = cursor.fetchone()[0]
            cursor.execute("""INSERT INTO part_kit_inventory (part_kit_id, part_kit_item_id, part_inventory_id,
                issued_quantity, released, created_at) VALUES (%s, %s, %s, %s, false, now())""",
                           (kit_id, item_id, new_id, FACTOR))
            for rid in (record_id, new_id):
                cursor.execute("""INSERT INTO ledger_entry (at, actor_id, actor, operation, part_inventory_id,
                    part_id, location_id, "references", before, after)
                    VALUES (now(), 1, 'system', 'KIT_SPLIT', %s, %s, %s, '{}', NULL, '{}')""",
                               (rid, part_id, location_id))
            state.commit()
            return True
        except Exception:
            state.rollback()
            return False
    return fn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--fulfils", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--server-log", default="/tmp/kitwright-bench-kits-server.log")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    engine = make_engine(args.database_url)
    if engine.dialect.name != "postgresql":
        raise SystemExit("bench_kits measures PostgreSQL (raw SQL side uses psycopg)")
    with engine.connect() as conn:
        records = conn.execute(sa.text("SELECT count(*) FROM part_inventory")).scalar_one()
    console.print(f"postgresql: {records:,} inventory records")
    results: dict[str, Any] = {"records": records}

    service_times, raw_times = [], []
    for _ in range(args.fulfils):
        lines = pick_parts(engine, args.lines, rng)
        raw_elapsed, raw_rows = fulfil_raw(engine, lines)
        raw_times.append(raw_elapsed)
        kit_id = make_kit(engine, lines)
        elapsed, issued, short = fulfil_service(engine, kit_id)
        service_times.append(elapsed)
        console.print(f"fulfil {len(lines)} lines: service {elapsed * 1000:.0f} ms ({issued} issued, "
                      f"{short} short) | raw SQL {raw_elapsed * 1000:.0f} ms ({raw_rows} rows)")
    results["fulfil"] = {
        "lines": args.lines, "runs": args.fulfils,
        "service_median_ms": round(statistics.median(service_times) * 1000, 1),
        "raw_median_ms": round(statistics.median(raw_times) * 1000, 1),
    }
    results["fulfil"]["ratio"] = round(results["fulfil"]["service_median_ms"] / results["fulfil"]["raw_median_ms"], 1)

    budget = int(args.clients * args.seconds * 400)
    targets = issue_targets(engine, budget * 2, rng)
    half = len(targets) // 2
    item_of = items_for(engine, {part for _, part in targets})
    http_work = [(rid, item_of[part]) for rid, part in targets[:half]]
    raw_work = [(rid, item_of[part]) for rid, part in targets[half:]]
    engine.dispose()
    with Server(args.database_url, args.port, args.workers, Path(args.server_log)) as server:
        assert server.process is not None
        meter = CpuMeter(server.process.pid)  # the server runs in its own session
        meter.start()
        ok, failed, elapsed, lat = run_clients(args.clients, args.seconds, http_work,
                                               http_issue(f"http://127.0.0.1:{args.port}/graphql"))
        http_cpu = meter.stop(ok)
    engine = make_engine(args.database_url, pool_size=args.clients, max_overflow=4)
    meter = CpuMeter(None)
    meter.start()
    rok, rfailed, relapsed, rlat = run_clients(args.clients, args.seconds, raw_work, raw_issue(engine))
    raw_cpu = meter.stop(rok)
    engine.dispose()

    def p(values: list[float], q: float) -> float:
        return round(sorted(values)[int(q * (len(values) - 1))] * 1000, 1) if values else 0.0

    results["issue"] = {
        "clients": args.clients, "workers": args.workers,
        "graphql_per_s": round(ok / elapsed, 1), "graphql_failed": failed,
        "graphql_p50_ms": p(lat, 0.5), "graphql_p95_ms": p(lat, 0.95),
        "raw_per_s": round(rok / relapsed, 1), "raw_failed": rfailed,
        "raw_p50_ms": p(rlat, 0.5), "raw_p95_ms": p(rlat, 0.95),
        "graphql_cpu": http_cpu, "raw_cpu": raw_cpu,
    }
    console.print_json(json.dumps(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
