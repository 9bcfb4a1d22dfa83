"""kitAvailabilityChanges on both engines: retention (pruning, stale tokens refused), pages
(that concatenate to the unpaged answer, whatever their size), and the writers that change
supply outside the session's flush (docs/retail.md, "Changes")."""

from __future__ import annotations

import datetime as dt
import io
import random
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kitwright.cli.main import app
from kitwright.config import settings as kitwright_settings
from kitwright.domain.availability import SiteCurve
from kitwright.domain.errors import BadInput, Gone
from kitwright.services import availability_changes, inventory, items, locations, parts, plant_import
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import (
    AvailabilityChange,
    AvailabilityChangeMark,
    Location,
    Part,
    PartInventory,
    utcnow,
)
from tests import factories
from tests.integration.test_availability_changes import AS_OF, World, changed, feed_curves

Pair = tuple[int, int]


def moved(before: dict[Pair, SiteCurve], after: dict[Pair, SiteCurve]) -> set[Pair]:
    return {key for key in set(before) | set(after)
            if before.get(key, (key[1], 0, ())) != after.get(key, (key[1], 0, ()))}


def note_count(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(AvailabilityChange)) or 0


def pages(session: Session, token: str, size: int) -> tuple[list[tuple[int, SiteCurve]], str, int]:
    """Every page of `size` from `token`: the figures in order, the last token, the pages read."""
    figures: list[tuple[int, SiteCurve]] = []
    count = 0
    while True:
        session.rollback()
        page = availability_changes.changes_since(session, token, as_of=AS_OF, first=size)
        count += 1
        assert len(page.figures) <= size
        figures += page.figures
        token = page.token
        if not page.has_next_page:
            return figures, token, count
        assert count < 1000


# -- retention ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_writer_pruning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers mark and prune at most once a minute per process, whenever that falls: these
    tests take their marks themselves (the one testing writers turns it back on)."""
    monkeypatch.setattr(availability_changes, "_next_prune", float("inf"))


def take_mark(session: Session) -> dt.datetime:
    """A mark of the log as it stands (what a writer or the CLI takes now and then); its time."""
    session.rollback()
    with UnitOfWork(session) as uow:
        availability_changes.mark(uow.session)
        uow.commit()
    session.rollback()
    return session.scalar(select(func.max(AvailabilityChangeMark.at)))  # type: ignore[return-value]


def prune_as_of(session: Session, moment: dt.datetime) -> int:
    session.rollback()
    with UnitOfWork(session) as uow:
        removed = availability_changes.prune_batch(uow.session, limit=1000, now=moment)
        uow.commit()
    return removed


RETENTION = kitwright_settings().availability_changes_retention


def test_prune_removes_only_what_every_accepted_token_has_seen(session: Session) -> None:
    session.rollback()
    stale = availability_changes.current_token(session)
    world = World(session)
    old = note_count(session)
    mark = take_mark(session)
    time.sleep(0.05)
    fresh = availability_changes.current_token(session)
    factories.record(session, world.components[0], 5, location_id=world.sites[2].id)
    session.rollback()
    newer = list(session.scalars(select(AvailabilityChange.id).order_by(AvailabilityChange.id)))[old:]
    assert newer

    # Until the mark is older than the retention, nothing goes.
    assert prune_as_of(session, mark + RETENTION - dt.timedelta(seconds=1)) == 0
    later = mark + RETENTION + dt.timedelta(milliseconds=10)
    assert prune_as_of(session, later) == old

    session.rollback()
    assert list(session.scalars(select(AvailabilityChange.id).order_by(AvailabilityChange.id))) == newer
    # A token from before the mark is older than the retention by then: refused.
    with pytest.raises(Gone) as caught:
        availability_changes.changes_since(session, stale, as_of=AS_OF, now=later)
    assert caught.value.field == "since" and caught.value.code == "GONE"
    assert "kitAvailabilityFeed" in caught.value.message
    # One taken after it is not, and misses nothing.
    session.rollback()
    result = availability_changes.changes_since(session, fresh, as_of=AS_OF, now=later)
    # Component 0 is in kits 0 and 2; the record is at DC2.
    assert [(kit, curve[0]) for kit, curve in result.figures] == [(world.kits[0], world.sites[2].id),
                                                                  (world.kits[2], world.sites[2].id)]


def test_the_newest_note_is_kept_so_sqlite_never_reuses_an_id(session: Session) -> None:
    world = World(session)
    session.rollback()
    last = session.scalar(select(func.max(AvailabilityChange.id)))
    mark = take_mark(session)
    prune_as_of(session, mark + RETENTION + dt.timedelta(seconds=1))
    session.rollback()
    assert list(session.scalars(select(AvailabilityChange.id))) == [last]
    token = availability_changes.current_token(session)
    factories.record(session, world.components[3], 3, location_id=world.sites[0].id)
    session.rollback()
    assert session.scalar(select(func.min(AvailabilityChange.id))) == last
    figures, _ = changed(session, token)
    assert sorted(figures) == [(world.kits[2], world.sites[0].id)]


def test_a_token_older_than_the_retention_is_refused_even_before_a_prune(session: Session) -> None:
    World(session)
    session.rollback()
    token = availability_changes.current_token(session)
    almost = utcnow() + RETENTION - dt.timedelta(minutes=1)
    assert availability_changes.changes_since(session, token, as_of=AS_OF, now=almost).figures == []
    with pytest.raises(Gone):
        availability_changes.changes_since(session, token, as_of=AS_OF, now=almost + dt.timedelta(minutes=2))
    # Paging does not extend a token's life: the next page carries the same start.
    session.rollback()
    page = availability_changes.changes_since(session, token, as_of=AS_OF, first=0, now=almost)
    with pytest.raises(Gone):
        availability_changes.changes_since(session, page.token, as_of=AS_OF, now=almost + dt.timedelta(minutes=2))


def test_a_writer_marks_and_prunes_now_and_then(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(session)
    before = note_count(session)
    session.rollback()
    # A mark from longer ago than the retention, that saw every note so far.
    with UnitOfWork(session) as uow:
        uow.session.add(AvailabilityChangeMark(at=utcnow() - RETENTION - dt.timedelta(hours=1),
                                               position=availability_changes.committed_position(uow.session)[0]))
        uow.commit()
    monkeypatch.setattr(availability_changes, "_next_prune", 0.0)
    fresh = availability_changes.current_token(session)
    factories.record(session, world.components[1], 2, location_id=world.sites[1].id)
    session.rollback()
    # Every note the old mark saw is gone, this write's note is there (the newest always stays),
    # and the writer left a mark of now for later prunes.
    assert note_count(session) == 1 and before > 1
    assert session.scalar(select(func.count()).select_from(AvailabilityChangeMark)) == 2
    # The next writes within a minute neither mark nor prune.
    factories.record(session, world.components[1], 2, location_id=world.sites[1].id)
    assert note_count(session) == 2
    assert session.scalar(select(func.count()).select_from(AvailabilityChangeMark)) == 2
    figures, _ = changed(session, fresh)
    assert sorted(figures) == [(world.kits[0], world.sites[1].id), (world.kits[1], world.sites[1].id)]


def test_the_cli_prunes(engine: Engine, session: Session) -> None:
    from dataclasses import replace

    from kitwright.config import use_settings

    World(session)
    before = note_count(session)
    url = engine.url.render_as_string(hide_password=False)
    old = kitwright_settings()
    use_settings(replace(old, availability_changes_retention=dt.timedelta(seconds=1)))
    try:
        first = CliRunner().invoke(app, ["availability", "prune", "--database-url", url])
        assert first.exit_code == 0 and "0 availability changes pruned" in first.output, first.output
        assert note_count(session) == before
        time.sleep(1.2)
        second = CliRunner().invoke(app, ["availability", "prune", "--database-url", url])
    finally:
        use_settings(old)
    assert second.exit_code == 0, second.output
    assert f"{before - 1} availability changes pruned" in second.output
    assert note_count(session) == 1


# -- pages ----------------------------------------------------------------------------------


def test_pages_continue_where_the_last_one_stopped(session: Session) -> None:
    session.rollback()
    token = availability_changes.current_token(session)
    world = World(session)
    whole = availability_changes.changes_since(session, token, as_of=AS_OF)
    assert not whole.has_next_page and len(whole.figures) == 9  # 3 kits x 3 sites
    first = availability_changes.changes_since(session, token, as_of=AS_OF, first=4)
    assert first.has_next_page and first.figures == whole.figures[:4]
    # A page of none says whether anything follows and continues at the same place.
    none = availability_changes.changes_since(session, first.token, as_of=AS_OF, first=0)
    assert none.figures == [] and none.has_next_page
    second = availability_changes.changes_since(session, none.token, as_of=AS_OF, first=4)
    third = availability_changes.changes_since(session, second.token, as_of=AS_OF, first=4)
    assert second.figures == whole.figures[4:8] and third.figures == whole.figures[8:]
    assert second.has_next_page and not third.has_next_page
    assert changed(session, third.token)[0] == {}
    assert world.kits


def test_a_change_between_pages_comes_after_the_last_page_never_twice(session: Session) -> None:
    session.rollback()
    token = availability_changes.current_token(session)
    world = World(session)
    whole = availability_changes.changes_since(session, token, as_of=AS_OF)
    first = availability_changes.changes_since(session, token, as_of=AS_OF, first=2)
    # DC0 of kit 0 was on the first page; DC2 of kit 2 is still to come.
    factories.record(session, world.components[0], 7, location_id=world.sites[0].id)
    factories.record(session, world.components[3], 9, location_id=world.sites[2].id)
    rest, last, _ = pages(session, first.token, 3)
    assert [(kit, curve[0]) for kit, curve in first.figures + rest] == [(kit, curve[0]) for kit, curve in whole.figures]
    after, _ = changed(session, last)
    assert sorted(after) == [(world.kits[0], world.sites[0].id), (world.kits[2], world.sites[0].id),
                             (world.kits[2], world.sites[2].id)]
    assert all(after[key] == feed_curves(session)[key] for key in after)


def test_a_page_size_below_zero_is_refused(session: Session) -> None:
    session.rollback()
    token = availability_changes.current_token(session)
    with pytest.raises(BadInput) as caught:
        availability_changes.changes_since(session, token, as_of=AS_OF, first=-1)
    assert caught.value.field == "first"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 6), size=st.integers(1, 12))
def test_pages_of_any_size_concatenate_to_the_unpaged_answer(session: Session, seed: int, steps: int,
                                                             size: int) -> None:
    world = World.once(session)  # examples share the test's database
    session.rollback()
    token = availability_changes.current_token(session)
    rng = random.Random(seed)
    for _ in range(steps):
        world.random_change(rng)
    session.rollback()
    whole = availability_changes.changes_since(session, token, as_of=AS_OF)
    paged, last, count = pages(session, token, size)
    assert paged == whole.figures
    assert count == max(1, -(-len(whole.figures) // size))
    assert changed(session, last)[0] == {}


# -- writers outside the flush ----------------------------------------------------------------


def test_a_kit_that_loses_every_component_is_noted_once(session: Session) -> None:
    world = World(session)
    session.rollback()
    token = availability_changes.current_token(session)
    start = session.scalar(select(func.max(AvailabilityChange.id)))
    kit = session.get(Part, world.kits[1])
    assert kit is not None
    with UnitOfWork(session) as uow:
        parts.update_part(uow, kit.id, kit.etag, {"components": []})
    session.rollback()
    notes = list(session.execute(select(AvailabilityChange.kit_id).where(AvailabilityChange.id > start)))
    assert notes == [(kit.id,)]
    figures, _ = changed(session, token)
    assert figures == {(kit.id, site.id): (site.id, 0, ()) for site in world.sites}


def test_a_redefined_kit_is_noted_once(session: Session) -> None:
    world = World(session)
    session.rollback()
    token = availability_changes.current_token(session)
    start = session.scalar(select(func.max(AvailabilityChange.id)))
    with UnitOfWork(session) as uow:
        items.save_item_document(uow, "K0", [("C3", Decimal(3)), ("C2", Decimal(1))])
    session.rollback()
    notes = list(session.execute(select(AvailabilityChange.kit_id).where(AvailabilityChange.id > start)))
    assert notes == [(world.kits[0],)]
    figures, _ = changed(session, token)
    after = feed_curves(session)
    assert figures == {(world.kits[0], site.id): after[(world.kits[0], site.id)] for site in world.sites}
    assert figures[(world.kits[0], world.sites[0].id)][1] == 2  # 6 of C3 at DC0, 3 a kit


def test_moving_a_location_moves_its_stock_to_another_site(session: Session) -> None:
    world = World(session)
    shelf = session.get(Location, world.places[3])  # under DC0, with its own stock
    assert shelf is not None
    factories.record(session, world.components[0], 10, location_id=shelf.id)
    factories.record(session, world.components[1], 10, location_id=shelf.id)
    before = feed_curves(session)
    token = availability_changes.current_token(session)
    shelf = session.get(Location, world.places[3])
    assert shelf is not None
    with UnitOfWork(session) as uow:
        locations.update_location(uow, shelf.id, shelf.etag, {"parent_id": world.sites[1].id})
    after = feed_curves(session)
    figures, _ = changed(session, token)
    # Kit 0 takes one C0 and two C1: DC0 drops from 8 kits to 3, DC1 rises from 3 to 8.
    assert moved(before, after) == {(world.kits[0], world.sites[0].id), (world.kits[0], world.sites[1].id)}
    assert moved(before, after) <= set(figures)
    assert all(curve == after.get(key, (key[1], 0, ())) for key, curve in figures.items())


def test_deleting_a_kit_part_is_noted(session: Session) -> None:
    world = World(session)
    session.rollback()
    token = availability_changes.current_token(session)
    with UnitOfWork(session) as uow:
        kit = uow.get(Part, world.kits[2])
        uow.session.delete(kit)  # the database deletes its definition (ON DELETE CASCADE)
        uow.commit()
    figures, _ = changed(session, token)
    assert figures == {(world.kits[2], site.id): (site.id, 0, ()) for site in world.sites}


def test_importing_inventory_and_location_flags_is_noted(session: Session) -> None:
    world = World(session)
    session.rollback()
    before = feed_curves(session)
    token = availability_changes.current_token(session)
    with UnitOfWork(session) as uow:
        plant_import.import_part_inventory(uow, io.BytesIO(b"part_number,location,quantity\nC3,DC2,12\n"),
                                           filename="records.csv")
    with UnitOfWork(session) as uow:
        plant_import.import_locations(uow, io.BytesIO(b"name,inventory_available\nDC1,false\n"),
                                      filename="locations.csv")
    after = feed_curves(session)
    figures, _ = changed(session, token)
    # Kit 2 takes three C3: DC2 rises from 2 kits to 6. DC1 no longer counts: every kit drops to 0.
    assert moved(before, after) == {(world.kits[2], world.sites[2].id), *((kit, world.sites[1].id)
                                                                         for kit in world.kits)}
    assert moved(before, after) <= set(figures)
    assert all(curve == after.get(key, (key[1], 0, ())) for key, curve in figures.items())


def test_a_unit_holding_installed_parts_cannot_be_deleted(session: Session) -> None:
    """The aBOM items naming a unit would go with it (ON DELETE CASCADE) and free what is
    installed without a note; the unit's run refuses the deletion, so that never happens."""
    from tests.integration.test_runs_assemblies import build, fresh

    stock, cell = factories.location(session, "Stock"), factories.location(session, "Cell")
    screw, core_part = factories.part(session, "SCREW"), factories.part(session, "CORE", "SERIAL")
    factories.mbom(session, core_part, (screw, 2))
    factories.record(session, screw, 20, location_id=stock.id)
    run, _kit = build(session, core_part, cell.id)
    core = fresh(session, PartInventory, run.part_inventory_id)
    before = note_count(session)
    with pytest.raises(BadInput), UnitOfWork(session) as uow:
        inventory.delete_part_inventory(uow, core.id, core.etag)
    assert note_count(session) == before
    assert fresh(session, PartInventory, core.id) is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(st.sampled_from(["v2", "v1", "postgresql", "sqlite", "0", "1", "5", "9999999999999999",
                                        "3:5:", "5:3:", "3:9:4,6", "3:9:6,4", "3:9:9", "0:0:", "1:1:", "-",
                                        "2,3", "x", "", "1:", "18446744073709551616"]), max_size=8),
       separator=st.sampled_from([";", ":"]))
def test_a_made_up_token_is_refused_never_a_crash(session: Session, fields: list[str], separator: str) -> None:
    import base64

    token = base64.urlsafe_b64encode(separator.join(fields).encode()).decode().rstrip("=")
    session.rollback()
    try:
        availability_changes.changes_since(session, token, as_of=AS_OF, first=3)
    except (BadInput, Gone) as refused:
        assert refused.field == "since"
