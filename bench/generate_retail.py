"""Fill a database with a retail kit data set for bench/bench_availability.py.

    python bench/generate_retail.py --database-url sqlite:////tmp/kitwright-retail.db --replace
    python bench/generate_retail.py \
        --database-url postgresql://postgres@127.0.0.1:5432/kitwright_retail --replace

Default: 10,000 kits x 5 components each, drawn from a pool of 2,000 component parts, stocked
at 100 sites: every component at every site (on a shelf-level site location, one in ten on a
receiving dock flagged available soon), plus a purchase order (on order, with an ETA) for one
(component, site) pair in five. That is 200,000 on-hand records and 40,000 on-order records;
the feed covers 10,000 kits x 100 sites x 5 components.

Every row is written by a handful of set-based `INSERT ... SELECT` statements over a number
series (a recursive CTE, portable to SQLite and PostgreSQL): no row travels through Python.
The data is deterministic (arithmetic on the ids). It is a read benchmark: records are
written without ledger entries, so do not run `ledger.verify` on it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.engine import Engine, make_url

from kitwright.store.db import make_engine, normalise_url
from kitwright.store.migrate import upgrade

console = Console(stderr=True)
FACTOR = 1_000_000


def seq(name: str, limit: str) -> str:
    return f"{name}(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM {name} WHERE i < {limit})"


def recreate(url: str) -> None:
    parsed = make_url(normalise_url(url))
    if parsed.drivername.startswith("sqlite"):
        path = Path(parsed.database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def generate(engine: Engine, *, kits: int, sites: int, components: int, pool: int) -> dict[str, int]:
    if components > pool:
        raise SystemExit("--components must not exceed --pool")
    postgres = engine.dialect.name == "postgresql"
    eta = "DATE '2026-01-01' + ((p.i + s.i) % 60)" if postgres else "date('2026-01-01', '+' || ((p.i + s.i) % 60) || ' days')"
    step = pool // components
    params = {"kits": kits, "sites": sites, "components": components, "pool": pool}
    statements = [
        ("sites", f"""WITH RECURSIVE {seq('s', ':sites')}
            INSERT INTO location (id, name, type, parent_id, site_id, path, inventory_available,
                                  available_soon, archived, created_at, etag)
            SELECT s.i, 'DC-' || s.i, 'site', NULL, s.i, '/' || s.i || '/', true, false, false,
                   CURRENT_TIMESTAMP, 'site' || s.i FROM s"""),
        ("docks", f"""WITH RECURSIVE {seq('s', ':sites')}
            INSERT INTO location (id, name, type, parent_id, site_id, path, inventory_available,
                                  available_soon, archived, created_at, etag)
            SELECT :sites + s.i, 'DC-' || s.i || ' dock', 'dock', s.i, s.i,
                   '/' || s.i || '/' || (:sites + s.i) || '/', true, true, false,
                   CURRENT_TIMESTAMP, 'dock' || s.i FROM s"""),
        ("component parts", f"""WITH RECURSIVE {seq('p', ':pool')}
            INSERT INTO part (id, part_number, revision, tracking_type, is_digital, created_at, etag)
            SELECT p.i, 'C-' || p.i, '', 'UNTRACKED', false, CURRENT_TIMESTAMP, 'part' || p.i FROM p"""),
        ("kit parts", f"""WITH RECURSIVE {seq('k', ':kits')}
            INSERT INTO part (id, part_number, revision, tracking_type, is_digital, created_at, etag)
            SELECT :pool + k.i, 'KIT-' || k.i, '', 'UNTRACKED', false, CURRENT_TIMESTAMP, 'kit' || k.i
            FROM k"""),
        # Component j of kit k: distinct within a kit (offsets j * step < pool), ratio 1..4.
        ("kit definitions", f"""WITH RECURSIVE {seq('k', ':kits')}, {seq('j', ':components')}
            INSERT INTO part_component (id, part_id, component_part_id, quantity)
            SELECT (k.i - 1) * :components + j.i, :pool + k.i,
                   ((k.i * 7 + (j.i - 1) * {step}) % :pool) + 1, ((k.i + j.i) % 4 + 1) * {FACTOR}
            FROM k CROSS JOIN j"""),
        ("on-hand records", f"""WITH RECURSIVE {seq('p', ':pool')}, {seq('s', ':sites')}
            INSERT INTO part_inventory (id, part_id, part_number, location_id, quantity, attributes,
                                        on_order, scrapped, how_created, created_at, etag)
            SELECT (p.i - 1) * :sites + s.i, p.i, 'C-' || p.i,
                   CASE WHEN (p.i + s.i) % 10 = 0 THEN :sites + s.i ELSE s.i END,
                   ((p.i * 31 + s.i * 17) % 50) * {FACTOR}, '{{}}', false, false, 'CREATED',
                   CURRENT_TIMESTAMP, 'oh' || p.i || '-' || s.i
            FROM p CROSS JOIN s"""),
        ("purchase orders", f"""WITH RECURSIVE {seq('p', ':pool')}, {seq('s', ':sites')}
            INSERT INTO part_inventory (id, part_id, part_number, location_id, quantity, attributes,
                                        on_order, expected_at, scrapped, how_created, created_at, etag)
            SELECT :pool * :sites + (p.i - 1) * :sites + s.i, p.i, 'C-' || p.i, s.i,
                   ((p.i * 13 + s.i) % 40 + 1) * {FACTOR}, '{{}}', true, {eta}, false, 'CREATED',
                   CURRENT_TIMESTAMP, 'po' || p.i || '-' || s.i
            FROM p CROSS JOIN s WHERE (p.i + s.i) % 5 = 0"""),
    ]
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        if not postgres:
            conn.exec_driver_sql("PRAGMA recursive_triggers = OFF")
        for label, sql in statements:
            started = time.perf_counter()
            # Integers from argparse, inlined: psycopg would bind small ints as smallint.
            for name in ("kits", "sites", "components", "pool"):
                sql = sql.replace(f":{name}", str(int(params[name])))
            conn.execute(sa.text(sql))
            console.print(f"  {label}: {time.perf_counter() - started:.1f}s")
        if postgres:
            for table in ("location", "part", "part_component", "part_inventory"):
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                ))
        for table in ("location", "part", "part_component", "part_inventory"):
            counts[table] = int(conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    console.print("  rows: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--kits", type=int, default=10_000)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--pool", type=int, default=2_000, help="number of distinct component parts")
    parser.add_argument("--replace", action="store_true", help="drop and recreate the database first")
    args = parser.parse_args()
    if args.replace:
        recreate(args.database_url)
    engine = make_engine(args.database_url)
    upgrade(engine)
    started = time.perf_counter()
    generate(engine, kits=args.kits, sites=args.sites, components=args.components, pool=args.pool)
    console.print(f"[green]generated in {time.perf_counter() - started:.1f}s[/green]")
    engine.dispose()


if __name__ == "__main__":
    main()
