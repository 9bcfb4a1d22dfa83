"""Time the whole publish feed beside one hand-written SQL aggregate over the same data.

    python bench/generate_retail.py --database-url sqlite:////tmp/kitwright-retail.db --replace
    python bench/bench_availability.py --database-url sqlite:////tmp/kitwright-retail.db \
        --database-url postgresql://postgres@127.0.0.1:5432/kitwright_retail

For each database it prints:

* feed: `services.availability.feed` over every kit (definitions + one supply aggregate + names,
  then the domain per kit x site on aggregated rows: on-hand kits, future buckets), with the
  number of SQL statements it ran (it must not grow with kits or sites);
* sql: one hand-written aggregate computing only the on-hand kit figure per kit x site
  (min over components of floor(supply / ratio), available on-hand supply, missing component
  = 0) and its network sum. It is the floor of what any implementation must pay to read the
  data; the feed adds the future curve and the publish bookkeeping on top;
* a cross-check: the feed's on-hand figures with the on-hand-only view equal the SQL's.

Both sides show wall time and CPU time (the client's, plus the PostgreSQL backend's when the
server runs on this machine); `--repeat N` alternates them N times and shows medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from kitwright.domain.availability import SupplyType, View, whole_figure
from kitwright.services import availability, availability_changes, inventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade
from kitwright.store.models import PartComponent, PartInventory

console = Console(width=260)

HAND_WRITTEN = """
WITH supply AS (
    SELECT pc.part_id AS kit_id, l.site_id, pc.component_part_id, pc.quantity AS ratio,
           SUM(pi.quantity) AS quantity
    FROM part_component pc
    JOIN part_inventory pi ON pi.part_id = pc.component_part_id
    JOIN location l ON l.id = pi.location_id
    WHERE pi.on_order = false AND pi.scrapped = false
      AND l.inventory_available = true AND l.available_soon = false
    GROUP BY pc.part_id, l.site_id, pc.component_part_id, pc.quantity
), sizes AS (
    SELECT part_id AS kit_id, COUNT(*) AS n FROM part_component GROUP BY part_id
), per_site AS (
    SELECT s.kit_id, s.site_id,
           CASE WHEN COUNT(*) = MIN(z.n) THEN MIN(s.quantity / s.ratio) ELSE 0 END AS kits
    FROM supply s JOIN sizes z ON z.kit_id = s.kit_id
    GROUP BY s.kit_id, s.site_id
)
SELECT kit_id, site_id, kits, SUM(kits) OVER (PARTITION BY kit_id) AS network FROM per_site
"""


def count_statements(engine: sa.Engine) -> list[int]:
    counter = [0]

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        counter[0] += 1

    return counter


def server_cpu(conn: sa.Connection) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving `conn`, when the server runs
    on this machine (its /proc entry is readable); None otherwise (or on SQLite, whose work is
    the client's own CPU). On a shared machine CPU time, unlike wall time, does not depend on
    how long a process waited for a core."""
    if conn.dialect.name != "postgresql":
        return None
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(conn: sa.Connection, work: Callable[[], Any]) -> tuple[Any, float, float | None]:
    """`work()`, its wall time and its CPU time (client + server when known)."""
    server = server_cpu(conn)
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    after = server_cpu(conn)
    total = used + (after - server) if server is not None and after is not None else None
    return result, wall, (used if conn.dialect.name != "postgresql" else total)


def bench(url: str, as_of: dt.date, receipts: int, repeat: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)  # the change log (0018) on a database generated before it
    counter = count_statements(engine)
    sessions = make_sessionmaker(engine)
    feed_runs: list[tuple[float, float | None]] = []
    sql_runs: list[tuple[float, float | None]] = []
    feed_statements = kits = sites = 0
    hand: list[Any] = []

    def whole_feed(session: Session) -> tuple[int, int, int]:
        counter[0] = 0
        found_kits = found_sites = 0
        for row in availability.feed(session, as_of=as_of):
            found_kits += 1
            found_sites += len(row.curves)
        return found_kits, found_sites, counter[0]

    # Feed and hand-written SQL alternate, so a change in the machine's load hits both.
    for _ in range(repeat):
        with sessions() as session:
            conn = session.connection()
            (kits, sites, feed_statements), wall, cpu = timed(conn, lambda: whole_feed(session))
            feed_runs.append((wall, cpu))
        with engine.connect() as conn:
            hand, wall, cpu = timed(conn, lambda: conn.execute(sa.text(HAND_WRITTEN)).all())  # noqa: B023
            sql_runs.append((wall, cpu))

    with sessions() as session:
        # The SQL share of the feed: its definitions query and its one supply aggregate.
        started = time.perf_counter()
        availability.definitions(session)
        aggregated = availability.supply_units(session, None, as_of=as_of)
        feed_sql_seconds = time.perf_counter() - started

    # Cross-check on-hand figures (available only, no future) against the hand-written SQL.
    on_hand_only = View(supply_types=frozenset({SupplyType.ON_HAND_AVAILABLE}))
    with sessions() as session:
        ours = {
            (row.part_id, site): on_hand
            for row in availability.feed(session, as_of=as_of, view=on_hand_only)
            for site, on_hand, _buckets in row.curves
        }
    theirs = {(kit, site): int(k) for kit, site, k, _network in hand}
    mismatches = sum(1 for key, value in theirs.items() if ours.get(key, 0) != value)

    receipt_ms, delta_ms, delta_cpu_ms, delta_pairs, delta_mismatches = [], [], [], [], 0
    with sessions() as session:
        component_pos = sa.select(PartInventory.id).where(
            PartInventory.on_order.is_(True),
            PartInventory.part_id.in_(sa.select(PartComponent.component_part_id)),
        ).order_by(PartInventory.id).limit(receipts)
        record_ids = list(session.scalars(component_pos))
        session.rollback()
        for record_id in record_ids:
            token = availability_changes.current_token(session)
            session.rollback()
            started = time.perf_counter()
            with UnitOfWork(session) as uow:
                inventory.receive_part_inventory(uow, record_id, None)
            receipt_ms.append((time.perf_counter() - started) * 1000)
            started, cpu = time.perf_counter(), time.process_time()
            changes = availability_changes.changes_since(session, token, as_of=as_of)
            delta_ms.append((time.perf_counter() - started) * 1000)
            delta_cpu_ms.append((time.process_time() - cpu) * 1000)
            delta_pairs.append(len(changes.figures))
            session.rollback()
            # Each reported figure is the definition's (domain.kit_availability per kit).
            kit_ids = sorted({kit for kit, _curve in changes.figures})
            full = {k.part_id: k for k in availability.kit_availabilities(session, kit_ids, as_of=as_of)}
            for kit, (site, on_hand, buckets) in changes.figures:
                expected = {s.site_id: s.figure for s in full[kit].sites}.get(site)
                if whole_figure(on_hand, buckets) != (expected or whole_figure(0, ())):
                    delta_mismatches += 1
            session.rollback()
    engine.dispose()
    feed_cpu = [cpu for _wall, cpu in feed_runs]
    sql_cpu = [cpu for _wall, cpu in sql_runs]
    return {
        "engine": engine.dialect.name,
        "kits": kits,
        "kit_sites": sites,
        "feed_s": statistics.median(wall for wall, _cpu in feed_runs),
        "feed_cpu_s": None if None in feed_cpu else statistics.median(c for c in feed_cpu if c is not None),
        "feed_statements": feed_statements,
        "feed_sql_s": feed_sql_seconds,
        "aggregated_rows": sum(len(part_sites.on_hand) for part_sites in aggregated.values()),
        "sql_s": statistics.median(wall for wall, _cpu in sql_runs),
        "sql_cpu_s": None if None in sql_cpu else statistics.median(c for c in sql_cpu if c is not None),
        "ratios": [feed[0] / sql[0] for feed, sql in zip(feed_runs, sql_runs, strict=True)],
        "sql_rows": len(hand),
        "mismatches": mismatches,
        "receipt_ms": receipt_ms,
        "delta_ms": delta_ms,
        "delta_cpu_ms": delta_cpu_ms,
        "delta_pairs": delta_pairs,
        "delta_mismatches": delta_mismatches,
    }


def cpu_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", action="append", required=True)
    parser.add_argument("--as-of", default="2026-01-10")
    parser.add_argument("--receipts", type=int, default=5,
                        help="receipts timed one by one, each with its delta (0: none; they change the data)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="feed and hand-written SQL run this many times, alternating; medians shown")
    args = parser.parse_args()
    as_of = dt.date.fromisoformat(args.as_of)
    table = Table(title=f"publish feed vs one hand-written SQL aggregate, and one receipt's delta (as of {as_of})")
    for column in ("engine", "kits", "kit x site figures", "feed (CPU)", "feed / SQL (each run)", "CPU feed / SQL",
                   "feed SQL statements", "of which SQL (part x site)", "hand-written SQL, on hand only (CPU)",
                   "SQL rows", "on-hand mismatches", "receipt (median)", "delta (median / max; client CPU)", "pairs",
                   "delta mismatches"):
        table.add_column(column)
    loads = [os.getloadavg()]
    for url in args.database_url:
        result = bench(url, as_of, args.receipts, max(1, args.repeat))
        loads.append(os.getloadavg())
        feed_cpu, sql_cpu = result["feed_cpu_s"], result["sql_cpu_s"]
        receipts = bool(result["receipt_ms"])
        table.add_row(
            result["engine"], f"{result['kits']:,}", f"{result['kit_sites']:,}",
            f"{result['feed_s']:.2f}s ({cpu_text(feed_cpu)})",
            f"{result['feed_s'] / result['sql_s']:.2f}x ({' '.join(f'{r:.2f}' for r in result['ratios'])})",
            "-" if feed_cpu is None or sql_cpu is None else f"{feed_cpu / sql_cpu:.2f}x",
            str(result["feed_statements"]),
            f"{result['feed_sql_s']:.2f}s ({result['aggregated_rows']:,})",
            f"{result['sql_s']:.2f}s ({cpu_text(sql_cpu)})", f"{result['sql_rows']:,}", str(result["mismatches"]),
            f"{statistics.median(result['receipt_ms']):.1f} ms" if receipts else "-",
            f"{statistics.median(result['delta_ms']):.1f} / {max(result['delta_ms']):.1f} ms; "
            f"{statistics.median(result['delta_cpu_ms']):.1f} ms" if receipts else "-",
            f"{statistics.median(result['delta_pairs'])}" if receipts else "-", str(result["delta_mismatches"]),
        )
    console.print(table)
    console.print("load average (1/5/15 min) before and after each engine: "
                  + "; ".join(" ".join(f"{x:.2f}" for x in load) for load in loads) + f"; cpus: {os.cpu_count()}")
    console.print("CPU: the client's, plus the PostgreSQL backend's when the server runs on this machine "
                  "(SQLite works in the client); times are medians of --repeat alternating runs.")


if __name__ == "__main__":
    main()
