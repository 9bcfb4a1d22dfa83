"""The list page over HTTP on both sides: Kitwright against raw SQL + JSON behind the same server.

    python bench/bench_read_path.py --database-url sqlite:////tmp/kitwright-bench.db \
        --database-url postgresql://postgres@127.0.0.1:5432/kitwright_bench_read

For each database it starts two real servers with the same worker count (`--workers`, 2 as the
README recommends): `kitwright serve` (bench_inventory.Server) and `raw_page_server.py`, a
minimal Starlette/uvicorn app that answers the same request body with one hand-written SELECT
with JOINs plus one COUNT, serialised to the same JSON (same rows, columns, totalCount). It
checks on 3 targets that both return the same ids in the same order and the same totalCount,
then sends warm-up requests and `--requests` timed requests to each, one keep-alive httpx.Client
per server, alternating Kitwright / raw request by request so both sides see the same load on a
shared machine. It prints p50/p95, the sample count, the ratio of the p50s and the load average.

`partInventories(first: 50)` with `status: {eq: AVAILABLE}` and sort CREATED_AT_DESC, filtered by
one part (`part`) or by a stockroom's subtree (`room`); the query is bench_inventory.QUERY.
Only 127.0.0.1 is contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inventory import QUERY, Scenario, Server, percentiles, pick_scenarios, server_environment

from kitwright.store.db import make_engine

TARGET_RATIO = 1.5


class RawServer(Server):
    """`raw_page_server.py` as a subprocess in its own session, stopped with its workers."""

    name = "raw server"

    def command(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("raw_page_server.py")), "--database-url", self.url,
                "--port", str(self.port), "--workers", str(self.workers)]

    def environment(self) -> dict[str, str]:
        return dict(os.environ)


def _post(client: httpx.Client, endpoint: str, scenario: Scenario, value: Any) -> dict[str, Any]:
    response = client.post(endpoint, json={"query": QUERY, "variables": {
        "filters": scenario.graphql_filters(value), "sort": ["CREATED_AT_DESC"]}})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise SystemExit(f"GraphQL errors: {body['errors']}")
    return body


def measure(url: str, *, workers: int, requests: int, warmup: int, targets: int, seed: int,
            scenarios: list[str], port: int, raw_port: int, max_seconds: float,
            log_dir: Path = Path("/tmp")) -> list[dict[str, Any]]:
    """Both servers up, the answers cross-checked, then alternating timed requests per scenario."""
    os.environ.update(server_environment())
    engine = make_engine(url)
    chosen = pick_scenarios(engine, targets, seed, scenarios)
    with engine.connect() as conn:
        records = conn.execute(sa.text("SELECT count(*) FROM part_inventory")).scalar_one()
    name = engine.dialect.name
    engine.dispose()
    results: list[dict[str, Any]] = []
    with Server(url, port, workers, log_dir / f"kitwright-bench-read-{name}.log"), \
            RawServer(url, raw_port, workers, log_dir / f"kitwright-bench-raw-{name}.log"), \
            httpx.Client(timeout=max_seconds) as ours, httpx.Client(timeout=max_seconds) as theirs:
        api, raw = f"http://127.0.0.1:{port}/graphql", f"http://127.0.0.1:{raw_port}/graphql"
        for scenario in chosen:
            for value in scenario.targets[:3]:
                a = _post(ours, api, scenario, value)["data"]["partInventories"]
                b = _post(theirs, raw, scenario, value)["data"]["partInventories"]
                a_ids = [e["node"]["id"] for e in a["edges"]]
                b_ids = [e["node"]["id"] for e in b["edges"]]
                if a_ids != b_ids or a["totalCount"] != b["totalCount"]:
                    raise SystemExit(f"{name}/{scenario.name}: Kitwright and raw SQL disagree for {value!r}: "
                                     f"{a['totalCount']} vs {b['totalCount']} rows")
            for i in range(warmup):
                value = scenario.targets[i % len(scenario.targets)]
                _post(ours, api, scenario, value)
                _post(theirs, raw, scenario, value)
            load_before = os.getloadavg()[0]
            mine: list[float] = []
            base: list[float] = []
            deadline = time.monotonic() + max_seconds
            for i in range(requests):
                value = scenario.targets[i % len(scenario.targets)]
                # Alternate which side goes first, so neither always follows the other.
                order = ((ours, api, mine), (theirs, raw, base)) if i % 2 == 0 else \
                    ((theirs, raw, base), (ours, api, mine))
                for client, endpoint, samples in order:
                    started = time.perf_counter()
                    _post(client, endpoint, scenario, value)
                    samples.append(time.perf_counter() - started)
                if time.monotonic() > deadline:
                    break
            m50, m95 = percentiles(mine)
            b50, b95 = percentiles(base)
            results.append({
                "engine": name, "records": records, "scenario": scenario.name, "filter": scenario.description,
                "workers": workers, "requests": len(mine),
                "kitwright_p50_ms": round(m50, 2), "kitwright_p95_ms": round(m95, 2),
                "raw_p50_ms": round(b50, 2), "raw_p95_ms": round(b95, 2),
                "ratio_p50": round(m50 / b50, 2), "target_ratio": TARGET_RATIO,
                "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            })
    return results


def print_results(results: list[dict[str, Any]]) -> None:
    print(f"{'engine':10} {'scenario':8} {'n':>5} {'Kitwright p50/p95':>20} {'raw p50/p95':>20} {'ratio':>6}  load")
    for r in results:
        print(f"{r['engine']:10} {r['scenario']:8} {r['requests']:>5} "
              f"{r['kitwright_p50_ms']:>8.2f}/{r['kitwright_p95_ms']:<8.2f} ms "
              f"{r['raw_p50_ms']:>8.2f}/{r['raw_p95_ms']:<8.2f} ms {r['ratio_p50']:>5.2f}x  "
              f"{r['load'][0]:.2f}->{r['load'][1]:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", action="append", required=True, help="repeat for each engine")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per side and scenario")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--scenario", action="append", choices=["part", "room"], default=[])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--raw-port", type=int, default=8766)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="time bound of each timed loop")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    for url in args.database_url:
        results += measure(url, workers=args.workers, requests=args.requests, warmup=args.warmup,
                           targets=args.targets, seed=args.seed, scenarios=args.scenario, port=args.port,
                           raw_port=args.raw_port, max_seconds=args.max_seconds)
    print_results(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
