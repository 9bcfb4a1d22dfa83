"""Benchmark the Kit Items importer beside a raw bulk insert of the same rows, on both engines.

    python bench/bench_import.py --rows 100000 [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each engine it builds a fresh database (SQLite file; a new PostgreSQL database, dropped
after) holding `--kits` kits and `--parts` parts, writes a CSV of `--rows` distinct
(kit, part) rows, and measures, each in its own child process so peak RSS is that work's own:

1. import: `services.import_kit_items.import_kit_items` on the CSV in one transaction
   (stream, check, lock, plan, bulk insert, audit entries), then rolled back by a fresh
   database for the next figure;
2. raw: the same rows read with the csv module, resolved with two dicts loaded up front, and
   inserted with one executemany per 5000 rows (no checks, no audit): the floor;
3. rules: a dry run of the import with 20 enabled PARTKITITEM CREATE actions, and without
   any, so the difference is the time to validate the rows against 20 rules.

Figures: rows per second and peak RSS (MiB, the child's ru_maxrss). The machine is shared:
read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kitwright.services import actions
from kitwright.services.import_kit_items import import_kit_items
from kitwright.services.uow import UnitOfWork
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.migrate import upgrade
from kitwright.store.models import new_etag, utcnow

RULES = [
    'new.part.partNumber.startsWith("CAPA-")', "new.quantity > 1000000.0", "new.quantity < 0.0",
    'new.partKit.status == "CANCELED"', 'user.role == "viewer"', 'new.part.trackingType == "NONE"',
    "new.partId < 0", "new.partKitId < 0", 'new.part.revision == "OBSOLETE"', "size(new.part.partNumber) > 190",
    'new.part.partNumber.endsWith("-X")', 'new.part.partNumber.contains("SCRAP")', "new.quantity == 123456.0",
    'event != "CREATE"', 'target != "PARTKITITEM"', 'user.name == "nobody"', "has(new.nothing)",
    'new.partKit.status == "COMPLETED"', "new.quantity > 999999.0 && new.partId > 0",
    '[1, 2, 3].exists(x, x == 4)',
]


def prepare(url: str, kits: int, parts: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO part (part_number, revision, tracking_type, is_digital, created_at, etag) "
                             "VALUES (:n, '', 'UNTRACKED', false, :t, :e)"),
                     [{"n": f"P-{i:06d}", "t": now, "e": new_etag()} for i in range(parts)])
        conn.execute(sa.text("INSERT INTO part_kit (status, created_at, etag) VALUES ('DRAFT', :t, :e)"),
                     [{"t": now, "e": new_etag()} for _ in range(kits)])
    engine.dispose()


def write_csv(path: Path, rows: int, kits: int, parts: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["kit_id", "part_number", "revision", "quantity"])
        for n in range(rows):
            writer.writerow([n % kits + 1, f"P-{n // kits % parts:06d}", "", n % 7 + 1])


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_import(url: str, path: str, dry_run: bool, queue: Any) -> None:
    engine = make_engine(url)
    start = time.perf_counter()
    with make_sessionmaker(engine)() as session, UnitOfWork(session) as uow, open(path, "rb") as source:
        result = import_kit_items(uow, source, filename="bench.csv", dry_run=dry_run)
    queue.put({"seconds": time.perf_counter() - start, "rows": result.count, "rss": _rss_mib()})


def run_raw(url: str, path: str, queue: Any) -> None:
    engine = make_engine(url)
    start = time.perf_counter()
    with engine.begin() as conn:
        parts = dict(conn.execute(sa.text("SELECT part_number, id FROM part")).tuples().all())
        kit_ids = set(conn.execute(sa.text("SELECT id FROM part_kit")).scalars())
        insert = sa.text("INSERT INTO part_kit_item (part_kit_id, part_id, quantity, created_at, etag) "
                         "VALUES (:k, :p, :q, :t, :e)")
        now = utcnow()
        batch: list[dict[str, Any]] = []
        count = 0
        with open(path, newline="") as source:
            reader = csv.reader(source)
            next(reader)
            for kit, number, _revision, quantity in reader:
                if int(kit) not in kit_ids:
                    continue
                batch.append({"k": int(kit), "p": parts[number], "q": int(quantity) * 1_000_000, "t": now,
                              "e": new_etag()})
                if len(batch) == 5000:
                    conn.execute(insert, batch)
                    count += len(batch)
                    batch = []
        if batch:
            conn.execute(insert, batch)
            count += len(batch)
    queue.put({"seconds": time.perf_counter() - start, "rows": count, "rss": _rss_mib()})


def add_rules(url: str) -> None:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        for n, code in enumerate(RULES):
            with UnitOfWork(session) as uow:
                actions.create_rule(uow, title=f"bench rule {n}", target="PARTKITITEM", event_type="CREATE",
                                    code=code, position=n)
    engine.dispose()


def child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result: dict[str, Any] = queue.get(timeout=3600)
    process.join()
    return result


def fresh_database(engine_name: str, admin_url: str, workdir: Path) -> tuple[str, Any]:
    if engine_name == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"kitwright_bench_import_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--kits", type=int, default=1000)
    parser.add_argument("--parts", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    results: dict[str, Any] = {"rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "items.csv"
        write_csv(path, args.rows, args.kits, args.parts)
        for engine_name in args.engines.split(","):
            figures: dict[str, Any] = {}
            for label in ("import", "raw", "dry_run", "dry_run_20_rules"):
                url, drop = fresh_database(engine_name, args.postgres, workdir)
                try:
                    prepare(url, args.kits, args.parts)
                    if label == "import":
                        figures[label] = child(run_import, url, str(path), False)
                    elif label == "raw":
                        figures[label] = child(run_raw, url, str(path))
                    else:
                        if label == "dry_run_20_rules":
                            add_rules(url)
                        figures[label] = child(run_import, url, str(path), True)
                finally:
                    drop()
                f = figures[label]
                f["rows_per_second"] = round(f["rows"] / f["seconds"])
                f["seconds"] = round(f["seconds"], 2)
                f["rss"] = round(f["rss"], 1)
                print(f"{engine_name:10} {label:17} {f['rows']:>7} rows {f['seconds']:>8.2f} s "
                      f"{f['rows_per_second']:>8} rows/s  peak RSS {f['rss']:>7.1f} MiB", flush=True)
            figures["rules_seconds"] = round(figures["dry_run_20_rules"]["seconds"] - figures["dry_run"]["seconds"], 2)
            print(f"{engine_name:10} validating {args.rows} rows against 20 rules: "
                  f"+{figures['rules_seconds']} s over the dry run without rules", flush=True)
            results[engine_name] = figures
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
