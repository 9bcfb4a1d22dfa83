"""Deep pages: page 1 against page N of `partInventories(first: 50)`, keyset and offset.

Runs the service function GraphQL calls (`inventory.list_part_inventories`) against a data set
made by `generate.py`, beside the same page in raw SQL, for the first page and for a page deep
in the list, reached with a keyset cursor and with an offset cursor (the form ION clients hold).

    .venv/bin/python bench/bench_deep_pages.py --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from kitwright.services import inventory
from kitwright.services.inventory import INVENTORY_SORTS
from kitwright.store.db import make_engine, make_sessionmaker
from kitwright.store.models import PartInventory
from kitwright.store.queries import PageRequest, encode_cursor, encode_keyset, sort_keys

SORT = ["CREATED_AT_DESC"]


def timed(run: Callable[[], Any], repeat: int) -> float:
    run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--page", type=int, default=1000, help="the deep page (50 rows a page)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    session = make_sessionmaker(engine)()
    busiest = session.execute(text(
        "SELECT part_id FROM part_inventory GROUP BY part_id ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    filters = {"partId": {"eq": busiest}}
    total = inventory.list_part_inventories(session, filters, SORT, PageRequest(first=1)).count_total()
    deep = min(args.page, total // 50 - 1)
    offset = deep * 50 - 1
    keys = sort_keys(SORT, INVENTORY_SORTS, PartInventory.id)
    row = session.execute(text(
        "SELECT created_at, id FROM part_inventory WHERE part_id = :p ORDER BY created_at DESC, id DESC "
        "LIMIT 1 OFFSET :o"), {"p": busiest, "o": offset}).one()
    cursor_row = session.get(PartInventory, row.id)
    assert cursor_row is not None
    keyset_cursor = encode_keyset(keys, (cursor_row.created_at, cursor_row.id))

    def service(after: str | None) -> Callable[[], Any]:
        def run() -> Any:
            page = inventory.list_part_inventories(session, filters, SORT, PageRequest(first=50, after=after))
            session.expunge_all()
            return page.rows
        return run

    raw = engine.raw_connection()
    raw_cursor = raw.cursor()

    def sql(statement: str, params: tuple[Any, ...]) -> Callable[[], Any]:
        def run() -> Any:
            raw_cursor.execute(statement, params)
            return raw_cursor.fetchall()
        return run

    placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
    # The hand-written page derives the status too, as every page must.
    base = (
        "SELECT p.*, CASE WHEN p.scrapped THEN 'SCRAPPED'"
        " WHEN EXISTS (SELECT 1 FROM part_kit_inventory k WHERE k.part_inventory_id = p.id AND NOT k.released)"
        " THEN 'KITTED' WHEN p.on_order THEN 'ON_ORDER'"
        " WHEN p.quantity <= 0 OR p.location_id IS NULL OR NOT EXISTS (SELECT 1 FROM location l"
        " WHERE l.id = p.location_id AND l.inventory_available) THEN 'UNAVAILABLE' ELSE 'AVAILABLE' END"
        f" FROM part_inventory p WHERE part_id = {placeholder}"
    )
    order = " ORDER BY created_at DESC, id DESC LIMIT 51"
    raw_cursor.execute(f"SELECT created_at FROM part_inventory WHERE id = {placeholder}", (row.id,))
    created = raw_cursor.fetchone()[0]
    results = {
        "page 1": (timed(service(None), args.repeat), timed(sql(base + order, (busiest,)), args.repeat)),
        f"page {deep + 1}, keyset cursor": (
            timed(service(keyset_cursor), args.repeat),
            timed(sql(base + f" AND (created_at, id) < ({placeholder}, {placeholder})" + order,
                      (busiest, created, row.id)), args.repeat),
        ),
        f"page {deep + 1}, offset cursor": (
            timed(service(encode_cursor(offset)), args.repeat),
            timed(sql(base + order + f" OFFSET {offset + 1}", (busiest,)), args.repeat),
        ),
    }
    print(f"{engine.dialect.name}: part {busiest}, {total} records, 50 a page, median of {args.repeat}")
    print(f"{'':32} {'Kitwright':>10} {'raw SQL':>10} {'ratio':>6}")
    for name, (ours, theirs) in results.items():
        print(f"{name:32} {ours:8.2f}ms {theirs:8.2f}ms {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
