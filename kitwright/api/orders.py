"""Retail kit orders over GraphQL (docs/retail-orders.md): types, lists and mutations."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Context, Info
from kitwright.api.lists import connection_field, primes
from kitwright.api.locations import LocationType
from kitwright.api.nodes import as_node, as_nodes
from kitwright.api.parts import PartType
from kitwright.api.relay import (
    DateTimeFilter,
    IDFilter,
    StringFilter,
    optional_id,
    sort_enum,
)
from kitwright.api.scalars import DecimalScalar, parse_id
from kitwright.domain import orders as rules
from kitwright.security.permissions import P
from kitwright.services import orders
from kitwright.store.models import (
    Invoice,
    InvoiceLine,
    Location,
    OrderLine,
    OrderLineComponent,
    OrderRelease,
    OrderReleaseLine,
    OrderSettings,
    Part,
    RetailOrder,
    ReturnLine,
    ReturnOrder,
    ReturnVerification,
    UnprocessedOrderEvent,
)

strawberry.enum(rules.ReturnVerificationPolicy, name="ReturnVerificationPolicy")
ReturnVerificationPolicyEnum: TypeAlias = rules.ReturnVerificationPolicy
strawberry.enum(rules.OrderEventType, name="OrderEventType")
OrderEventTypeEnum: TypeAlias = rules.OrderEventType
strawberry.enum(rules.ExchangeType, name="ExchangeType")
ExchangeTypeEnum: TypeAlias = rules.ExchangeType
strawberry.enum(rules.ReturnCondition, name="ReturnCondition")
ReturnConditionEnum: TypeAlias = rules.ReturnCondition


class _OrderData:
    """Everything the order types show, loaded for all orders of a page at once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.wanted: set[int] = set()
        self.loaded: set[int] = set()
        self.lines: dict[int, list[OrderLine]] = defaultdict(list)
        self.components: dict[int, list[OrderLineComponent]] = defaultdict(list)
        self.details: dict[int, orders.QuantityDetail] = {}
        self.releases: dict[int, list[OrderRelease]] = defaultdict(list)
        self.release_lines: dict[int, list[OrderReleaseLine]] = defaultdict(list)
        self.unprocessed: dict[int, list[UnprocessedOrderEvent]] = defaultdict(list)
        self.invoices: dict[int, list[Invoice]] = defaultdict(list)
        self.invoice_lines: dict[int, list[InvoiceLine]] = defaultdict(list)
        self.returns: dict[int, list[ReturnOrder]] = defaultdict(list)
        self.return_lines: dict[int, list[ReturnLine]] = defaultdict(list)
        self.verifications: dict[int, list[ReturnVerification]] = defaultdict(list)

    def want(self, ids: Any) -> None:
        self.wanted.update(int(i) for i in ids)

    def load(self, order_id: int) -> None:
        if order_id in self.loaded:
            return
        batch = sorted((self.wanted | {order_id}) - self.loaded)
        self.wanted = set()
        self.loaded.update(batch)
        s = self.session
        found = orders.lines_of(s, batch)
        line_ids: list[int] = []
        for oid, rows in found.items():
            self.lines[oid] = rows
            line_ids.extend(r.id for r in rows)
        all_lines = [r for rows in found.values() for r in rows]
        self.details.update(orders.quantity_details(s, all_lines))
        if line_ids:
            for c in s.scalars(select(OrderLineComponent).where(OrderLineComponent.order_line_id.in_(line_ids))
                               .order_by(OrderLineComponent.id)):
                self.components[c.order_line_id].append(c)
            for e in s.scalars(select(UnprocessedOrderEvent).where(UnprocessedOrderEvent.order_line_id.in_(line_ids))
                               .order_by(UnprocessedOrderEvent.id)):
                self.unprocessed[self._order_of(e.order_line_id)].append(e)
        release_ids = []
        for r in s.scalars(select(OrderRelease).where(OrderRelease.order_id.in_(batch)).order_by(OrderRelease.id)):
            self.releases[r.order_id].append(r)
            release_ids.append(r.id)
        if release_ids:
            for rl in s.scalars(select(OrderReleaseLine).where(OrderReleaseLine.release_id.in_(release_ids))
                                .order_by(OrderReleaseLine.release_id, OrderReleaseLine.line_number)):
                self.release_lines[rl.release_id].append(rl)
        invoice_ids = []
        for inv in s.scalars(select(Invoice).where(Invoice.order_id.in_(batch)).order_by(Invoice.id)):
            self.invoices[inv.order_id].append(inv)
            invoice_ids.append(inv.id)
        if invoice_ids:
            for il in s.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(invoice_ids)).order_by(InvoiceLine.id)):
                self.invoice_lines[il.invoice_id].append(il)
        return_ids = []
        for ret in s.scalars(select(ReturnOrder).where(ReturnOrder.order_id.in_(batch)).order_by(ReturnOrder.id)):
            self.returns[ret.order_id].append(ret)
            return_ids.append(ret.id)
        if return_ids:
            rl_ids = []
            for line in s.scalars(select(ReturnLine).where(ReturnLine.return_order_id.in_(return_ids)).order_by(ReturnLine.id)):
                self.return_lines[line.return_order_id].append(line)
                rl_ids.append(line.id)
            for v in s.scalars(select(ReturnVerification).where(ReturnVerification.return_line_id.in_(rl_ids))
                               .order_by(ReturnVerification.id)):
                self.verifications[v.return_line_id].append(v)

    def _order_of(self, line_id: int) -> int:
        for oid, rows in self.lines.items():
            if any(r.id == line_id for r in rows):
                return oid
        return -1


def order_data(info: Info) -> _OrderData:
    return _order_data(info.context)


def _order_data(context: Context) -> _OrderData:
    loaders: dict[Any, Any] = context.loaders
    if _OrderData not in loaders:
        loaders[_OrderData] = _OrderData(context.session)
    data: _OrderData = loaders[_OrderData]
    return data


@primes(RetailOrder)
def _prime(context: Context, rows: list[RetailOrder]) -> None:
    _order_data(context).want(o.id for o in rows)


def _part(info: Info, part_id: int) -> PartType:
    return as_node(PartType, info.context.loader(Part).get(part_id))


@strawberry.type(name="OrderSettings", description="Retail order settings (all off / RETURN_ORDER by default).")
class OrderSettingsType:
    partial_kit_supported: bool
    enable_kits: bool

    @strawberry.field
    def return_verification_policy(self, root: strawberry.Parent[OrderSettings]) -> ReturnVerificationPolicyEnum:
        return rules.ReturnVerificationPolicy(root.return_verification_policy)

    @strawberry.field(description="SHORT reasons that backorder the shorted kits; any other reason cancels them.")
    def backorder_short_reason_ids(self, root: strawberry.Parent[OrderSettings]) -> list[str]:
        return list(root.backorder_short_reasons or [])

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[OrderSettings]) -> str:
        return root.etag


@strawberry.type(name="OrderLineComponent", description="A component of a kit line: quantity per one kit.")
class OrderLineComponentType:
    part_id: strawberry.ID
    quantity: DecimalScalar

    @strawberry.field
    def part(self, root: strawberry.Parent[OrderLineComponent], info: Info) -> PartType:
        return _part(info, root.part_id)


@strawberry.type(name="OrderLineQuantityDetail",
                 description="A kit line's quantities, in whole kits (units for a regular line).")
class QuantityDetailType:
    ordered: int
    unallocated: int = strawberry.field(description="Not yet through allocation.")
    allocated: int = strawberry.field(description="Allocated, not yet released.")
    backordered: int
    released: int = strawberry.field(description="Released, no warehouse event yet.")
    in_progress: int
    picked: int
    packed: int
    shipped: int
    shorted: int
    canceled: int


@strawberry.type(name="OrderLine")
class OrderLineType:
    id: strawberry.ID
    order_id: strawberry.ID
    line_number: str
    part_id: strawberry.ID
    quantity: int

    @strawberry.field
    def part(self, root: strawberry.Parent[OrderLine], info: Info) -> PartType:
        return _part(info, root.part_id)

    @strawberry.field(description="True when the line carries components (a kit line); derived.")
    def has_components(self, root: strawberry.Parent[OrderLine]) -> bool:
        return root.is_kit

    @strawberry.field
    def components(self, root: strawberry.Parent[OrderLine], info: Info) -> list[OrderLineComponentType]:
        data = order_data(info)
        data.load(root.order_id)
        return as_nodes(OrderLineComponentType, data.components.get(root.id, []))

    @strawberry.field
    def quantity_detail(self, root: strawberry.Parent[OrderLine], info: Info) -> QuantityDetailType:
        data = order_data(info)
        data.load(root.order_id)
        d = data.details.get(root.id) or orders.quantity_details(info.context.session, [root])[root.id]
        return QuantityDetailType(**vars(d))


@strawberry.type(name="OrderReleaseLine", description="One component of a kit line in a release.")
class OrderReleaseLineType:
    id: strawberry.ID
    release_id: strawberry.ID
    line_number: int
    order_line_id: strawberry.ID = strawberry.field(description="The parent kit line.")
    part_id: strawberry.ID
    ratio: DecimalScalar
    quantity: DecimalScalar

    @strawberry.field
    def part(self, root: strawberry.Parent[OrderReleaseLine], info: Info) -> PartType:
        return _part(info, root.part_id)

    @strawberry.field(description="The parent kit line's item.")
    def parent_part(self, root: strawberry.Parent[OrderReleaseLine], info: Info) -> PartType | None:
        line = info.context.loader(OrderLine).get(root.order_line_id)
        return _part(info, line.part_id) if line else None


@strawberry.type(name="OrderRelease", description="What one site ships: every component of its kits.")
class OrderReleaseType:
    id: strawberry.ID
    release_number: str
    site_id: strawberry.ID
    created_at: datetime

    @strawberry.field
    def site(self, root: strawberry.Parent[OrderRelease], info: Info) -> LocationType | None:
        return as_node(LocationType, info.context.loader(Location).get(root.site_id))

    @strawberry.field
    def lines(self, root: strawberry.Parent[OrderRelease], info: Info) -> list[OrderReleaseLineType]:
        data = order_data(info)
        data.load(root.order_id)
        return as_nodes(OrderReleaseLineType, data.release_lines.get(root.id, []))


@strawberry.type(name="UnprocessedOrderEvent",
                 description="An event of a message that failed a check, stored unchanged on its release line.")
class UnprocessedOrderEventType:
    id: strawberry.ID
    order_line_id: strawberry.ID
    release_line_id: strawberry.ID | None
    part_id: strawberry.ID
    quantity: DecimalScalar
    package_id: str | None
    short_reason_id: str | None
    reason: str
    created_at: datetime
    processed_at: datetime | None = strawberry.field(description="Set when the reconciler processed it.")

    @strawberry.field
    def event_type(self, root: strawberry.Parent[UnprocessedOrderEvent]) -> OrderEventTypeEnum:
        return rules.OrderEventType(root.event_type)

    @strawberry.field
    def cancel_unfulfilled_quantity(self, root: strawberry.Parent[UnprocessedOrderEvent]) -> bool:
        return root.cancel_unfulfilled


@strawberry.type(name="InvoiceLine")
class InvoiceLineType:
    order_line_id: strawberry.ID
    return_line_id: strawberry.ID | None
    quantity: int


@strawberry.type(name="Invoice", description="SALE: one per shipped package; RETURN: a resolved return line.")
class InvoiceType:
    id: strawberry.ID
    kind: str
    package_id: str | None
    created_at: datetime

    @strawberry.field
    def lines(self, root: strawberry.Parent[Invoice], info: Info) -> list[InvoiceLineType]:
        data = order_data(info)
        data.load(root.order_id)
        return as_nodes(InvoiceLineType, data.invoice_lines.get(root.id, []))


@strawberry.type(name="ReturnVerification")
class ReturnVerificationType:
    part_id: strawberry.ID
    quantity: DecimalScalar
    condition: str
    part_inventory_id: strawberry.ID | None


@strawberry.type(name="ReturnLine")
class ReturnLineType:
    id: strawberry.ID
    return_order_id: strawberry.ID
    order_line_id: strawberry.ID | None
    part_id: strawberry.ID
    quantity: int
    condition: str
    status: str = strawberry.field(description="OPEN, HELD, RESOLVED or CANCELED.")
    unexpected: bool = strawberry.field(description="A verified item that is not in the kit (on hold).")
    invoiced_quantity: int
    canceled_quantity: int

    @strawberry.field
    def quantity_variance_hold(self, root: strawberry.Parent[ReturnLine]) -> bool:
        return root.quantity_variance

    @strawberry.field
    def condition_variance_hold(self, root: strawberry.Parent[ReturnLine]) -> bool:
        return root.condition_variance

    @strawberry.field
    def part(self, root: strawberry.Parent[ReturnLine], info: Info) -> PartType:
        return _part(info, root.part_id)

    @strawberry.field
    def verifications(self, root: strawberry.Parent[ReturnLine], info: Info) -> list[ReturnVerificationType]:
        rows = info.context.session.scalars(select(ReturnVerification).where(
            ReturnVerification.return_line_id == root.id).order_by(ReturnVerification.id))
        return as_nodes(ReturnVerificationType, rows)


@strawberry.type(name="ReturnOrder")
class ReturnOrderType:
    id: strawberry.ID
    order_id: strawberry.ID
    exchange_order_id: strawberry.ID | None
    created_at: datetime

    @strawberry.field
    def exchange_type(self, root: strawberry.Parent[ReturnOrder]) -> ExchangeTypeEnum | None:
        return rules.ExchangeType(root.exchange_type) if root.exchange_type else None

    @strawberry.field
    def lines(self, root: strawberry.Parent[ReturnOrder], info: Info) -> list[ReturnLineType]:
        rows = info.context.session.scalars(select(ReturnLine).where(
            ReturnLine.return_order_id == root.id).order_by(ReturnLine.id))
        return as_nodes(ReturnLineType, rows)

    @strawberry.field
    def exchange_order(self, root: strawberry.Parent[ReturnOrder], info: Info) -> OrderType | None:
        return as_node(OrderType, info.context.loader(RetailOrder).get(root.exchange_order_id))


@strawberry.type(name="Order", description="A retail order: kit lines allocate their components.")
class OrderType:
    id: strawberry.ID
    order_number: str
    created_at: datetime

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[RetailOrder]) -> str:
        return root.etag

    @strawberry.field
    def lines(self, root: strawberry.Parent[RetailOrder], info: Info) -> list[OrderLineType]:
        data = order_data(info)
        data.load(root.id)
        rows = data.lines.get(root.id, [])
        info.context.loader(Part).want(r.part_id for r in rows)
        return as_nodes(OrderLineType, rows)

    @strawberry.field
    def releases(self, root: strawberry.Parent[RetailOrder], info: Info) -> list[OrderReleaseType]:
        data = order_data(info)
        data.load(root.id)
        return as_nodes(OrderReleaseType, data.releases.get(root.id, []))

    @strawberry.field
    def unprocessed_events(self, root: strawberry.Parent[RetailOrder], info: Info) -> list[UnprocessedOrderEventType]:
        data = order_data(info)
        data.load(root.id)
        return as_nodes(UnprocessedOrderEventType, data.unprocessed.get(root.id, []))

    @strawberry.field
    def invoices(self, root: strawberry.Parent[RetailOrder], info: Info) -> list[InvoiceType]:
        data = order_data(info)
        data.load(root.id)
        return as_nodes(InvoiceType, data.invoices.get(root.id, []))

    @strawberry.field
    def return_orders(self, root: strawberry.Parent[RetailOrder], info: Info) -> list[ReturnOrderType]:
        data = order_data(info)
        data.load(root.id)
        return as_nodes(ReturnOrderType, data.returns.get(root.id, []))


OrderSortEnum = sort_enum("OrderSortEnum", ["ID", "ORDER_NUMBER", "CREATED_AT"])


@strawberry.input(name="OrdersInputFilters")
class OrdersInputFilters:
    id: IDFilter | None = UNSET
    order_number: StringFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


# -- inputs and payloads -----------------------------------------------------------------


@strawberry.input
class OrderLineComponentInput:
    part_id: strawberry.ID
    quantity: DecimalScalar = strawberry.field(description="Per one kit.")


@strawberry.input
class OrderLineInput:
    line_number: str | None = None
    part_id: strawberry.ID
    quantity: DecimalScalar = strawberry.field(description="Whole kits (or units).")
    components: list[OrderLineComponentInput] | None = strawberry.field(
        default=None, description="Win over the item master's components; left out: copied from it."
    )


@strawberry.input
class CreateOrderInput:
    order_number: str
    lines: list[OrderLineInput]


@strawberry.input
class UpdateOrderSettingsInput:
    partial_kit_supported: bool | None = None
    enable_kits: bool | None = None
    return_verification_policy: ReturnVerificationPolicyEnum | None = None
    backorder_short_reason_ids: list[str] | None = None
    etag: str | None = None


@strawberry.input
class AllocateOrderInput:
    id: strawberry.ID


@strawberry.input
class ReleaseOrderInput:
    id: strawberry.ID


@strawberry.input
class OrderEventInput:
    event_type: OrderEventTypeEnum
    order_line_id: strawberry.ID | None = None
    release_line_id: strawberry.ID | None = None
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="With neither line named: the event is for a regular item of this order."
    )
    part_id: strawberry.ID
    quantity: DecimalScalar
    package_id: str | None = None
    short_reason_id: str | None = None
    cancel_unfulfilled_quantity: bool = False


@strawberry.input
class ProcessOrderEventsInput:
    external_message_id: str
    events: list[OrderEventInput]


@strawberry.input
class ReturnLineInput:
    order_line_id: strawberry.ID
    quantity: DecimalScalar
    condition: ReturnConditionEnum = rules.ReturnCondition.GOOD


@strawberry.input
class CreateReturnOrderInput:
    order_id: strawberry.ID
    lines: list[ReturnLineInput]
    exchange: ExchangeTypeEnum | None = None
    exchange_part_id: strawberry.ID | None = strawberry.field(default=None, description="For an UNEVEN exchange.")


@strawberry.input
class RecordReturnVerificationInput:
    return_line_id: strawberry.ID
    part_id: strawberry.ID
    quantity: DecimalScalar
    condition: ReturnConditionEnum = rules.ReturnCondition.GOOD
    location_id: strawberry.ID | None = strawberry.field(
        default=None, description="Where the units go back to stock (default: the site that shipped them)."
    )


@strawberry.input
class ResolveReturnLineInput:
    return_line_id: strawberry.ID


@strawberry.type
class OrderPayload:
    order: OrderType


@strawberry.type
class OrderSettingsPayload:
    order_settings: OrderSettingsType


@strawberry.type
class ReleaseOrderPayload:
    order: OrderType
    releases: list[OrderReleaseType]


@strawberry.type
class ProcessOrderEventsPayload:
    processed: bool
    duplicate: bool = strawberry.field(description="The message id was seen before: its first outcome.")
    unprocessed_events: list[UnprocessedOrderEventType]
    invoices: list[InvoiceType]


@strawberry.type(name="StuckOrderEvent")
class StuckOrderEventType:
    event: UnprocessedOrderEventType
    age_seconds: int
    reason: str


@strawberry.type
class ReconcileOrderEventsPayload:
    processed: list[UnprocessedOrderEventType]
    stuck: list[StuckOrderEventType]


@strawberry.type
class ReturnOrderPayload:
    return_order: ReturnOrderType


@strawberry.type
class ReturnLinePayload:
    return_line: ReturnLineType


def _events(input: ProcessOrderEventsInput) -> list[orders.NewEvent]:
    return [
        orders.NewEvent(
            event_type=e.event_type, part_id=parse_id(e.part_id, field=f"events[{i}].partId"),
            quantity=Decimal(e.quantity), order_line_id=optional_id(e.order_line_id, f"events[{i}].orderLineId"),
            release_line_id=optional_id(e.release_line_id, f"events[{i}].releaseLineId"),
            order_id=optional_id(e.order_id, f"events[{i}].orderId"), package_id=e.package_id,
            short_reason_id=e.short_reason_id, cancel_unfulfilled=e.cancel_unfulfilled_quantity,
        )
        for i, e in enumerate(input.events)
    ]


def outcome_payload(outcome: orders.EventOutcome) -> ProcessOrderEventsPayload:
    return ProcessOrderEventsPayload(
        processed=outcome.processed, duplicate=outcome.duplicate,
        unprocessed_events=as_nodes(UnprocessedOrderEventType, outcome.unprocessed),
        invoices=as_nodes(InvoiceType, outcome.invoices),
    )


@strawberry.type
class Query:
    orders = connection_field(
        OrderType, orders.list_orders, filters=OrdersInputFilters, sort=OrderSortEnum,
        description="Retail orders, as a Relay connection.",
        permission_classes=needs(P.VIEW_ORDERS),
    )

    @strawberry.field(permission_classes=needs(P.VIEW_ORDERS))
    def order(self, info: Info, id: strawberry.ID) -> OrderType:
        return as_node(OrderType, orders.get_order(info.context.session, parse_id(id)))

    @strawberry.field(permission_classes=needs(P.VIEW_ORDERS))
    def order_settings(self, info: Info) -> OrderSettingsType:
        return as_node(OrderSettingsType, orders.settings_row(info.context.session))


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_ORDERS), description="Components on a line win over the item master; a digital/physical mix is refused.")
    def create_order(self, info: Info, input: CreateOrderInput) -> OrderPayload | None:
        lines = [
            orders.NewLine(
                line_number=line.line_number or str(i + 1),
                part_id=parse_id(line.part_id, field=f"lines[{i}].partId"),
                quantity=Decimal(line.quantity),
                components=None if line.components is None else [
                    (parse_id(c.part_id, field=f"lines[{i}].components[{j}].partId"), Decimal(c.quantity))
                    for j, c in enumerate(line.components)
                ],
            )
            for i, line in enumerate(input.lines)
        ]
        with info.context.uow() as uow:
            order = orders.create_order(uow, input.order_number, lines)
        return OrderPayload(order=as_node(OrderType, order))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_SETTINGS))
    def update_order_settings(self, info: Info, input: UpdateOrderSettingsInput) -> OrderSettingsPayload | None:
        changes = {
            "partial_kit_supported": input.partial_kit_supported, "enable_kits": input.enable_kits,
            "return_verification_policy": input.return_verification_policy.value
            if input.return_verification_policy else None,
            "backorder_short_reasons": input.backorder_short_reason_ids,
        }
        with info.context.uow() as uow:
            row = orders.update_order_settings(uow, changes, input.etag)
        return OrderSettingsPayload(order_settings=as_node(OrderSettingsType, row))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_ORDERS), description="Reserve component inventory in whole kits, each kit unit from one site.")
    def allocate_order(self, info: Info, input: AllocateOrderInput) -> OrderPayload | None:
        with info.context.uow() as uow:
            result = orders.allocate_order(uow, parse_id(input.id))
        return OrderPayload(order=as_node(OrderType, result.order))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_ORDERS), description="One release per site for what is allocated and not yet released.")
    def release_order(self, info: Info, input: ReleaseOrderInput) -> ReleaseOrderPayload | None:
        with info.context.uow() as uow:
            releases = orders.release_order(uow, parse_id(input.id))
        order = orders.get_order(info.context.session, parse_id(input.id))
        return ReleaseOrderPayload(order=as_node(OrderType, order), releases=as_nodes(OrderReleaseType, releases))

    @strawberry.mutation(permission_classes=needs(P.PROCESS_ORDER_EVENTS),
        description="A warehouse message, all or nothing: a message failing any check processes nothing and "
        "stores its events as unprocessed order events (no error). A repeated message id answers its first outcome."
    )
    def process_order_events(self, info: Info, input: ProcessOrderEventsInput) -> ProcessOrderEventsPayload | None:
        events = _events(input)
        with info.context.uow() as uow:
            outcome = orders.process_order_events(uow, input.external_message_id, events)
        return outcome_payload(outcome)

    @strawberry.mutation(permission_classes=needs(P.PROCESS_ORDER_EVENTS), description="Process stored events that now form whole kits; report the stuck ones.")
    def reconcile_order_events(self, info: Info) -> ReconcileOrderEventsPayload | None:
        with info.context.uow() as uow:
            result = orders.reconcile_order_events(uow)
        return ReconcileOrderEventsPayload(
            processed=as_nodes(UnprocessedOrderEventType, result.processed),
            stuck=[StuckOrderEventType(event=as_node(UnprocessedOrderEventType, s.event), age_seconds=s.age_seconds, reason=s.reason)
                   for s in result.stuck],
        )

    @strawberry.mutation(permission_classes=needs(P.MANAGE_ORDERS))
    def create_return_order(self, info: Info, input: CreateReturnOrderInput) -> ReturnOrderPayload | None:
        lines = [orders.NewReturnLine(parse_id(line.order_line_id, field=f"lines[{i}].orderLineId"),
                                      Decimal(line.quantity), line.condition)
                 for i, line in enumerate(input.lines)]
        with info.context.uow() as uow:
            ret = orders.create_return_order(
                uow, parse_id(input.order_id, field="orderId"), lines, input.exchange,
                optional_id(input.exchange_part_id, "exchangePartId"),
            )
        return ReturnOrderPayload(return_order=as_node(ReturnOrderType, ret))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_ORDERS))
    def record_return_verification(self, info: Info, input: RecordReturnVerificationInput) -> ReturnLinePayload | None:
        with info.context.uow() as uow:
            line = orders.record_return_verification(
                uow, parse_id(input.return_line_id, field="returnLineId"), parse_id(input.part_id, field="partId"),
                Decimal(input.quantity), input.condition, optional_id(input.location_id, "locationId"),
            )
        return ReturnLinePayload(return_line=as_node(ReturnLineType, line))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_ORDERS))
    def resolve_return_line(self, info: Info, input: ResolveReturnLineInput) -> ReturnLinePayload | None:
        with info.context.uow() as uow:
            line = orders.resolve_return_line(uow, parse_id(input.return_line_id, field="returnLineId"))
        return ReturnLinePayload(return_line=as_node(ReturnLineType, line))
