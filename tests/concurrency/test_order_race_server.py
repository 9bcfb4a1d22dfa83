"""Concurrent allocations through a real server with two worker processes on PostgreSQL
(docs/retail-orders.md, "Allocation"): many orders ask `allocateOrder` over HTTP for the last
kits at once, from threads released by a barrier. Exactly as many orders win as there are kits,
no record is held twice, availability ends at 0, and the invariants hold."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from kitwright.services import availability
from kitwright.store.db import make_sessionmaker
from kitwright.store.models import OrderAllocation, OrderAllocationInventory
from tests import factories
from tests.invariants import assert_invariants

ORDERS = 16
KITS = 5
ALLOCATE = """mutation($input: AllocateOrderInput!) { allocateOrder(input: $input) {
  order { id lines { quantityDetail { allocated backordered } } } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker_pids(server: subprocess.Popen[bytes]) -> set[int]:
    """uvicorn's worker processes, read from /proc: the children it spawned, not the
    multiprocessing resource tracker beside them."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    workers = set()
    for pid in children.read_text().split() if children.exists() else []:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if b"spawn_main" in command:
            workers.add(int(pid))
    return workers


@pytest.mark.slow
def test_two_server_workers_never_oversell_the_last_kits(pg_engine: Engine, postgres_url: str) -> None:
    with make_sessionmaker(pg_engine)() as session:
        # 5 kits in all, spread over several records and two sites; chairs for half a kit more.
        dining_id, order_ids = factories.dining_set_orders(session, [(0, 2, 8), (0, 1, 6), (1, 2, 8)], ORDERS)
    secret = factories.api_key_for(pg_engine, "admin", "race-admin")

    port = _free_port()
    executable = shutil.which("kitwright", path=str(Path(sys.executable).parent)) or "kitwright"
    env = {**os.environ, "KITWRIGHT_DATABASE_URL": postgres_url,
           "KITWRIGHT_RATE_LIMIT": "6000000", "KITWRIGHT_RATE_BURST": "1000000"}
    server = subprocess.Popen([executable, "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200 and len(_worker_pids(server)) >= 2:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

        barrier = threading.Barrier(ORDERS)
        outcomes: list[str] = []
        lock = threading.Lock()

        def allocate(order_id: int) -> None:
            # Each thread opens its own connection first, so the kernel spreads them over both
            # workers' accept queues before the barrier lets them all ask at once.
            with httpx.Client(base_url=base, timeout=120,
                              headers={"Authorization": f"Bearer {secret}"}) as client:
                client.get("/health")
                barrier.wait(timeout=60)
                outcome = "no answer"
                for _attempt in range(5):
                    response = client.post("/graphql", json={"query": ALLOCATE, "variables": {
                        "input": {"id": str(order_id)}}})
                    body: dict[str, Any] = response.json()
                    errors = body.get("errors")
                    if errors and errors[0].get("extensions", {}).get("code") == "CONFLICT":
                        outcome = "conflict"
                        continue  # "being changed by another request; try again"
                    assert response.status_code == 200 and not errors, body
                    detail = body["data"]["allocateOrder"]["order"]["lines"][0]["quantityDetail"]
                    outcome = "won" if detail["allocated"] == 1 else (
                        "backordered" if detail["backordered"] == 1 else str(detail))
                    break
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=allocate, args=(order_id,)) for order_id in order_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        assert len(outcomes) == ORDERS, "a request hung"
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert outcomes.count("won") == KITS, outcomes
    assert outcomes.count("backordered") == ORDERS - KITS, outcomes
    with make_sessionmaker(pg_engine)() as session:
        assert session.scalar(select(func.sum(OrderAllocation.kits))) == KITS
        held = session.scalars(select(OrderAllocationInventory.part_inventory_id)).all()
        assert len(held) == len(set(held))
        assert availability.get_kit_availability(session, dining_id).network.on_hand == 0
    assert_invariants(pg_engine)
