"""Benchmark `partInventories(first: 50)` with a filter and a sort, over HTTP, against raw SQL.

    python bench/bench_inventory.py --database-url sqlite:///bench/bench.db
    python bench/bench_inventory.py --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench

Fill the database first with bench/generate.py. For each scenario this

1. counts the SQL statements one GraphQL request runs, in-process (starlette TestClient and a
   SQLAlchemy `before_cursor_execute` listener), to show the page costs a fixed number of
   queries and not one per row (`--explain` also prints the plan of each statement);
2. starts the real server (`kitwright serve --host 127.0.0.1 --port P --workers W`) as a
   subprocess, waits for /health, sends warm-up requests and then `--requests` timed requests
   one after another with httpx, rotating over `--targets` filter values;
3. fetches the same page (same rows, same totalCount, same JSON shape) with one hand-written
   SELECT with JOINs plus a COUNT, through sqlite3 / psycopg directly, serialised to JSON;

and prints p50/p95 of both and their ratio. Every loop is bounded in count and in time
(`--max-seconds` per phase); only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import simplejson
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from kitwright.domain.quantities import from_units
from kitwright.store.db import make_engine, normalise_url

console = Console(stderr=True)

QUERY = """
query BenchPartInventories($filters: PartInventoriesInputFilters, $sort: [PartInventorySortEnum]) {
  partInventories(first: 50, filters: $filters, sort: $sort) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id quantity serialNumber lotNumber status
        part { partNumber }
        location { id name }
      }
    }
  }
}
"""

QUERY_WITHOUT_TOTAL = QUERY.replace("    totalCount\n", "")

# The same page by hand: status AVAILABLE written the way a person would (the record's own
# flags, its location's availability, and no kit, order, unit or run holding it).
RAW_SELECT = """
SELECT pi.id, pi.quantity, pi.serial_number, pi.lot_number, p.part_number, l.id, l.name
FROM part_inventory pi
JOIN part p ON p.id = pi.part_id
JOIN location l ON l.id = pi.location_id
WHERE {where} AND NOT pi.scrapped AND NOT pi.on_order AND pi.quantity > 0 AND l.inventory_available{kitted}
ORDER BY pi.created_at DESC, pi.id ASC
LIMIT 51
"""
RAW_COUNT = """
SELECT count(*)
FROM part_inventory pi
JOIN location l ON l.id = pi.location_id
WHERE {where} AND NOT pi.scrapped AND NOT pi.on_order AND pi.quantity > 0 AND l.inventory_available{kitted}
"""
# Held or used elsewhere (statuses KITTED, INSTALLED, ALLOCATED, WIP), each once its table exists.
RAW_NOT_KITTED = """
  AND NOT EXISTS (SELECT 1 FROM part_kit_inventory k WHERE k.part_inventory_id = pi.id AND NOT k.released)"""
RAW_NOT_HELD = {
    "part_kit_inventory": RAW_NOT_KITTED,
    "abom_item": """
  AND NOT EXISTS (SELECT 1 FROM abom_item a WHERE a.part_inventory_id = pi.id AND a.parent_part_inventory_id IS NOT NULL)""",
    "order_allocation_inventory": """
  AND NOT EXISTS (SELECT 1 FROM order_allocation_inventory o WHERE o.part_inventory_id = pi.id AND NOT o.released)""",
    "run": """
  AND NOT EXISTS (SELECT 1 FROM run r WHERE r.part_inventory_id = pi.id AND r.status NOT IN ('COMPLETED', 'CANCELED'))""",
}


@dataclass
class Scenario:
    name: str
    description: str
    targets: list[Any]  # one filter value per request, rotated
    graphql_filters: Callable[[Any], dict[str, Any]]
    raw_where: Callable[[Any, str], tuple[str, list[Any]]]  # (SQL, params) for a paramstyle


def ids_where(column: str) -> Callable[[Any, str], tuple[str, list[Any]]]:
    """The raw side's filter on `column` (one id or a list) in a driver's paramstyle."""
    def where(value: Any, style: str) -> tuple[str, list[Any]]:
        values = value if isinstance(value, list) else [value]
        if style == "pyformat":
            return f"{column} = ANY(%s)", [values]
        return f"{column} IN ({','.join('?' * len(values))})", list(values)
    return where


def pick_scenarios(engine: sa.Engine, count: int, seed: int, only: list[str]) -> list[Scenario]:
    rng = random.Random(seed)
    with engine.connect() as conn:
        max_id = conn.execute(sa.text("SELECT max(id) FROM part_inventory")).scalar_one() or 0
        if not max_id:
            raise SystemExit("part_inventory is empty: run bench/generate.py first")
        # Parts as people look them up: a record picked at random (so popular parts come up more).
        record_ids = [rng.randint(1, max_id) for _ in range(count * 3)]
        rows = conn.execute(
            sa.text("SELECT DISTINCT part_id FROM part_inventory WHERE id IN ("
                    + ",".join(str(i) for i in record_ids) + ")")
        ).scalars().all()
        part_ids = sorted(rows)[:count]
        rng.shuffle(part_ids)
        # Stockrooms (a ROOM that holds stock) and all the locations under them.
        rooms = conn.execute(
            sa.text("SELECT id, path FROM location WHERE type = 'ROOM' AND inventory_available "
                    "ORDER BY id")
        ).all()
        rooms = rng.sample(list(rooms), k=min(count, len(rooms)))
        subtrees = []
        for _room_id, path in rooms:
            ids = conn.execute(
                sa.text("SELECT id FROM location WHERE path LIKE :prefix ORDER BY id"), {"prefix": path + "%"}
            ).scalars().all()
            subtrees.append(list(ids))

    scenarios = [
        Scenario(
            "part", "partId eq + status eq AVAILABLE, sort CREATED_AT_DESC",
            part_ids,
            lambda v: {"partId": {"eq": str(v)}, "status": {"eq": "AVAILABLE"}},
            ids_where("pi.part_id"),
        ),
        Scenario(
            "room", "locationId in <a stockroom's subtree, ~86 ids> + status eq AVAILABLE, sort CREATED_AT_DESC",
            subtrees,
            lambda v: {"locationId": {"in": [str(i) for i in v]}, "status": {"eq": "AVAILABLE"}},
            ids_where("pi.location_id"),
        ),
    ]
    return [s for s in scenarios if not only or s.name in only]


# -- in-process: statements per request ------------------------------------------------------


def count_queries(engine: sa.Engine, scenario: Scenario, explain: bool, query: str,
                  headers: dict[str, str]) -> tuple[int, list[str]]:
    from starlette.testclient import TestClient

    from kitwright.app import create_app

    statements: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    app = create_app(engine)
    with TestClient(app) as client:
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            response = client.post("/graphql", headers=headers, json={
                "query": query, "variables": {"filters": scenario.graphql_filters(scenario.targets[0]),
                                              "sort": ["CREATED_AT_DESC"]}})
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
    body = response.json()
    if body.get("errors"):
        raise SystemExit(f"GraphQL errors: {body['errors']}")
    queries = [s for s, _ in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK",
                                                                              "SAVEPOINT", "RELEASE"))]
    if explain:
        print_plans(engine, [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")])
    return len(queries), [" ".join(q.split())[:160] for q in queries]


def print_plans(engine: sa.Engine, statements: list[tuple[str, Any]]) -> None:
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        for statement, parameters in statements:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            console.rule("plan")
            console.print(" ".join(statement.split())[:600], style="dim", markup=False)
            for row in rows:
                console.print(row[0] if postgres else f"{row[1]:>4} {row[3]}", markup=False)
        conn.rollback()


# -- the server -------------------------------------------------------------------------------


class Server:
    """`kitwright serve` as a subprocess in its own session, stopped with its workers."""

    name = "server"

    def __init__(self, url: str, port: int, workers: int, log: Path) -> None:
        self.url, self.port, self.workers, self.log_path = url, port, workers, log
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        script = Path(sys.executable).with_name("kitwright")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "kitwright.cli.main"]
        return [*command, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
                "--database-url", self.url]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **server_environment(), "KITWRIGHT_LOG_LEVEL": "WARNING"}

    def __enter__(self) -> Server:
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                        env=self.environment(), start_new_session=True)
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise SystemExit(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
                try:
                    if client.get(f"http://127.0.0.1:{self.port}/health").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        self.stop()
        raise SystemExit(f"{self.name} did not answer /health within 120 s; see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own session: uvicorn and its workers
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()


# -- timing ---------------------------------------------------------------------------------


def timed(fn: Callable[[Any], Any], targets: list[Any], warmup: int, requests: int,
          max_seconds: float) -> list[float]:
    for i in range(warmup):
        fn(targets[i % len(targets)])
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds
    for i in range(requests):
        started = time.perf_counter()
        fn(targets[i % len(targets)])
        latencies.append(time.perf_counter() - started)
        if time.monotonic() > deadline:
            console.print(f"[yellow]stopped after {i + 1} requests (--max-seconds {max_seconds})[/yellow]")
            break
    return latencies


def percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0] * 1000, values[0] * 1000) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values) * 1000, cuts[94] * 1000


class RawPage:
    """The page by hand: one SELECT with JOINs and one COUNT, serialised to the API's JSON."""

    def __init__(self, url: str) -> None:
        parsed = make_url(normalise_url(url))
        self.postgres = parsed.get_backend_name() == "postgresql"
        if self.postgres:
            import psycopg

            self.conn: Any = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(False),
                                             autocommit=True)
            self.style = "pyformat"
        else:
            self.conn = sqlite3.connect(parsed.database or "", check_same_thread=False)
            self.conn.execute("PRAGMA query_only=ON")
            self.style = "qmark"
        self.kitted = "".join(clause for table, clause in RAW_NOT_HELD.items() if self._has_table(table))

    def _has_table(self, name: str) -> bool:
        if self.postgres:
            return bool(self.conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])
        found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return found.fetchone() is not None

    def fetch(self, scenario: Scenario, value: Any, with_total: bool = True) -> str:
        where, params = scenario.raw_where(value, self.style)
        rows = self.conn.execute(RAW_SELECT.format(where=where, kitted=self.kitted), params).fetchall()
        total = (self.conn.execute(RAW_COUNT.format(where=where, kitted=self.kitted), params).fetchone()[0]
                 if with_total else None)
        has_next = len(rows) > 50
        rows = rows[:50]
        edges = []
        for id_, quantity, serial, lot, part_number, location_id, location_name in rows:
            edges.append({"node": {
                "id": str(id_), "quantity": from_units(quantity), "serialNumber": serial, "lotNumber": lot,
                "status": "AVAILABLE", "part": {"partNumber": part_number},
                "location": {"id": str(location_id), "name": location_name},
            }})
        end_cursor = _cursor(len(edges) - 1) if edges else None
        connection: dict[str, Any] = {"totalCount": total} if with_total else {}
        connection.update({"pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor}, "edges": edges})
        data = {"data": {"partInventories": connection}}
        return simplejson.dumps(data, use_decimal=True, ensure_ascii=False)

    def close(self) -> None:
        self.conn.close()


def _cursor(offset: int) -> str:
    import base64

    return base64.b64encode(f"arrayconnection:{offset}".encode()).decode()


# -- main -----------------------------------------------------------------------------------


def server_environment() -> dict[str, str]:
    """Benchmark settings for the server (and the in-process app): a sequential client must not
    be rate-limited; without --token, the loopback-only server runs in development mode (every
    request acts as the admin "dev" user; the security middleware and permission checks still run)."""
    env = {"KITWRIGHT_RATE_LIMIT": os.environ.get("KITWRIGHT_RATE_LIMIT", "1000000"),
           "KITWRIGHT_RATE_BURST": os.environ.get("KITWRIGHT_RATE_BURST", "1000000")}
    if not os.environ.get("KITWRIGHT_TOKEN"):
        env["KITWRIGHT_INSECURE_DEV"] = "1"
    return env


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    url = args.database_url
    if args.token:
        os.environ["KITWRIGHT_TOKEN"] = args.token
    os.environ.update(server_environment())  # for the in-process app of count_queries
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    engine = make_engine(url)
    scenarios = pick_scenarios(engine, args.targets, args.seed, args.scenario)
    with engine.connect() as conn:
        records = conn.execute(sa.text("SELECT count(*) FROM part_inventory")).scalar_one()
    console.print(f"{engine.dialect.name}: {records:,} inventory records")
    results: list[dict[str, Any]] = []
    query = QUERY if args.total_count else QUERY_WITHOUT_TOTAL
    for scenario in scenarios:
        queries, statements = count_queries(engine, scenario, args.explain, query, headers)
        results.append({"scenario": scenario.name, "filter": scenario.description, "engine": engine.dialect.name,
                        "records": records, "total_count": args.total_count, "queries_per_request": queries,
                        "statements": statements})
    engine.dispose()

    log = Path(args.server_log)
    with Server(url, args.port, args.workers, log), httpx.Client(timeout=args.max_seconds, headers=headers) as client:
        endpoint = f"http://127.0.0.1:{args.port}/graphql"
        for scenario, result in zip(scenarios, results, strict=True):
            def graphql(value: Any, scenario: Scenario = scenario) -> dict[str, Any]:
                response = client.post(endpoint, json={
                    "query": query, "variables": {"filters": scenario.graphql_filters(value),
                                                  "sort": ["CREATED_AT_DESC"]}})
                response.raise_for_status()
                body: dict[str, Any] = response.json()
                if body.get("errors"):
                    raise SystemExit(f"GraphQL errors: {body['errors']}")
                return body

            raw = RawPage(url)
            # The two ways must return the same page (rows, order, totalCount).
            for value in scenario.targets[:3]:
                api = graphql(value)["data"]["partInventories"]
                by_hand = json.loads(raw.fetch(scenario, value, args.total_count))["data"]["partInventories"]
                api_ids = [e["node"]["id"] for e in api["edges"]]
                raw_ids = [e["node"]["id"] for e in by_hand["edges"]]
                if api_ids != raw_ids or api.get("totalCount") != by_hand.get("totalCount"):
                    raise SystemExit(f"{scenario.name}: GraphQL and raw SQL disagree for {value!r}: "
                                     f"{api.get('totalCount')} vs {by_hand.get('totalCount')} rows")
            console.print(f"[bold]{engine.dialect.name} / {scenario.name}[/bold]: {scenario.description}")
            http = timed(graphql, scenario.targets, args.warmup, args.requests, args.max_seconds)
            def by_hand(value: Any, scenario: Scenario = scenario, raw: RawPage = raw) -> str:
                return raw.fetch(scenario, value, args.total_count)

            sql = timed(by_hand, scenario.targets, args.warmup, args.requests, args.max_seconds)
            g50, g95 = percentiles(http)
            r50, r95 = percentiles(sql)
            sample = json.loads(raw.fetch(scenario, scenario.targets[0]))["data"]["partInventories"]["totalCount"]
            raw.close()
            result.update({
                "requests": len(http), "raw_requests": len(sql), "workers": args.workers,
                "graphql_p50_ms": round(g50, 2), "graphql_p95_ms": round(g95, 2),
                "raw_p50_ms": round(r50, 2), "raw_p95_ms": round(r95, 2),
                "ratio_p50": round(g50 / r50, 1), "ratio_p95": round(g95 / r95, 1),
                "example_total_count": sample,
            })
    return results


def report(results: list[dict[str, Any]]) -> None:
    table = Table(title="partInventories(first: 50) — GraphQL over HTTP vs raw SQL")
    for column in ("engine", "scenario", "totalCount", "records", "requests", "queries/request", "GraphQL p50 ms",
                   "GraphQL p95 ms", "raw p50 ms", "raw p95 ms", "ratio p50", "ratio p95"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r["engine"], r["scenario"], "yes" if r["total_count"] else "no", f"{r['records']:,}", str(r.get("requests", "-")),
                      str(r["queries_per_request"]), str(r.get("graphql_p50_ms", "-")),
                      str(r.get("graphql_p95_ms", "-")), str(r.get("raw_p50_ms", "-")),
                      str(r.get("raw_p95_ms", "-")), str(r.get("ratio_p50", "-")), str(r.get("ratio_p95", "-")))
    Console(stderr=True, width=200).print(table)
    for r in results:
        console.print(f"{r['engine']} / {r['scenario']}: {r['queries_per_request']} statements per request")
        for statement in r["statements"]:
            console.print(f"  {statement}", style="dim", markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("KITWRIGHT_DATABASE_URL",
                                                                 "sqlite:///bench/bench.db"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per scenario and side")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--targets", type=int, default=20, help="distinct filter values rotated over")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time bound of each timed loop")
    parser.add_argument("--scenario", action="append", choices=["part", "room"], default=[])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--token", default=os.environ.get("KITWRIGHT_TOKEN"),
                        help="bearer token or API key secret; without it the server runs with "
                             "KITWRIGHT_INSECURE_DEV=1 (loopback only)")
    parser.add_argument("--explain", action="store_true", help="print the plan of every statement")
    parser.add_argument("--no-total-count", dest="total_count", action="store_false",
                        help="leave totalCount out of the query (and the COUNT out of the raw side)")
    parser.add_argument("--server-log", default="/tmp/kitwright-bench-server.log")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results = run(args)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(json.dumps([{k: v for k, v in r.items() if k != "statements"} for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
