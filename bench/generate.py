"""Fill a Kitwright database with a realistic data set for benchmarks.

    python bench/generate.py --database-url sqlite:///bench/bench.db --inventory 1000000
    python bench/generate.py --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench \
        --inventory 1000000 --replace

The database is migrated (Alembic, as `kitwright migrate` does) and then filled with set-based
bulk inserts: SQLAlchemy Core `insert()` executemany in large batches on SQLite, psycopg
`COPY ... FROM STDIN` on PostgreSQL. Nothing goes through the ORM or the services, so the
generator writes exactly what the services would have written:

* a location tree (sites -> rooms -> racks -> shelves -> totes) with `path` ("/1/5/17/") and
  `site_id` as services/locations.py keeps them; quarantine rooms (and everything under them)
  are unavailable, receiving docks are `available_soon`;
* units of measure, suppliers, parts (part number + revision; SERIAL, LOT and UNTRACKED);
* N inventory records (serials with quantity 1 and serial numbers unique per part number, lots
  with decimal quantities, untracked quantities, some on order with an expected date, some
  scrapped, segments and attributes on a share of them);
* one ledger CREATE entry per record whose `after` is exactly `services.ledger.snapshot(record)`,
  so `services.ledger.verify` finds nothing wrong (`--verify` checks it; use a small run).

The data is deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.engine import Engine, make_url

from kitwright.domain.ledger import LedgerOperation
from kitwright.domain.quantities import FACTOR, from_units
from kitwright.services import ledger
from kitwright.store.db import make_engine, normalise_url
from kitwright.store.migrate import upgrade

console = Console(stderr=True)

SYSTEM_USER_ID = 1
SYSTEM_USER = "system"
START = datetime(2023, 1, 2, 7, 0, 0, tzinfo=UTC)  # first record; records span ~3 years
SPAN_SECONDS = 3 * 365 * 24 * 3600

# -- the data set, as plain rows of Python values --------------------------------------------

UNITS = [("each", "ea"), ("kilogram", "kg"), ("gram", "g"), ("metre", "m"), ("litre", "L"), ("foot", "ft")]
FAMILIES = {
    # prefix: (description words, tracking weights SERIAL/LOT/UNTRACKED, unit names)
    "AVN": (["Flight computer", "IMU", "GPS receiver", "Telemetry radio", "Star tracker"], (8, 1, 1), ["each"]),
    "ELC": (["Harness", "PCB assembly", "Connector", "Power module", "Battery cell"], (4, 4, 2), ["each"]),
    "MEC": (["Bracket", "Fitting", "Flange", "Housing", "Manifold", "Valve body"], (3, 5, 2), ["each"]),
    "FAS": (["Bolt M6x20", "Nut M6", "Washer 6mm", "Rivet", "Helicoil", "Screw M3x8"], (0, 3, 7), ["each"]),
    "RAW": (["Aluminium 6061 bar", "Titanium sheet", "Inconel 718 rod", "Carbon prepreg", "Copper wire"],
            (0, 8, 2), ["kilogram", "metre", "foot"]),
    "CHM": (["Epoxy adhesive", "Solvent", "Sealant", "Lubricant", "Primer"], (0, 9, 1), ["litre", "gram"]),
    "PRP": (["Turbopump", "Injector", "Igniter", "Nozzle extension", "Thrust chamber"], (9, 1, 0), ["each"]),
}
SEGMENTS = ["ecom", "retail", "wholesale", "defense", "space", "r&d"]
USAGE_TYPES = ["PRODUCTION", "R&D", "SPARES", "QUALIFICATION"]
SUPPLIER_WORDS = ["Acme", "Apex", "Orbital", "Pioneer", "Vector", "Summit", "Atlas", "Nova", "Delta", "Helix",
                  "Titan", "Quantum", "Zenith", "Falcon", "Cascade", "Meridian", "Granite", "Polaris"]
SUPPLIER_KINDS = ["Aerospace", "Metals", "Fasteners", "Electronics", "Composites", "Chemicals", "Machining",
                  "Supply", "Industries", "Components"]
SITE_CITIES = ["Hawthorne", "Long Beach", "Seattle", "Denver", "Austin", "Huntsville", "Cape Canaveral",
               "Mojave", "Tucson", "Houston", "Boston", "Toulouse", "Bremen", "Glasgow", "Turin", "Nagoya",
               "Bangalore", "Adelaide", "Montreal", "Vandenberg", "Wallops", "Kourou", "Rocket Lab", "Spaceport"]


@dataclass
class Shape:
    sites: int = 20
    rooms: int = 3  # per site, plus one receiving dock and one quarantine room
    racks: int = 5  # per room
    shelves: int = 4  # per rack
    totes: int = 3  # per shelf
    parts: int = 3000
    suppliers: int = 150


@dataclass
class Catalog:
    location_rows: list[dict[str, Any]] = field(default_factory=list)
    stock_locations: list[int] = field(default_factory=list)  # where inventory lives
    receiving: list[int] = field(default_factory=list)
    part_rows: list[dict[str, Any]] = field(default_factory=list)
    supplier_ids: list[int] = field(default_factory=list)
    unit_ids: dict[str, int] = field(default_factory=dict)


def etag(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def build_locations(rng: random.Random, shape: Shape, catalog: Catalog) -> None:
    rows = catalog.location_rows
    created = START - timedelta(days=30)

    def add(name: str, type_: str, parent: dict[str, Any] | None, *, available: bool = True,
            soon: bool = False, description: str | None = None) -> dict[str, Any]:
        new_id = len(rows) + 1
        row = {
            "id": new_id, "name": name, "type": type_, "description": description,
            "parent_id": parent["id"] if parent else None,
            "site_id": parent["site_id"] if parent else new_id,
            "path": f"{parent['path'] if parent else '/'}{new_id}/",
            "inventory_available": available, "available_soon": soon, "archived": False,
            "created_at": created, "etag": etag(rng),
        }
        rows.append(row)
        return row

    for s in range(shape.sites):
        city = SITE_CITIES[s % len(SITE_CITIES)]
        site = add(f"{city} {s // len(SITE_CITIES) + 1}" if s >= len(SITE_CITIES) else city, "SITE", None,
                   description=f"Site {s + 1}")
        dock = add("Receiving dock", "DOCK", site, available=False, soon=True,
                   description="Arrived, not yet inspected")
        catalog.receiving.append(dock["id"])
        quarantine = add("Quarantine (MRB)", "ROOM", site, available=False,
                         description="Material review board hold")
        for r in range(shape.rooms + 1):
            is_quarantine = r == shape.rooms
            room = quarantine if is_quarantine else add(f"Stockroom {chr(65 + r)}", "ROOM", site)
            available = not is_quarantine
            for k in range(shape.racks if not is_quarantine else 1):
                rack = add(f"Rack {chr(65 + r)}{k + 1:02d}", "RACK", room, available=available)
                for h in range(shape.shelves):
                    shelf = add(f"Shelf {chr(65 + r)}{k + 1:02d}-{h + 1}", "SHELF", rack, available=available)
                    catalog.stock_locations.append(shelf["id"])
                    for t in range(shape.totes):
                        tote = add(f"Tote {chr(65 + r)}{k + 1:02d}-{h + 1}-{t + 1}", "TOTE", shelf,
                                   available=available)
                        catalog.stock_locations.append(tote["id"])
    # A few more locations someone took out of service.
    for location_id in rng.sample(catalog.stock_locations, k=max(1, len(catalog.stock_locations) // 200)):
        rows[location_id - 1]["inventory_available"] = False
        rows[location_id - 1]["description"] = "Out of service"


def build_catalog(rng: random.Random, shape: Shape, catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    units: list[dict[str, Any]] = [
        {"id": i + 1, "name": name, "abbreviation": abbr, "created_at": START - timedelta(days=60),
         "etag": etag(rng)} for i, (name, abbr) in enumerate(UNITS)
    ]
    catalog.unit_ids = {u["name"]: u["id"] for u in units}
    names: set[str] = set()
    suppliers: list[dict[str, Any]] = []
    while len(suppliers) < shape.suppliers:
        name = f"{rng.choice(SUPPLIER_WORDS)} {rng.choice(SUPPLIER_KINDS)}"
        if name in names:
            name = f"{name} {len(suppliers) + 1}"
        names.add(name)
        suppliers.append({"id": len(suppliers) + 1, "name": name, "created_at": START - timedelta(days=60),
                          "etag": etag(rng)})
    catalog.supplier_ids = [s["id"] for s in suppliers]
    parts = catalog.part_rows
    numbers: set[str] = set()
    prefixes = list(FAMILIES)
    while len(parts) < shape.parts:
        prefix = rng.choice(prefixes)
        words, weights, unit_names = FAMILIES[prefix]
        number = f"{prefix}-{rng.randint(10000, 99999)}"
        if number in numbers:
            continue
        numbers.add(number)
        tracking = rng.choices(["SERIAL", "LOT", "UNTRACKED"], weights=weights)[0]
        unit = "each" if tracking == "SERIAL" else rng.choice(unit_names)
        # Most part numbers have one revision; some were revised (A, B, C ...).
        revisions = rng.choices([1, 2, 3, 4], weights=[70, 20, 7, 3])[0]
        description = f"{rng.choice(words)} {rng.choice(['', 'Mk II', 'assembly', 'type 2', 'HD'])}".strip()
        for r in range(revisions):
            if len(parts) >= shape.parts:
                break
            cost_units = round(round(rng.lognormvariate(3.5 if tracking == "SERIAL" else 1.0, 1.2), 2) * FACTOR)
            parts.append({
                "id": len(parts) + 1, "part_number": number, "revision": chr(65 + r),
                "description": description, "tracking_type": tracking,
                "unit_of_measure_id": catalog.unit_ids[unit], "cost": cost_units,
                "is_digital": False, "created_at": START - timedelta(days=45 - r), "etag": etag(rng),
            })
    return {"unit_of_measure": units, "supplier": suppliers}


class InventoryFactory:
    """Makes inventory rows and their ledger CREATE entries, batch by batch, deterministically."""

    def __init__(self, rng: random.Random, catalog: Catalog, total: int) -> None:
        self.rng = rng
        self.catalog = catalog
        self.total = total
        self.parts = catalog.part_rows
        # A few parts hold most of the stock (Zipf-like popularity).
        self.part_weights = [1.0 / (i + 1) ** 0.8 for i in range(len(self.parts))]
        rng.shuffle(self.part_weights)
        self.cum_weights = list(_accumulate(self.part_weights))
        self.serial_next: dict[str, int] = {}
        self.lot_next: dict[str, int] = {}
        self.snapshot_fields = ledger.SNAPSHOT_FIELDS

    def batch(self, first_id: int, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        parts = rng.choices(self.parts, cum_weights=self.cum_weights, k=count)
        stock = self.catalog.stock_locations
        receiving = self.catalog.receiving
        suppliers = self.catalog.supplier_ids
        records: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        step = SPAN_SECONDS / max(1, self.total)
        for offset, part in enumerate(parts):
            record_id = first_id + offset
            created = START + timedelta(seconds=record_id * step + rng.random() * 600)
            tracking = part["tracking_type"]
            number = part["part_number"]
            serial = lot = None
            roll = rng.random()
            on_order = roll < 0.03
            scrapped = 0.03 <= roll < 0.035
            if tracking == "SERIAL":
                seq = self.serial_next.get(number, 0) + 1
                self.serial_next[number] = seq
                serial = f"{number[4:]}-{seq:06d}"
                units = 0 if rng.random() < 0.04 else FACTOR  # some consumed serials hold 0
                if rng.random() < 0.1:
                    lot = f"L{created:%y%m}-{rng.randint(1, 999):03d}"
            elif tracking == "LOT":
                seq = self.lot_next.get(number, 0) + 1
                self.lot_next[number] = seq
                lot = f"L{created:%y%m%d}-{seq:05d}"
                units = _quantity_units(rng, part)
            else:
                units = _quantity_units(rng, part)
            if on_order:
                location = rng.choice(receiving) if rng.random() < 0.3 else None
                expected: date | None = (created + timedelta(days=rng.randint(5, 120))).date()
                received = None
                units = units or FACTOR
            else:
                location = rng.choice(stock) if rng.random() < 0.97 else rng.choice(receiving)
                expected = None
                received = created
            attributes: dict[str, Any] = {}
            if rng.random() < 0.2:
                attributes = {"po": f"PO-{rng.randint(100000, 999999)}",
                              "inspection": rng.choice(["passed", "pending", "waived"])}
                if rng.random() < 0.3:
                    attributes["shelf_life_days"] = rng.choice([90, 180, 365, 730])
            row = {
                "id": record_id, "part_id": part["id"], "part_number": number, "location_id": location,
                "supplier_id": rng.choice(suppliers) if rng.random() < 0.6 else None,
                "unit_of_measure_id": part["unit_of_measure_id"],
                "serial_number": serial, "lot_number": lot, "quantity": units,
                "cost": part["cost"],
                "usage_type": rng.choice(USAGE_TYPES) if rng.random() < 0.25 else None,
                "segment": rng.choice(SEGMENTS) if rng.random() < 0.3 else None,
                "attributes": attributes, "on_order": on_order, "expected_at": expected,
                "received_at": received, "scrapped": scrapped,
                "how_created": "IMPORTED" if rng.random() < 0.1 else "CREATED",
                "origin_part_inventory_id": None, "created_at": created, "created_by_id": SYSTEM_USER_ID,
                "etag": etag(rng),
            }
            records.append(row)
            entries.append({
                "id": record_id, "at": created, "actor_id": SYSTEM_USER_ID, "actor": SYSTEM_USER,
                "operation": LedgerOperation.CREATE.value, "part_inventory_id": record_id, "part_id": part["id"],
                "location_id": location, "references": {}, "before": None, "after": self.snapshot(row),
            })
        return records, entries

    def snapshot(self, row: dict[str, Any]) -> dict[str, Any]:
        """services.ledger.snapshot() of the record this row becomes (quantity as normalised text)."""
        data = {name: row[name] for name in self.snapshot_fields}
        data["quantity"] = str(from_units(row["quantity"]))
        return data


def _accumulate(values: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _quantity_units(rng: random.Random, part: dict[str, Any]) -> int:
    if part["unit_of_measure_id"] == 1:  # each: whole numbers
        return int(rng.choice([0, 1, 2, 5, 10, 12, 25, 50, 100, 250, 500, 1000]) * FACTOR)
    # kg, m, L ...: up to three decimals, sometimes six (e.g. 12.345678 kg)
    value = rng.lognormvariate(2.0, 1.5)
    places = rng.choice([1, 2, 3, 3, 6])
    units: int = round(round(value, places) * FACTOR) if value < 1e6 else 10**6 * FACTOR
    return units


# -- writers --------------------------------------------------------------------------------

TABLE_COLUMNS = {
    "unit_of_measure": ["id", "name", "abbreviation", "created_at", "etag"],
    "supplier": ["id", "name", "created_at", "etag"],
    "location": ["id", "name", "type", "description", "parent_id", "site_id", "path", "inventory_available",
                 "available_soon", "archived", "created_at", "etag"],
    "part": ["id", "part_number", "revision", "description", "tracking_type", "unit_of_measure_id", "cost",
             "is_digital", "created_at", "etag"],
    "part_inventory": ["id", "part_id", "part_number", "location_id", "supplier_id", "unit_of_measure_id",
                       "serial_number", "lot_number", "quantity", "cost", "usage_type", "segment", "attributes",
                       "on_order", "expected_at", "received_at", "scrapped", "how_created",
                       "origin_part_inventory_id", "created_at", "created_by_id", "etag"],
    "ledger_entry": ["id", "at", "actor_id", "actor", "operation", "part_inventory_id", "part_id",
                     "location_id", "references", "before", "after"],
}
JSON_COLUMNS = {"attributes", "references", "before", "after"}


class Writer:
    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SQLiteWriter(Writer):
    """SQLAlchemy Core executemany with untyped columns: values arrive already in storage form
    (integer millionths, SQLAlchemy's SQLite datetime text, JSON text), so no per-value
    type processing runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection = engine.connect()
        # Bulk-load settings for this connection only (outside a transaction, as SQLite requires).
        raw: Any = self.connection.connection.driver_connection
        for pragma in ("PRAGMA synchronous=OFF", "PRAGMA cache_size=-262144", "PRAGMA temp_store=MEMORY"):
            raw.execute(pragma)
        self.statements = {
            name: sa.insert(sa.table(name, *(sa.column(c) for c in columns)))
            for name, columns in TABLE_COLUMNS.items()
        }

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        columns = TABLE_COLUMNS[table]
        prepared = [{c: _sqlite_value(c, row[c]) for c in columns} for row in rows]
        self.connection.execute(self.statements[table], prepared)

    def commit(self) -> None:
        self.connection.commit()

    def finish(self) -> None:
        self.connection.commit()
        console.print("ANALYZE ...")
        self.connection.exec_driver_sql("ANALYZE")
        self.connection.commit()
        self.connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.connection.close()


def _sqlite_value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in JSON_COLUMNS:
        return _json(value)
    if isinstance(value, datetime):
        # The text SQLAlchemy's SQLite DateTime writes (and parses back).
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


class PostgresWriter(Writer):
    """psycopg COPY FROM STDIN, text format, built in memory one batch at a time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.raw = engine.raw_connection()
        conn: Any = self.raw.driver_connection
        self.conn = conn
        with conn.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        columns = TABLE_COLUMNS[table]
        buffer = io.StringIO()
        out = buffer.write
        for row in rows:
            out("\t".join([_copy_text(c, row[c]) for c in columns]))
            out("\n")
        quoted = ", ".join(f'"{c}"' for c in columns)
        with self.conn.cursor() as cursor, cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())

    def commit(self) -> None:
        self.conn.commit()

    def finish(self) -> None:
        self.conn.commit()
        with self.conn.cursor() as cursor:
            for table in TABLE_COLUMNS:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
        self.conn.commit()
        console.print("VACUUM ANALYZE ...")
        self.conn.autocommit = True
        with self.conn.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        self.conn.autocommit = False
        self.raw.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(column: str, value: Any) -> str:
    if value is None:
        return "\\N"
    if column in JSON_COLUMNS:
        return _json(value).translate(_COPY_ESCAPES)  # type: ignore[union-attr]
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


# -- database setup -------------------------------------------------------------------------


def prepare_database(url: str, replace: bool) -> None:
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:":
            files = [Path(path), Path(path + "-wal"), Path(path + "-shm")]
            if replace:
                for file in files:
                    file.unlink(missing_ok=True)
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"unsupported database {parsed.get_backend_name()}")
    import psycopg

    name = parsed.database
    admin = parsed.set(database="postgres", drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and replace:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            console.print(f"created database {name}")


def generate(url: str, inventory: int, seed: int, batch_size: int, shape: Shape, replace: bool,
             verify: bool) -> dict[str, Any]:
    prepare_database(url, replace)
    engine = make_engine(url)
    started = time.perf_counter()
    upgrade(engine)
    with engine.connect() as connection:
        existing = connection.execute(sa.text("SELECT count(*) FROM part")).scalar_one()
    if existing:
        raise SystemExit("the database already holds parts: use --replace (drops it) or a new database")
    rng = random.Random(seed)
    catalog = Catalog()
    build_locations(rng, shape, catalog)
    extra = build_catalog(rng, shape, catalog)
    factory = InventoryFactory(rng, catalog, inventory)
    writer: Writer = PostgresWriter(engine) if engine.dialect.name == "postgresql" else SQLiteWriter(engine)
    rows_written = 0
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console) as progress:
        small = [("unit_of_measure", extra["unit_of_measure"]), ("supplier", extra["supplier"]),
                 ("location", catalog.location_rows), ("part", catalog.part_rows)]
        task = progress.add_task("catalog", total=sum(len(rows) for _, rows in small), rate="")
        for table, rows in small:
            for start in range(0, len(rows), batch_size):
                writer.write(table, rows[start:start + batch_size])
                progress.advance(task, len(rows[start:start + batch_size]))
            rows_written += len(rows)
        writer.commit()
        task = progress.add_task("inventory + ledger", total=inventory, rate="")
        load_started = time.perf_counter()
        for start in range(0, inventory, batch_size):
            count = min(batch_size, inventory - start)
            records, entries = factory.batch(start + 1, count)
            writer.write("part_inventory", records)
            writer.write("ledger_entry", entries)
            writer.commit()
            rows_written += 2 * count
            done = start + count
            rate = done / max(1e-9, time.perf_counter() - load_started)
            progress.update(task, advance=count, rate=f"{rate:,.0f} records/s")
    writer.finish()
    elapsed = time.perf_counter() - started
    result = {
        "engine": engine.dialect.name, "locations": len(catalog.location_rows), "parts": len(catalog.part_rows),
        "suppliers": len(catalog.supplier_ids), "inventory": inventory, "ledger_entries": inventory,
        "rows": rows_written, "seconds": round(elapsed, 1), "rows_per_second": round(rows_written / elapsed),
    }
    engine.dispose()
    if verify:
        result["verify_problems"] = verify_ledger(make_engine(url))
    return result


def verify_ledger(engine: Engine) -> int:
    from kitwright.store.db import make_sessionmaker

    check: Callable[[Any], list[str]] | None = getattr(ledger, "verify", None)
    if check is None:
        console.print("[yellow]services.ledger.verify is not available in this checkout[/yellow]")
        return -1
    with make_sessionmaker(engine)() as session:
        problems = check(session)
    for problem in problems[:10]:
        console.print(f"[red]{problem}[/red]")
    console.print("[green]ledger verify: no problems[/green]" if not problems
                  else f"[red]ledger verify: {len(problems)} problems[/red]")
    return len(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("KITWRIGHT_DATABASE_URL",
                                                                 "sqlite:///bench/bench.db"))
    parser.add_argument("--inventory", type=int, default=1_000_000, help="inventory records (default 1000000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parts", type=int, default=3000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--replace", action="store_true",
                        help="drop the database (or delete the SQLite file) first")
    parser.add_argument("--verify", action="store_true",
                        help="run services.ledger.verify afterwards (slow on big runs)")
    args = parser.parse_args(argv)
    if args.inventory < 0 or args.parts < 1 or args.sites < 1:
        parser.error("--inventory must be >= 0, --parts and --sites >= 1")
    shape = Shape(sites=args.sites, parts=args.parts)
    result = generate(args.database_url, args.inventory, args.seed, args.batch_size, shape, args.replace,
                      args.verify)
    console.print(
        f"[bold green]done[/bold green]: {result['locations']:,} locations, {result['parts']:,} parts, "
        f"{result['inventory']:,} inventory records + {result['ledger_entries']:,} ledger entries "
        f"on {result['engine']} in {result['seconds']:.1f} s ({result['rows_per_second']:,} rows/s)"
    )
    print(json.dumps(result))
    return 1 if result.get("verify_problems") else 0


if __name__ == "__main__":
    sys.exit(main())
