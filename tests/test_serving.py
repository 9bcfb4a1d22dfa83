"""Multi-worker serving costs no more per keep-alive request than one worker.

Regression: with `--workers 2` every response waited ~40 ms for the client's delayed ACK
(TCP_NODELAY missing on the sockets the workers accept; see kitwright/cli/serving.py).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KITWRIGHT = Path(sys.executable).parent / "kitwright"
REQUESTS = 20
# A delayed ACK costs 40 ms; a few ms of slack absorbs a busy machine.
ALLOWED_EXTRA_MS = 8.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keep_alive_median_ms(workers: int, database: Path) -> float:
    port = _free_port()
    env = dict(os.environ, KITWRIGHT_DATABASE_URL=f"sqlite:///{database}")
    server = subprocess.Popen(
        [str(KITWRIGHT), "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/health"
        with httpx.Client() as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get(url)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.1)
            timings = []
            for _ in range(REQUESTS + 5):  # the first few warm the worker up
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        return statistics.median(timings[5:])
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_two_workers_answer_keep_alive_requests_as_fast_as_one(tmp_path: Path) -> None:
    database = tmp_path / "serving.db"
    one = _keep_alive_median_ms(1, database)
    two = _keep_alive_median_ms(2, database)
    assert two <= one + ALLOWED_EXTRA_MS, f"median {two:.1f} ms with 2 workers, {one:.1f} ms with 1"


# Python runs sitecustomize at start-up: this one makes each worker of the server under test
# (a process whose parent is `kitwright serve`) start as slowly as on a busy machine.
SLOW_START = """
import os, time
try:
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as parent:
        if b"serve" in parent.read() and os.environ.get("KITWRIGHT_TEST_SLOW_WORKER_START"):
            time.sleep(float(os.environ["KITWRIGHT_TEST_SLOW_WORKER_START"]))
except OSError:
    pass
"""


@pytest.mark.slow
def test_workers_that_start_slowly_are_not_killed_and_restarted(tmp_path: Path) -> None:
    """uvicorn's supervisor kills a worker that has not answered its health check within a few
    seconds; on a busy machine a worker takes longer than that to start, so every replacement
    was killed in turn and the server never had its workers."""
    (tmp_path / "sitecustomize.py").write_text(SLOW_START)
    port = _free_port()
    env = dict(os.environ, KITWRIGHT_DATABASE_URL=f"sqlite:///{tmp_path / 'slow.db'}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
               KITWRIGHT_TEST_SLOW_WORKER_START="8")
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(KITWRIGHT), "serve", "--port", str(port), "--workers", "2"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, log.read_text()
                time.sleep(0.2)
            else:
                pytest.fail(f"no worker answered within 60 s:\n{log.read_text()}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "died" not in log.read_text(), log.read_text()


def test_the_server_runs_on_uvloop_and_httptools() -> None:
    import httptools  # noqa: F401 - installed, so uvicorn can load its parser
    import uvloop

    from kitwright.cli.serving import make_config

    config = make_config(host="127.0.0.1", port=0, workers=1)
    assert config.http == "httptools"
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
