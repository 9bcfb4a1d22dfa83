"""A request's rows go when the request ends, without waiting for the cyclic garbage collector:
the loaders hold the request's context (their callbacks are its methods), and the context holds
them, a cycle that kept every row of a page alive until the collector came round
(`Context.close`)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from kitwright.api.context import Context
from kitwright.services.demo import load_demo
from kitwright.store.models import Base, Part
from tests.api.gql import data

PAGE = """{ partInventories(first: 50, filters: {status: {eq: AVAILABLE}}, sort: [CREATED_AT_DESC]) {
  totalCount edges { node { id quantity status part { partNumber } location { id name } } } } }"""


@pytest.fixture
def no_cyclic_collection() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def test_a_closed_context_is_freed_by_reference_counting(session: Session, no_cyclic_collection: None) -> None:
    context = Context(session=session)
    context.loader(Part)
    gone = weakref.ref(context)
    context.close()
    del context
    assert gone() is None


def test_the_rows_of_a_page_are_freed_when_the_request_ends(
    session: Session, client: TestClient, no_cyclic_collection: None
) -> None:
    load_demo(session)
    loaded: list[weakref.ref[Any]] = []

    def remember(target: Any, _context: Any) -> None:
        loaded.append(weakref.ref(target))

    event.listen(Base, "load", remember, propagate=True)
    try:
        page = data(client, PAGE)["partInventories"]
    finally:
        event.remove(Base, "load", remember)
    assert page["edges"] and all(edge["node"]["part"] for edge in page["edges"])
    assert len(loaded) > len(page["edges"])  # the records, their parts and locations
    assert [ref() for ref in loaded if ref() is not None] == []
