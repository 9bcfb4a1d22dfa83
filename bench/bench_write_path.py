"""Server CPU per request on the write path, beside the same transactions in raw SQL.

    python bench/bench_write_path.py --database-url sqlite:////tmp/kw-write.db \
        --database-url postgresql://postgres@127.0.0.1:5432/kitwright_write

For each database (created afresh: a small data set) this

1. starts the real server (`kitwright serve --workers 1`, authenticated by an API key sent as
   `Authorization: Bearer <secret>`, rate limits on but raised so a sequential client is never
   refused) and sends, one after another over one keep-alive connection, `--requests` of each:
   `{ __typename }`, `createPartInventory`, `createPartKitItem`, `issueItemToKit` with a split
   (1 of a lot record that holds 1,000,000). The server's CPU time (user + system of its process,
   every thread, from /proc/<pid>/stat) over the timed requests, divided by their number, is
   the *server CPU per request*; the client's wall time gives p50;
2. runs the same transactions by hand through the driver (sqlite3 / psycopg): the same reads,
   locks, checks, writes, ledger and audit entries, committed; their CPU time (this process)
   and wall time are the baseline.

`--profile OPERATION` instead runs that operation in-process under cProfile (the thread pool
replaced by direct calls, so one profile sees the middleware, GraphQL and the service) and
prints the functions with the most cumulative and own time.

Every loop is bounded in count; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.factories builds the data
from bench_inventory import Server
from generate import prepare_database

from kitwright.services import auth, kits
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade

console = Console(stderr=True)
FACTOR = 1_000_000
TICKS = os.sysconf("SC_CLK_TCK")

TYPENAME = "{ __typename }"
CREATE_RECORD = """mutation CreatePartInventory($input: CreatePartInventoryInput!) {
  createPartInventory(input: $input) { partInventory { id quantity status } } }"""
CREATE_ITEM = """mutation CreatePartKitItem($input: CreatePartKitItemInput!) {
  createPartKitItem(input: $input) { partKitItem { id quantity } } }"""
ISSUE = """mutation IssueItemToKit($input: InventoryToKitInput!) {
  issueItemToKit(input: $input) { partInventory { id quantity status } } }"""


# -- the data set -----------------------------------------------------------------------------


class Fixture:
    """A small database: a lot-tracked part with `records` records, a location, an open kit
    with one item asking for plenty, and an admin's API key."""

    def __init__(self, url: str, records: int) -> None:
        prepare_database(url, replace=True)
        self.url = url
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        from tests.factories import location, part, record

        with sessions() as session:
            with UnitOfWork(session) as uow:
                user = auth.create_user(uow, "bench", "admin")
            with UnitOfWork(session) as uow:
                self.secret = auth.create_api_key(uow, user.id, name="bench").secret
            self.location_id = location(session, "Bench shelf").id
            lot = part(session, "WP-LOT", "LOT")
            self.part_id = lot.id
            for i in range(records):
                last = record(session, lot, 1_000_000 if i == records - 1 else 5, location_id=self.location_id,
                              lot_number=f"LOT-{i}")
            self.source_id = last.id  # holds 1,000,000: every issue of 1 splits it
            with UnitOfWork(session) as uow:
                self.kit_id = kits.create_part_kit(uow, status="IN_PROGRESS").id
            with UnitOfWork(session) as uow:
                self.item_id = kits.create_part_kit_item(uow, part_kit_id=self.kit_id, part_id=lot.id,
                                                         quantity=Decimal(FACTOR)).id
        engine.dispose()

    def variables(self, operation: str, i: int) -> dict[str, Any] | None:
        if operation == "createPartInventory":
            return {"input": {"partId": str(self.part_id), "locationId": str(self.location_id), "quantity": "5",
                              "lotNumber": f"NEW-{i}"}}
        if operation == "createPartKitItem":
            return {"input": {"partKitId": str(self.kit_id), "partId": str(self.part_id), "quantity": "1"}}
        if operation == "issueItemToKit":
            return {"input": {"partInventoryId": str(self.source_id), "partKitItemId": str(self.item_id),
                              "quantity": "1"}}
        return None


OPERATIONS = {"typename": TYPENAME, "createPartInventory": CREATE_RECORD, "createPartKitItem": CREATE_ITEM,
              "issueItemToKit": ISSUE}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def through_server(fixture: Fixture, port: int, requests: int, warmup: int, log: Path) -> dict[str, dict[str, float]]:
    os.environ.pop("KITWRIGHT_INSECURE_DEV", None)
    os.environ["KITWRIGHT_TOKEN"] = fixture.secret  # server_environment(): no development mode
    results: dict[str, dict[str, float]] = {}
    with Server(fixture.url, port, 1, log) as server:
        assert server.process is not None
        pid = server.process.pid
        headers = {"Authorization": f"Bearer {fixture.secret}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            counter = 0
            for name, query in OPERATIONS.items():
                def send(i: int, name: str = name, query: str = query) -> None:
                    body = client.post("/graphql", json={"query": query, "variables": fixture.variables(name, i)})
                    payload = body.json()
                    if body.status_code != 200 or payload.get("errors"):
                        raise SystemExit(f"{name}: {body.status_code} {payload}")

                for _ in range(warmup):
                    counter += 1
                    send(counter)
                latencies = []
                before = cpu_seconds(pid)
                for _ in range(requests):
                    counter += 1
                    started = time.perf_counter()
                    send(counter)
                    latencies.append(time.perf_counter() - started)
                used = cpu_seconds(pid) - before
                results[name] = {"server_cpu_ms": round(used / requests * 1000, 2),
                                 "p50_ms": round(statistics.median(latencies) * 1000, 2)}
                console.print(f"  {name}: server CPU {results[name]['server_cpu_ms']} ms/request, "
                              f"p50 {results[name]['p50_ms']} ms")
    return results


# -- the same transactions by hand --------------------------------------------------------------


class Raw:
    """The mutations' work in hand-written SQL through the driver, one transaction each."""

    def __init__(self, fixture: Fixture) -> None:
        self.fixture = fixture
        self.engine = make_engine(fixture.url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.conn: Any = self.engine.raw_connection()
        self.true, self.false = ("true", "false") if self.postgres else ("1", "0")
        self.lock = " FOR UPDATE" if self.postgres else ""
        self.share = " FOR SHARE" if self.postgres else ""

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()

    def q(self, sql: str) -> str:
        return sql if self.postgres else sql.replace("%s", "?")

    def run(self, cursor: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
        cursor.execute(self.q(sql), params)
        return cursor

    def begin(self) -> Any:
        cursor = self.conn.cursor()
        if not self.postgres:
            cursor.execute("BEGIN IMMEDIATE")
        return cursor

    def now(self) -> Any:
        moment = datetime.now(UTC)
        return moment if self.postgres else moment.replace(tzinfo=None).isoformat(sep=" ")

    def ledger(self, cursor: Any, operation: str, record_id: int, part_id: int, location_id: int,
               before: dict[str, Any] | None, after: dict[str, Any] | None, refs: dict[str, Any]) -> None:
        self.run(cursor, """INSERT INTO ledger_entry (at, actor_id, actor, operation, part_inventory_id, part_id,
            location_id, "references", before, after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                 (self.now(), 2, "bench via key kwk_x", operation, record_id, part_id, location_id,
                  json.dumps(refs), None if before is None else json.dumps(before),
                  None if after is None else json.dumps(after)))

    @staticmethod
    def snapshot(row: tuple[Any, ...]) -> dict[str, Any]:
        part_id, location_id, serial, lot, quantity, on_order, scrapped, origin = row
        return {"part_id": part_id, "location_id": location_id, "serial_number": serial, "lot_number": lot,
                "quantity": str(Decimal(quantity) / FACTOR), "on_order": bool(on_order),
                "scrapped": bool(scrapped), "origin_part_inventory_id": origin}

    def create_part_inventory(self, i: int) -> None:
        f = self.fixture
        c = self.begin()
        part = self.run(c, "SELECT id, part_number, tracking_type, unit_of_measure_id FROM part WHERE id = %s"
                        + self.share, (f.part_id,)).fetchone()
        self.run(c, "SELECT 1 FROM part_component WHERE part_id = %s LIMIT 1", (f.part_id,)).fetchone()
        self.run(c, "SELECT id, archived FROM location WHERE id = %s", (f.location_id,)).fetchone()
        record_id = self.run(c, f"""INSERT INTO part_inventory (part_id, part_number, location_id, unit_of_measure_id,
            lot_number, quantity, attributes, on_order, scrapped, how_created, created_at, created_by_id, etag)
            VALUES (%s, %s, %s, %s, %s, %s, '{{}}', {self.false}, {self.false}, 'CREATED', %s, 2, %s) RETURNING id""",
                             (part[0], part[1], f.location_id, part[3], f"RAW-{i}", 5 * FACTOR, self.now(),
                              os.urandom(16).hex())).fetchone()[0]
        after = self.snapshot((part[0], f.location_id, None, f"RAW-{i}", 5 * FACTOR, False, False, None))
        self.ledger(c, "CREATE", record_id, part[0], f.location_id, None, after, {})
        self.conn.commit()

    def create_part_kit_item(self, i: int) -> None:
        f = self.fixture
        c = self.begin()
        self.run(c, "SELECT id, status FROM part_kit WHERE id = %s" + self.lock, (f.kit_id,)).fetchone()
        self.run(c, "SELECT 1 FROM kanban_cycle WHERE part_kit_id = %s", (f.kit_id,)).fetchone()
        self.run(c, "SELECT id, tracking_type FROM part WHERE id = %s", (f.part_id,)).fetchone()
        now = self.now()
        item_id = self.run(c, """INSERT INTO part_kit_item (part_kit_id, part_id, quantity, created_at, etag)
            VALUES (%s, %s, %s, %s, %s) RETURNING id""",
                           (f.kit_id, f.part_id, FACTOR, now, os.urandom(16).hex())).fetchone()[0]
        changes = {"id": item_id, "part_kit_id": f.kit_id, "part_id": f.part_id, "quantity": "1",
                   "created_at": str(now)}
        self.run(c, """INSERT INTO audit_entry (at, actor_id, actor, action, target_type, target_id, changes)
            VALUES (%s, 2, 'bench via key kwk_x', 'CREATE', 'PartKitItem', %s, %s)""",
                 (now, item_id, json.dumps(changes)))
        self.conn.commit()

    def issue_item_to_kit(self, i: int) -> None:
        f = self.fixture
        c = self.begin()
        self.run(c, "SELECT part_kit_id, part_id, quantity FROM part_kit_item WHERE id = %s", (f.item_id,)).fetchone()
        self.run(c, "SELECT id, status, delivery_location_id FROM part_kit WHERE id = %s" + self.share,
                 (f.kit_id,)).fetchone()
        self.run(c, "SELECT id FROM part_kit_item WHERE id = %s" + self.lock, (f.item_id,)).fetchone()
        row = self.run(c, """SELECT part_id, location_id, serial_number, lot_number, quantity, on_order, scrapped,
            origin_part_inventory_id FROM part_inventory WHERE id = %s""" + self.lock, (f.source_id,)).fetchone()
        available = self.run(c, f"""SELECT 1 FROM part_inventory pi WHERE pi.id = %s AND pi.quantity > 0
            AND pi.on_order = {self.false} AND pi.scrapped = {self.false}
            AND EXISTS (SELECT 1 FROM location l WHERE l.id = pi.location_id AND l.inventory_available = {self.true})
            AND NOT EXISTS (SELECT 1 FROM part_kit_inventory k WHERE k.part_inventory_id = pi.id
                            AND k.released = {self.false})""", (f.source_id,)).fetchone()
        self.run(c, f"""SELECT coalesce(sum(issued_quantity), 0) FROM part_kit_inventory
            WHERE part_kit_item_id = %s AND released = {self.false}""", (f.item_id,)).fetchone()
        if available is None or row[4] < 2 * FACTOR:
            raise SystemExit("raw issue: the source record ran out")
        before = self.snapshot(row)
        self.run(c, "UPDATE part_inventory SET quantity = quantity - %s, etag = %s WHERE id = %s",
                 (FACTOR, os.urandom(16).hex(), f.source_id))
        new_id = self.run(c, f"""INSERT INTO part_inventory (part_id, part_number, location_id, lot_number, quantity,
            attributes, on_order, scrapped, how_created, origin_part_inventory_id, created_at, etag)
            SELECT part_id, part_number, location_id, lot_number, %s, attributes, {self.false}, {self.false},
            'PARTIAL_KIT', id, created_at, %s FROM part_inventory WHERE id = %s RETURNING id""",
                          (FACTOR, os.urandom(16).hex(), f.source_id)).fetchone()[0]
        self.run(c, f"""INSERT INTO part_kit_inventory (part_kit_id, part_kit_item_id, part_inventory_id,
            issued_quantity, released, created_at) VALUES (%s, %s, %s, %s, {self.false}, %s)""",
                 (f.kit_id, f.item_id, new_id, FACTOR, self.now()))
        refs = {"partKitId": f.kit_id, "partKitItemId": f.item_id}
        after = {**before, "quantity": str(Decimal(row[4] - FACTOR) / FACTOR)}
        self.ledger(c, "KIT_SPLIT", f.source_id, row[0], row[1], before, after, refs)
        split = {**before, "quantity": "1", "origin_part_inventory_id": f.source_id}
        self.ledger(c, "KIT_SPLIT", new_id, row[0], row[1], None, split, refs)
        self.conn.commit()


def raw_side(fixture: Fixture, requests: int, warmup: int) -> dict[str, dict[str, float]]:
    raw = Raw(fixture)
    results: dict[str, dict[str, float]] = {}
    work: dict[str, Callable[[int], None]] = {
        "createPartInventory": raw.create_part_inventory,
        "createPartKitItem": raw.create_part_kit_item,
        "issueItemToKit": raw.issue_item_to_kit,
    }
    try:
        for name, fn in work.items():
            for i in range(warmup):
                fn(-1 - i)
            latencies = []
            cpu = time.process_time()
            for i in range(requests):
                started = time.perf_counter()
                fn(i)
                latencies.append(time.perf_counter() - started)
            used = time.process_time() - cpu
            results[name] = {"cpu_ms": round(used / requests * 1000, 3),
                             "p50_ms": round(statistics.median(latencies) * 1000, 3)}
            console.print(f"  raw {name}: CPU {results[name]['cpu_ms']} ms, p50 {results[name]['p50_ms']} ms")
    finally:
        raw.close()
    return results


# -- profile ------------------------------------------------------------------------------------


def profile(fixture: Fixture, operation: str, requests: int, top: int) -> None:
    """One operation in-process under cProfile, every step in this thread."""
    import asyncio
    import cProfile
    import pstats

    import anyio.to_thread

    async def inline(fn: Callable[..., Any], *args: Any, **_kw: Any) -> Any:
        return fn(*args)

    anyio.to_thread.run_sync = inline  # type: ignore[assignment]  # one thread: one profile
    os.environ.pop("KITWRIGHT_INSECURE_DEV", None)
    os.environ.update({"KITWRIGHT_RATE_LIMIT": "1000000", "KITWRIGHT_RATE_BURST": "1000000"})
    from kitwright.app import create_app

    engine = make_engine(fixture.url)
    app = create_app(engine)
    query = OPERATIONS[operation]
    headers = {"Authorization": f"Bearer {fixture.secret}"}

    async def go() -> None:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as client:
            async def send(i: int) -> None:
                response = await client.post("/graphql", json={"query": query,
                                                              "variables": fixture.variables(operation, i)})
                if response.json().get("errors"):
                    raise SystemExit(response.text)

            for i in range(20):
                await send(10_000 + i)
            profiler = cProfile.Profile(time.process_time)  # CPU, not waits for the database
            started = time.process_time()
            profiler.enable()
            for i in range(requests):
                await send(i)
            profiler.disable()
            console.print(f"{operation}: {(time.process_time() - started) / requests * 1000:.2f} ms CPU per request "
                          "in-process, profiler on")
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(top)
            stats.sort_stats("tottime").print_stats(top)
            if os.environ.get("BENCH_CALLERS"):
                stats.print_callers(os.environ["BENCH_CALLERS"])

    asyncio.run(go())
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", action="append", required=True, help="repeat for each engine")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--records", type=int, default=10, help="records of the part (a small database)")
    parser.add_argument("--port", type=int, default=8773)
    parser.add_argument("--profile", choices=list(OPERATIONS), help="profile one operation in-process instead")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--server-log", default="/tmp/kitwright-bench-write-server.log")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    all_results: dict[str, Any] = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}
    for url in args.database_url:
        fixture = Fixture(url, args.records)
        engine_name = "postgresql" if url.startswith("postgres") else "sqlite"
        if args.profile:
            profile(fixture, args.profile, args.requests, args.top)
            continue
        console.print(f"[bold]{engine_name}[/bold]")
        served = through_server(fixture, args.port, args.requests, args.warmup, Path(args.server_log))
        raw = raw_side(fixture, args.requests, args.warmup)
        all_results[engine_name] = {"server": served, "raw": raw}
    if args.profile:
        return 0
    all_results["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    table = Table(title="server CPU per request (ms), 1 worker, small database")
    table.add_column("operation")
    for url in args.database_url:
        name = "postgresql" if url.startswith("postgres") else "sqlite"
        table.add_column(f"{name} server CPU")
        table.add_column(f"{name} p50")
        table.add_column(f"{name} raw CPU / p50")
    for op in OPERATIONS:
        row = [op]
        for url in args.database_url:
            found = all_results["postgresql" if url.startswith("postgres") else "sqlite"]
            raw = found["raw"].get(op)
            row += [f"{found['server'][op]['server_cpu_ms']:.2f}", f"{found['server'][op]['p50_ms']:.2f}",
                    f"{raw['cpu_ms']:.2f} / {raw['p50_ms']:.2f}" if raw else "—"]
        table.add_row(*row)
    Console(width=200).print(table)
    console.print(f"load average: before {all_results['loadavg_before']}, after {all_results['loadavg_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
