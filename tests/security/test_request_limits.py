"""Limits no caller can get past (docs/security.md): query cost, time, body size counted
while it streams, byte-bounded query caches, password hashing slots, forwarded addresses and
rate limits shared by every worker process and host, in the database or in Redis."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from kitwright.api import schema as schema_module
from kitwright.api.limits import DEFAULT_PAGE, UNPAGED_LIST, ByteLRU, query_cost
from kitwright.app import create_app
from kitwright.security.settings import SecuritySettings
from kitwright.services import auth
from kitwright.services.ratelimit import DatabaseRateLimiter, RedisRateLimiter
from tests import factories
from tests.conftest import TEST_SECURITY
from tests.security.operations import row_counts

REDIS_URL = "redis://127.0.0.1:6379/11"
NESTED = "{ partInventories(first: 500) { edges { node { id part { id components { quantity } } } } } }"


def settings(**changes: Any) -> SecuritySettings:
    values = {**TEST_SECURITY.__dict__, **changes}
    return SecuritySettings(**values)


# -- cost --------------------------------------------------------------------------------------


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    from graphql import parse

    return query_cost(schema_module.schema._schema, parse(query), None, variables)


def test_cost_counts_pages_multiplies_nesting_and_adds_aliases() -> None:
    assert cost("{ parts(first: 10) { edges { node { id } } } }") == 1 + 10 * (1 + 1 * (1 + 1))
    assert cost("{ parts { edges { node { id } } } }") == 1 + DEFAULT_PAGE * 3
    assert cost("query($n: Int) { parts(first: $n) { edges { node { id } } } }", {"n": 2}) == 1 + 2 * 3
    one = cost(NESTED)
    assert one == 1 + 500 * (1 + (1 + 1 + (1 + 1 + (1 + UNPAGED_LIST * 1))))
    two = "{ a: " + NESTED[2:-2] + " b: " + NESTED[2:-2] + " }"
    assert cost(two) == 2 * one
    fragment = "fragment F on PartInventory { id part { id } } { partInventories(first: 4) { edges { node { ...F } } } }"
    assert cost(fragment) == 1 + 4 * (1 + (1 + 1 + 2))
    # A paged object that is not a connection: the page size multiplies the list it holds.
    changes = "{ kitAvailabilityChanges(first: 500) { token hasNextPage changes { kitId buckets { date } } } }"
    assert cost(changes) == 1 + (1 + 1 + (1 + 500 * (1 + (1 + UNPAGED_LIST * 1))))
    assert cost("{ kitAvailabilityChanges { changes { kitId } } }") == 1 + (1 + DEFAULT_PAGE * 1)


def test_costly_queries_are_refused_before_they_run(engine: Engine, client_for: Any) -> None:
    viewer = client_for("viewer")
    aliases = " ".join(f"a{i}: partInventories(first: 500) {{ edges {{ node {{ id part {{ id }} }} }} }}"
                       for i in range(50))
    body = viewer.post("/graphql", json={"query": "{ " + aliases + " }"}).json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "too costly" in error["message"]
    nested = NESTED.replace("components { quantity }", "components { part { components { quantity } } }")
    body = viewer.post("/graphql", json={"query": nested}).json()  # 500 rows x 10 x 10 components
    assert "too costly" in body["errors"][0]["message"]
    fine = viewer.post("/graphql", json={"query": "{ partInventories(first: 500) { edges { node { id } } } }"})
    assert fine.json()["data"]["partInventories"]["edges"] == []


def test_a_request_stops_at_its_time_limit(engine: Engine) -> None:
    secret = factories.api_key_for(engine, "admin")  # may write: only the deadline stops the mutation
    app = create_app(engine, settings(request_seconds=1e-6))
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        body = client.post("/graphql", json={"query": "{ parts { edges { node { id } } } }"}).json()
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"]
        before = row_counts(engine)
        late = client.post("/graphql", json={"query": 'mutation { createSupplier(input: {name: "late"}) '
                                                      "{ supplier { id } } }"}).json()
        assert [e["extensions"]["code"] for e in late["errors"]] == ["TIMEOUT"]
        assert row_counts(engine) == before  # stopped before it began: nothing written


# -- bodies ------------------------------------------------------------------------------------


def stream_to(app: Any, path: str, chunk: bytes, count: int, secret: str) -> tuple[int, int]:
    """POST `count` chunks straight to the ASGI app with no length; (status, chunks pulled)."""
    import anyio

    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < count}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/x-www-form-urlencoded"),
                         (b"authorization", f"Bearer {secret}".encode())],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80), "scheme": "http",
             "http_version": "1.1", "root_path": "", "app": app}

    async def run() -> None:
        await app(scope, receive, send)

    # A thread of its own: the browser tests' sync Playwright may have left an event loop
    # running in this worker's main thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, run).result()
    return status, pulled


@pytest.mark.parametrize("path", ["/auth/token", "/signin", "/graphql"])
def test_bodies_are_counted_while_they_stream_and_refused_past_the_limit(
    engine: Engine, app: Any, anonymous_client: TestClient, path: str,
) -> None:
    # Declared too big: refused before a byte is read.
    declared = anonymous_client.post(path, content=b"x" * 1_100_000,
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413, declared.text
    assert declared.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Streamed without a length (300 chunks of 64 KiB, 19.7 MB): refused once the count passes
    # the limit, having pulled only what the limit allows.
    secret = factories.api_key_for(engine, "viewer")  # /graphql reads bodies of signed-in callers only
    status, pulled = stream_to(app, path, b"client_id=" + b"a" * 65_526, 300, secret)
    assert status == 413 and pulled <= 1_000_000 // 65_536 + 1


# -- caches --------------------------------------------------------------------------------------


def test_query_caches_are_bounded_by_bytes(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    budget = 4_000_000
    monkeypatch.setattr(schema_module.DOCUMENTS, "max_bytes", budget)
    for i in range(40):  # 40 distinct queries of 200 kB literals: 8 MB of text, 64 MB parsed
        literal = f"{i}-" + "x" * 200_000
        client.post("/graphql", json={"query": f'{{ parts(filters: {{partNumber: {{eq: "{literal}"}}}}) {{ totalCount }} }}'})
    assert 0 < schema_module.DOCUMENTS.bytes <= budget
    lru = ByteLRU(100)
    lru.put("a", 1, 10)
    lru.put("b", 2, 10)
    lru.put("huge", 3, 60)  # more than an eighth of the budget: never kept
    assert lru.get("huge") is None and lru.get("a") == 1 and lru.bytes == 20


# -- password hashing ----------------------------------------------------------------------------


def test_password_hashing_runs_at_most_a_few_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    running = peak = 0
    lock = threading.Lock()

    class SlowHasher:
        def verify(self, hashed: str, password: str) -> bool:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1
            return False

    monkeypatch.setattr(auth, "_hasher", SlowHasher())
    auth.set_password_hash_slots(2)
    threads = [threading.Thread(target=auth.verify_password, args=("h", "p")) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


# -- forwarded addresses -------------------------------------------------------------------------


def token_attempts(app: Any, client_address: tuple[str, int], forwarded: list[str]) -> list[int]:
    with TestClient(app, client=client_address) as client:
        return [client.post("/auth/token", data={"client_id": "kwk_x", "client_secret": "kws_x"},
                            headers={"X-Forwarded-For": address}).status_code for address in forwarded]


def test_forwarded_addresses_count_only_from_trusted_proxies(engine: Engine) -> None:
    spoofed = [f"203.0.113.{i}" for i in range(12)]
    untrusted = create_app(engine, settings(auth_rate_per_minute=10))
    answers = token_attempts(untrusted, ("127.0.0.1", 5000), spoofed)
    assert answers[0] == 401 and answers[-1] == 429  # one bucket: the peer's
    trusted = create_app(engine, settings(auth_rate_per_minute=10, trusted_proxies=("10.0.0.0/8",)))
    answers = token_attempts(trusted, ("10.1.2.3", 5000), [f"198.51.100.{i}" for i in range(12)])
    assert set(answers) == {401}  # a bucket per client named by the proxy
    # A client's own X-Forwarded-For ahead of the proxy's entry changes nothing.
    answers = token_attempts(trusted, ("10.1.2.3", 5000), [f"198.51.100.{i}, 192.0.2.7" for i in range(12)])
    assert answers[-1] == 429


def test_serve_leaves_forwarded_headers_to_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from kitwright.cli import serving
    from kitwright.cli.main import app as cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(serving, "run", lambda **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(cli, ["serve", "--database-url", f"sqlite:///{tmp_path / 'k.db'}"])
    assert result.exit_code == 0, result.output
    config = serving.make_config(**seen)
    assert config.proxy_headers is False


# -- rate limits shared by processes and hosts ----------------------------------------------------


PARTS = {"query": "{ parts { totalCount } }"}


def statuses(app: Any, secret: str, count: int) -> list[int]:
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        return [client.post("/graphql", json=PARTS).status_code for _ in range(count)]


@pytest.fixture(params=["database", "redis"])
def backend(request: pytest.FixtureRequest) -> str | None:
    if request.param == "database":
        return None
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter("kitwright:rate:*"):
        connection.delete(key)
    return REDIS_URL


def test_two_apps_on_one_database_share_one_limit(engine: Engine, backend: str | None) -> None:
    shared = settings(rate_per_minute=1, rate_burst=4, redis_url=backend)
    first, second = create_app(engine, shared), create_app(engine, shared)  # two workers or hosts
    key = factories.api_key(engine, "viewer", f"kim-{uuid.uuid4().hex[:6]}")
    answers = statuses(first, key.secret, 2) + statuses(second, key.secret, 2) + statuses(first, key.secret, 1)
    answers += statuses(second, key.secret, 1)
    assert answers == [200, 200, 200, 200, 429, 429]


def test_another_process_shares_the_database_limit(engine: Engine) -> None:
    limiter = DatabaseRateLimiter(engine, per_minute=1, burst=3, prefix="proc:")
    assert limiter.take("k") is None
    url = engine.url.render_as_string(hide_password=False)
    script = ("import sys; from kitwright.store.db import make_engine; "
              "from kitwright.services.ratelimit import DatabaseRateLimiter as L; "
              f"lim = L(make_engine({url!r}), per_minute=1, burst=3, prefix='proc:'); "
              "print(*[lim.take('k') is None for _ in range(3)])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "True", "False"]
    wait = limiter.take("k")
    assert wait is not None and 50 < wait <= 60


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_buckets_refill_at_their_rate(engine: Engine, kind: str) -> None:
    now = [1_000_000.0]
    prefix = f"t{uuid.uuid4().hex[:6]}:"
    limiter: Any
    if kind == "redis":
        import redis

        limiter = RedisRateLimiter(redis.Redis.from_url(REDIS_URL), 60, 2, prefix=prefix, clock=lambda: now[0])
    else:
        limiter = DatabaseRateLimiter(engine, 60, 2, prefix=prefix, clock=lambda: now[0])
    assert [limiter.take("a"), limiter.take("a")] == [None, None]
    wait = limiter.take("a")
    assert wait == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.take("a") is None and limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") is None  # buckets are per key


def test_leases_spare_bucket_writes_and_never_admit_more_than_the_limit(engine: Engine) -> None:
    """Two workers on one bucket (7,680 a minute, an interval of 2**-7 s that floats hold
    exactly; bursts of 80: leases of 10 while the bucket stays at most half full). Together they admit exactly the burst, no more; the worker that
    runs into the limit got at least half the burst; a fresh caller costs one write per lease."""
    from sqlalchemy import event

    now = [2_000_000.0]
    prefix = f"lease{uuid.uuid4().hex[:6]}:"
    first, second = (DatabaseRateLimiter(engine, 7680, 80, prefix=prefix, clock=lambda: now[0])
                     for _ in range(2))
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "rate_limit_bucket" in statement:
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert first.take("k") is None  # and 10 more leased to the first worker
        assert len(writes) == 1
        by_second = 0
        while by_second < 200 and second.take("k") is None:
            by_second += 1
        assert by_second >= 40  # at least half the burst before a refusal
        assert len(writes) < 1 + by_second  # leases: fewer writes than admissions
        by_first = 1
        while by_first < 200 and first.take("k") is None:
            by_first += 1
        assert by_first + by_second == 80  # the burst exactly: nothing over, nothing lost
        wait = second.take("k")
        assert wait is not None and wait > 0
        now[0] += 1.0  # a second refills 128 requests' worth; unused leases have lapsed
        assert second.take("k") is None and first.take("k") is None
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_batch_spends_the_lease_it_finds_rather_than_holding_it_back(engine: Engine) -> None:
    """An importer's first request takes a lease; its batches then charge many operations at
    once. Together they may spend the whole burst (80), never more; a refused batch leaves the
    lease to admit with."""
    now = [3_000_000.0]
    limiter = DatabaseRateLimiter(engine, 7680, 80, prefix=f"batch{uuid.uuid4().hex[:6]}:", clock=lambda: now[0])
    assert limiter.lease == 10
    assert limiter.take("k") is None  # 1, and 10 leased
    assert limiter.take("k", 30) is None  # 10 of them from the lease, 20 charged
    assert limiter.take("k") is None and limiter.take("k", 48) is None  # 1 + 20 + 1 + 48 + 10 = 80
    assert limiter.take("k") is not None  # the burst is spent, and no lease is left over
    now[0] += 1.0  # the bucket refills
    assert limiter.take("k") is None  # 1, and a lease of 10 again
    assert limiter.take("k", 80) is not None  # 10 leased + 70 charged > the 69 left: refused ...
    assert all(limiter.take_leased("k") for _ in range(10))  # ... and the lease still admits its 10
    assert not limiter.take_leased("k")


def test_small_bursts_are_decided_request_by_request(engine: Engine) -> None:
    limiter = DatabaseRateLimiter(engine, 6000, 4, prefix=f"small{uuid.uuid4().hex[:6]}:")
    assert limiter.lease == 0
