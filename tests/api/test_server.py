"""The README's service really starts: `kitwright serve --demo` on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_with_demo_data_answers_graphql(tmp_path: Path) -> None:
    port = free_port()
    executable = shutil.which("kitwright", path=str(Path(sys.executable).parent)) or "kitwright"
    env = {**os.environ, "KITWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    server = subprocess.Popen(
        [executable, "serve", "--demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ partInventory(id: 1) { part { partNumber } location { id } quantity } }"},
            timeout=10,
        )
        assert response.json() == {
            "data": {"partInventory": {"part": {"partNumber": "FC-100"}, "location": {"id": "5"}, "quantity": 1}}
        }
        page = httpx.get(f"http://127.0.0.1:{port}/inventory", timeout=10)
        assert page.status_code == 200 and "FC-100" in page.text
    finally:
        server.terminate()
        server.wait(timeout=20)
