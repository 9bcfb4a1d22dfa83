"""Running the ASGI app under uvicorn, with every response sent at once.

With more than one worker, uvicorn binds the listening socket itself and hands it to the
worker processes; asyncio then serves connections accepted from a socket whose protocol field
is 0, so it skips TCP_NODELAY, and each response body waits for the client's delayed
acknowledgement of the headers: about 40 ms per keep-alive request. Accepted sockets inherit
the option from the listening socket, so it is set there, before the workers start.
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "kitwright.app:app_from_env"
# uvicorn's supervisor kills a worker that does not answer its health check within this many
# seconds and starts another. Its default (5 s) is shorter than a worker's start on a busy
# machine, so each replacement was killed in turn and the server ran on fewer workers (or none),
# spending its CPU on starting them.
WORKER_HEALTHCHECK_SECONDS = 60


class NoDelayConfig(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def make_config(
    *, host: str, port: int, workers: int, log_level: str = "info",
    ssl_certfile: str | None = None, ssl_keyfile: str | None = None,
) -> NoDelayConfig:
    return NoDelayConfig(
        APP, factory=True, host=host, port=port, workers=workers, log_level=log_level,
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
        # X-Forwarded-For is honoured by the app only from KITWRIGHT_TRUSTED_PROXIES
        # (api.edge); uvicorn's own default would trust 127.0.0.1.
        proxy_headers=False,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        # uvloop's thread hand-offs cost a third of asyncio's (each request makes two, into
        # the worker threads that run the database work) and httptools parses faster than h11.
        loop="asyncio" if sys.platform == "win32" else "uvloop",
        http="httptools",
    )


def run(
    *, host: str, port: int, workers: int, log_level: str = "info",
    ssl_certfile: str | None = None, ssl_keyfile: str | None = None,
) -> None:
    config = make_config(
        host=host, port=port, workers=workers, log_level=log_level,
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
    )
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
