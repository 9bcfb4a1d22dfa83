"""The one race runner: many workers released at once by a barrier, as threads or processes.

Each worker calls `function(url, *args, barrier)`; the function opens its own engine, waits on
the barrier right before the contested step and returns a short outcome string. Processes are
spawned (no shared connections), so `function` must be a module-level function.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

Worker = Callable[..., str]


def refused_by_type(error: Any) -> str:
    """A refusal as `Conflict:partInventoryId`."""
    return f"{type(error).__name__}:{error.field}"


def in_unit_of_work(url: str, barrier: Any, action: Callable[[Any], str],
                    refused: Callable[[Any], str] = lambda error: f"{error.code}:{error.field}") -> str:
    """A worker's usual body: its own engine and session, the barrier, then `action(uow)` in one
    unit of work; a refusal (KitwrightError) answers `refused(error)`."""
    from kitwright.domain.errors import KitwrightError
    from kitwright.services.uow import UnitOfWork
    from kitwright.store.db import make_engine, make_sessionmaker

    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_sessionmaker(engine)() as session:
            barrier.wait(timeout=60)
            try:
                with UnitOfWork(session) as uow:
                    return action(uow)
            except KitwrightError as error:
                return refused(error)
    finally:
        engine.dispose()


def _process_main(function: Worker, args: tuple[Any, ...], results: Any) -> None:
    results.put(function(*args))


def race(mode: str, function: Worker, argss: list[tuple[Any, ...]], url: str, *, timeout: float = 240) -> list[str]:
    """Run one worker per `args` in `argss`, all released together; their outcomes, any order."""
    if mode == "threads":
        barrier: Any = threading.Barrier(len(argss))
        outcomes: list[str] = []
        lock = threading.Lock()

        def run(args: tuple[Any, ...]) -> None:
            result = function(url, *args, barrier)
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=run, args=(args,)) for args in argss]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout)
        assert len(outcomes) == len(argss), "a worker hung"
        return outcomes
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(argss))
    results = context.Queue()
    processes = [context.Process(target=_process_main, args=(function, (url, *args, barrier), results))
                 for args in argss]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes
