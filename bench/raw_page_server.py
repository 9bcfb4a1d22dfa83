"""The raw-SQL side of the list-page benchmark, served over HTTP like Kitwright is.

A minimal Starlette app under uvicorn, started the way `kitwright serve` starts (same worker
count, same TCP_NODELAY listening socket and worker health check from `kitwright.cli.serving`,
same access log), so that both sides of `bench_read_path.py` pay HTTP, JSON parsing of the
request and a worker's thread hop. It takes the same request body as the GraphQL endpoint (`{"query": …, "variables": {"filters": …}}`), reads
only the filter value from it, and answers with `bench_inventory.RawPage`: one SELECT with JOINs,
one COUNT, the same rows and columns as the GraphQL response, serialised with simplejson.

    python bench/raw_page_server.py --database-url sqlite:////tmp/kitwright-bench.db --port 8766 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inventory import RawPage, Scenario, ids_where

DATABASE_ENV = "KITWRIGHT_RAW_DATABASE_URL"


PART = Scenario("part", "", [], lambda v: {}, ids_where("pi.part_id"))
ROOM = Scenario("room", "", [], lambda v: {}, ids_where("pi.location_id"))


def create_app() -> Starlette:
    url = os.environ[DATABASE_ENV]
    local = threading.local()  # one connection per threadpool thread, as a pool would give

    def page(filters: dict[str, Any], with_total: bool) -> str:
        raw: RawPage | None = getattr(local, "raw", None)
        if raw is None:
            raw = local.raw = RawPage(url)
        if "partId" in filters:
            return raw.fetch(PART, int(filters["partId"]["eq"]), with_total)
        return raw.fetch(ROOM, [int(i) for i in filters["locationId"]["in"]], with_total)

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        variables = body.get("variables") or {}
        with_total = "totalCount" in body.get("query", "totalCount")
        text = await run_in_threadpool(page, variables.get("filters") or {}, with_total)
        return Response(text, media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"]), Route("/health", health)])


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from kitwright.cli import serving

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ[DATABASE_ENV] = args.database_url
    # The workers import this module by name.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent),
                                                             os.environ.get("PYTHONPATH")]))
    config = serving.NoDelayConfig(
        "raw_page_server:create_app", factory=True, host="127.0.0.1", port=args.port, workers=args.workers,
        log_level="info", proxy_headers=False,
        # as `kitwright serve` (kitwright/cli/serving.py); uvicorn's default was 5 s before it
        timeout_worker_healthcheck=getattr(serving, "WORKER_HEALTHCHECK_SECONDS", 5),
    )
    if args.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
