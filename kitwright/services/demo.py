"""Demo data: a small plant whose ids match the examples of ION's API guide, plus kits.

Part 1 is serial-tracked, part 2 lot-tracked, supplier 1 exists and location 5 is a shelf, so
the seed's GraphQL examples run unchanged against a fresh demo database. Two kits show the
kitting flow (one requested, one fulfilled), and a Dining Set (1 table + 4 chairs) stocked at
two sites shows retail kit availability.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kitwright.services import catalog, inventory, kits, locations, parts
from kitwright.services.actor import SYSTEM, Actor
from kitwright.services.inventory import NewPartInventory
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import BuildRequirement, Location, Part, PartKitInventory, PartKitItem


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Part))


def load_demo(session: Session, actor: Actor = SYSTEM) -> None:
    def uow() -> UnitOfWork:
        return UnitOfWork(session, actor)

    with uow() as u:
        each = catalog.create_unit_of_measure(u, name="each", abbreviation="ea")
    with uow() as u:
        catalog.create_unit_of_measure(u, name="metre", abbreviation="m")
    with uow() as u:
        catalog.create_supplier(u, name="Acme Components")
    with uow() as u:
        catalog.create_supplier(u, name="Northwind Metals")

    with uow() as u:
        site = locations.create_location(u, name="Main Plant", type="SITE")
    with uow() as u:
        stores = locations.create_location(u, name="Stores", type="ROOM", parent_id=site.id)
    with uow() as u:
        rack = locations.create_location(u, name="Rack A", type="RACK", parent_id=stores.id)
    with uow() as u:
        locations.create_location(u, name="A-1", type="SHELF", parent_id=rack.id)
    with uow() as u:
        shelf = locations.create_location(u, name="A-2", type="SHELF", parent_id=rack.id)  # id 5
    with uow() as u:
        line = locations.create_location(u, name="Line 1", type="ROOM", parent_id=site.id)
    with uow() as u:
        locations.create_location(
            u, name="Receiving Dock", type="DOCK", parent_id=site.id, available_soon=True
        )
    with uow() as u:
        locations.create_location(
            u, name="Quarantine", type="ROOM", parent_id=site.id, inventory_available=False
        )
    with uow() as u:
        locations.create_location(u, name="West DC", type="SITE")

    specs = [
        ("FC-100", "A", "Flight computer", "SERIAL"),  # id 1
        ("BOLT-M6", "A", "M6 bolt, titanium", "LOT"),  # id 2
        ("CABLE-24", "", "24 AWG cable", "UNTRACKED"),  # id 3
        ("IMU-7", "B", "Inertial measurement unit", "SERIAL"),
    ]
    made = []
    for number, revision, description, tracking in specs:
        with uow() as u:
            made.append(
                parts.create_part(
                    u, part_number=number, revision=revision, description=description,
                    tracking_type=tracking, unit_of_measure_id=each.id, cost=Decimal("12.50"),
                )
            )
    computer, bolt, cable, imu = made
    records = [
        NewPartInventory(part_id=computer.id, serial_number=f"FC-{n:04d}", quantity=1,
                         location_id=shelf.id, supplier_id=1) for n in range(1, 4)
    ] + [
        NewPartInventory(part_id=imu.id, autogenerate_serial_number=True, quantity=1,
                         location_id=shelf.id),
        NewPartInventory(part_id=bolt.id, lot_number="L-2026-01", quantity=500, location_id=shelf.id,
                         supplier_id=2),
        NewPartInventory(part_id=bolt.id, lot_number="L-2026-02", quantity=Decimal("250"),
                         location_id=rack.id, supplier_id=2),
        NewPartInventory(part_id=cable.id, quantity=Decimal("120.5"), location_id=line.id),
    ]
    for new in records:
        with uow() as u:
            inventory.create_part_inventory(u, new)

    # Kitting: a requested kit for the line, and one fulfilled oldest-first.
    for status, lines in (("REQUESTED", [(computer, 1), (bolt, 40)]), ("DRAFT", [(computer, 1), (cable, "12.5")])):
        with uow() as u:
            kit = kits.create_part_kit(u, delivery_location_id=line.id, status=status)
        for part, quantity in lines:
            with uow() as u:
                kits.create_part_kit_item(u, part_kit_id=kit.id, part_id=part.id, quantity=quantity)
    with uow() as u:
        kits.fulfill_part_kit(u, id=kit.id)

    # Retail: a Dining Set sold as one item, stocked as components at two sites.
    west = session.scalars(select(Location).where(Location.name == "West DC")).one()
    with uow() as u:
        table = parts.create_part(u, part_number="TABLE-OAK", description="Oak table", tracking_type="UNTRACKED")
    with uow() as u:
        chair = parts.create_part(u, part_number="CHAIR-OAK", description="Oak chair", tracking_type="UNTRACKED")
    with uow() as u:
        parts.create_part(
            u, part_number="DINING-SET", description="Dining set: 1 table + 4 chairs",
            tracking_type="UNTRACKED", components=[(table.id, Decimal(1)), (chair.id, Decimal(4))],
        )
    for part, quantity, where in ((table, 10, shelf), (chair, 16, shelf), (table, 1, west), (chair, 100, west)):
        with uow() as u:
            inventory.create_part_inventory(
                u, NewPartInventory(part_id=part.id, quantity=quantity, location_id=where.id)
            )
    load_demo_runs(session, actor)


def load_demo_runs(session: Session, actor: Actor = SYSTEM) -> None:
    """Manufacturing: an avionics sub-assembly (flight computer + IMU) that goes into a drone
    (with bolts and cable), an mBOM for both, a run building the avionics kitted to it with the
    flight computer installed, and a drone run waiting (docs/runs.md)."""
    from kitwright.services import bom, runs

    def uow() -> UnitOfWork:
        return UnitOfWork(session, actor)

    by_number = {p.part_number: p for p in session.scalars(select(Part))}
    line = session.scalars(select(Location).where(Location.name == "Line 1")).one()
    with uow() as u:
        avionics = parts.create_part(u, part_number="AVIONICS-1", revision="A", description="Avionics module",
                                     tracking_type="SERIAL")
    with uow() as u:
        drone = parts.create_part(u, part_number="DRONE-1", revision="A", description="Survey drone",
                                  tracking_type="SERIAL")
    lines = [
        (avionics, by_number["FC-100"], 1), (avionics, by_number["IMU-7"], 1),
        (drone, avionics, 1), (drone, by_number["BOLT-M6"], 8), (drone, by_number["CABLE-24"], 2),
    ]
    for parent, component, quantity in lines:
        with uow() as u:
            item = bom.create_mbom_item(u, parent_id=parent.id, part_id=component.id, quantity=quantity)
        if component.part_number == "FC-100":
            with uow() as u:
                bom.create_reference_designator(u, mbom_item_id=item.id, value="U1")
    with uow() as u:
        run = runs.create_run(u, title="Avionics build", part_id=avionics.id, location_id=line.id,
                              status="IN_PROGRESS")
    with uow() as u:
        kit = runs.create_kit_for_run(u, run_id=run.id, delivery_location_id=line.id).kit
    held = session.scalars(
        select(PartKitInventory.part_inventory_id)
        .join(PartKitItem, PartKitItem.id == PartKitInventory.part_kit_item_id)
        .join(Part, Part.id == PartKitItem.part_id)
        .where(PartKitInventory.part_kit_id == kit.id, Part.part_number == "FC-100")
    ).first()
    requirement = session.scalars(
        select(BuildRequirement).where(BuildRequirement.run_id == run.id,
                                       BuildRequirement.part_id == by_number["FC-100"].id)
    ).one()
    if held is not None:
        with uow() as u:
            runs.install_part_inventory(u, build_requirement_id=requirement.id, part_inventory_id=held)
    with uow() as u:
        runs.create_run(u, title="Drone build", part_id=drone.id, location_id=line.id)
