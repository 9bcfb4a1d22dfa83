"""Batch loaders for kit relations (no query per row on list paths).

A `GroupLoader` loads every row whose `column` is in the announced keys in one query and
groups them; list resolvers announce their keys (`want`) before fields are resolved.
Kept apart from api/kits.py so api/inventory.py can use it without an import cycle.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from kitwright.api.context import Context
from kitwright.api.lists import primes
from kitwright.domain.quantities import ZERO
from kitwright.store.models import Base, Location, Part, PartInventory, PartKit, PartKitInventory, PartKitItem

M = TypeVar("M", bound=Base)


class KitLoaders:
    """All kit loaders of one request (kept in `Context.loaders` under this class)."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.items_by_kit = context.group(PartKitItem.part_kit_id)
        self.links_by_kit = context.group(PartKitInventory.part_kit_id)
        self.links_by_item = context.group(PartKitInventory.part_kit_item_id)
        self.links_by_record = context.group(PartKitInventory.part_inventory_id)

    def kitted(self, item_id: int) -> Decimal:
        return sum(
            (link.issued_quantity for link in self.links_by_item.get(item_id) if not link.released),
            ZERO,
        )

    def records_of(self, links: list[PartKitInventory]) -> list[tuple[PartKitInventory, PartInventory]]:
        loader = self.context.loader(PartInventory)
        loader.want(link.part_inventory_id for link in links)
        out = []
        for link in links:
            record = loader.get(link.part_inventory_id)
            if record is not None:
                out.append((link, record))
        return out

    def kits_of_record(self, record_id: int) -> list[PartKit]:
        links = self.links_by_record.get(record_id)
        loader = self.context.loader(PartKit)
        # Announce the kits of every record loaded in this batch, not just this one.
        loader.want(link.part_kit_id for group in self.links_by_record.cache.values() for link in group)
        kits: dict[int, PartKit] = {}
        for link in links:
            kit = loader.get(link.part_kit_id)
            if kit is not None:
                kits[kit.id] = kit
        return list(kits.values())


@primes(PartKit)
def prime_kits(context: Context, kits: list[PartKit]) -> None:
    """Load, for a page of kits, everything their fields reach, a fixed number of queries
    whatever the page size: items, links, held records, their parts, locations and kits."""
    loaders = kit_loaders(context)
    kit_loader = context.loader(PartKit)
    for kit in kits:
        kit_loader.cache[kit.id] = kit
    ids = [kit.id for kit in kits]
    loaders.items_by_kit.want(ids)
    loaders.links_by_kit.want(ids)
    items = [item for kid in ids for item in loaders.items_by_kit.get(kid)]
    links = [link for kid in ids for link in loaders.links_by_kit.get(kid)]
    for item in items:
        loaders.links_by_item.cache.setdefault(item.id, [])
    for link in links:
        group = loaders.links_by_item.cache.setdefault(link.part_kit_item_id, [])
        if link not in group:
            group.append(link)
    prime_records(context, [link.part_inventory_id for link in links], [item.part_id for item in items])


@primes(PartKitItem)
def prime_items(context: Context, items: list[PartKitItem]) -> None:
    loaders = kit_loaders(context)
    loaders.links_by_item.want(item.id for item in items)
    links = [link for item in items for link in loaders.links_by_item.get(item.id)]
    context.loader(PartKit).want(item.part_kit_id for item in items)
    prime_records(context, [link.part_inventory_id for link in links], [item.part_id for item in items])


def prime_records(context: Context, record_ids: list[int], part_ids: list[int]) -> None:
    loaders = kit_loaders(context)
    records_loader = context.loader(PartInventory)
    records_loader.want(record_ids)
    records = [r for r in (records_loader.get(rid) for rid in record_ids) if r is not None]
    loaders.links_by_record.want(r.id for r in records)
    if records:
        loaders.links_by_record.get(records[0].id)
        context.loader(PartKit).want(
            link.part_kit_id for group in loaders.links_by_record.cache.values() for link in group
        )
    context.loader(Part).want([*part_ids, *(r.part_id for r in records)])
    context.loader(Location).want(r.location_id for r in records)


def kit_loaders(context: Context) -> KitLoaders:
    found: Any = context.loaders.get(KitLoaders)
    if found is None:
        found = KitLoaders(context)
        context.loaders[KitLoaders] = found
    assert isinstance(found, KitLoaders)
    return found


class IssuedInventory:
    """An inventory record as reached through a kit: the record plus `issued_quantity`
    (and `released`). Everything else is the record's own attribute."""

    def __init__(self, record: PartInventory, link: PartKitInventory) -> None:
        self._record = record
        self.issued_quantity = link.issued_quantity
        self.released = link.released

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)
