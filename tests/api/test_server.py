"""The README's service really starts: `kitwright serve --demo` on a free port."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
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
    output: list[str] = []

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            output.append(line.decode(errors="replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        printed = "".join(output)
        # The console prints the demo credentials once: an API key and a web password.
        secret = re.search(r"client_secret (kws_\S+)", printed)
        client_id = re.search(r"client_id (kwk_\S+)", printed)
        password = re.search(r"as\s+demo\s+with password\s+(\S+)", printed)
        assert secret and client_id and password, printed
        base = f"http://127.0.0.1:{port}"
        query = {"query": "{ partInventory(id: 1) { part { partNumber } location { id } quantity } }"}
        anonymous = httpx.post(f"{base}/graphql", json=query, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        token = httpx.post(f"{base}/auth/token", data={
            "grant_type": "client_credentials", "client_id": client_id[1], "client_secret": secret[1],
        }, timeout=10).json()["access_token"]
        for bearer in (secret[1], token):
            response = httpx.post(f"{base}/graphql", json=query, timeout=10,
                                  headers={"Authorization": f"Bearer {bearer}"})
            assert response.json() == {
                "data": {"partInventory": {"part": {"partNumber": "FC-100"}, "location": {"id": "5"}, "quantity": 1}}
            }
        with httpx.Client(base_url=base, timeout=10) as browser:
            assert browser.get("/inventory").status_code == 303  # to the sign-in page
            form = browser.get("/signin").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf, form
            signed_in = browser.post("/signin", data={
                "csrf_token": csrf[1], "name": "demo", "password": password[1], "next": "/inventory",
            })
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/inventory"
            page = browser.get("/inventory")
            assert page.status_code == 200 and "FC-100" in page.text
        time.sleep(0.3)
        logged = "".join(output).split("demo data loaded", 1)[1]  # the server's own log lines
        assert "GET /inventory" in logged or "POST /graphql" in logged, logged
        for secret_text in (secret[1], token, password[1]):
            assert secret_text not in logged  # no secret in logs
    finally:
        server.terminate()
        server.wait(timeout=20)
