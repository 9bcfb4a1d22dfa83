"""Actions (validation rules) over GraphQL: `rules`, `rule`, `createRule`, `updateRule`,
`deleteRule` (docs/actions.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import strawberry
from strawberry.types.unset import UNSET

from kitwright.api.authorization import needs
from kitwright.api.context import Info
from kitwright.api.inventory import DeletePayload
from kitwright.api.lists import connection_field
from kitwright.api.nodes import as_node
from kitwright.api.relay import (
    BooleanFilter,
    EnumFilter,
    IDFilter,
    StringFilter,
    input_changes,
    sort_enum,
)
from kitwright.api.scalars import parse_id
from kitwright.domain.actions import Event, Severity, Target
from kitwright.security.permissions import P
from kitwright.services import actions
from kitwright.store.models import Rule

strawberry.enum(Target, name="RuleTarget", description="What a rule watches.")
RuleTargetEnum: TypeAlias = Target
strawberry.enum(Event, name="RuleEventType", description="The change a rule watches.")
RuleEventEnum: TypeAlias = Event
strawberry.enum(
    Severity, name="RuleSeverity",
    description="BLOCK refuses the change; WARN lets it through and records a warning in the audit trail.",
)
RuleSeverityEnum: TypeAlias = Severity


@strawberry.type(
    name="Rule",
    description=(
        "An action: when `code` (a CEL condition over new, old, object, user, event, target) is "
        "true for a change of `target` on `eventType`, the change is refused (BLOCK) or warned "
        "about (WARN) with `message` (default: the title). Runs on every path, in `order`."
    ),
)
class RuleType:
    id: strawberry.ID
    title: str
    code: str
    message: str | None
    enabled: bool
    created_at: datetime

    @strawberry.field
    def target(self, root: strawberry.Parent[Rule]) -> RuleTargetEnum:
        return Target(root.target)

    @strawberry.field
    def event_type(self, root: strawberry.Parent[Rule]) -> RuleEventEnum:
        return Event(root.event_type)

    @strawberry.field
    def severity(self, root: strawberry.Parent[Rule]) -> RuleSeverityEnum:
        return Severity(root.severity)

    @strawberry.field(description="Rules run in ascending order (then id).")
    def order(self, root: strawberry.Parent[Rule]) -> int:
        return root.position

    @strawberry.field(name="_etag")
    def etag(self, root: strawberry.Parent[Rule]) -> str:
        return root.etag


@strawberry.input
class RulesInputFilters:
    id: IDFilter | None = UNSET
    title: StringFilter | None = UNSET
    target: EnumFilter[RuleTargetEnum] | None = UNSET
    event_type: EnumFilter[RuleEventEnum] | None = UNSET
    enabled: BooleanFilter | None = UNSET


RuleSortEnum = sort_enum("RuleSortEnum", actions.RULE_SORTS)


@strawberry.input
class CreateRuleInput:
    title: str
    target: RuleTargetEnum
    event_type: RuleEventEnum
    code: str = strawberry.field(description="A CEL condition; true means the rule trips.")
    enabled: bool = True
    order: int = 0
    severity: RuleSeverityEnum = Severity.BLOCK
    message: str | None = None


@strawberry.input
class UpdateRuleInput:
    id: strawberry.ID
    etag: str
    title: str | None = UNSET
    target: RuleTargetEnum | None = UNSET
    event_type: RuleEventEnum | None = UNSET
    code: str | None = UNSET
    enabled: bool | None = UNSET
    order: int | None = UNSET
    severity: RuleSeverityEnum | None = UNSET
    message: str | None = UNSET


@strawberry.type
class RulePayload:
    rule: RuleType


@strawberry.type
class Query:
    @strawberry.field(permission_classes=needs(P.VIEW_RULES))
    def rule(self, info: Info, id: strawberry.ID) -> RuleType:
        return as_node(RuleType, actions.get_rule(info.context.session, parse_id(id)))

    rules = connection_field(RuleType, actions.list_rules, filters=RulesInputFilters, sort=RuleSortEnum, permission_classes=needs(P.VIEW_RULES))


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=needs(P.MANAGE_RULES), description="A rule whose code does not compile is refused.")
    def create_rule(self, info: Info, input: CreateRuleInput) -> RulePayload | None:
        with info.context.uow() as uow:
            rule = actions.create_rule(
                uow, title=input.title, target=_value(input.target), event_type=_value(input.event_type),
                code=input.code, enabled=input.enabled, position=input.order,
                severity=_value(input.severity), message=input.message,
            )
        return RulePayload(rule=as_node(RuleType, rule))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RULES))
    def update_rule(self, info: Info, input: UpdateRuleInput) -> RulePayload | None:
        changes = input_changes(input)
        if "order" in changes:
            changes["position"] = changes.pop("order")
        with info.context.uow() as uow:
            rule = actions.update_rule(uow, parse_id(input.id), input.etag, changes)
        return RulePayload(rule=as_node(RuleType, rule))

    @strawberry.mutation(permission_classes=needs(P.MANAGE_RULES))
    def delete_rule(self, info: Info, id: strawberry.ID, etag: str) -> DeletePayload | None:
        with info.context.uow() as uow:
            deleted = actions.delete_rule(uow, parse_id(id), etag)
        return DeletePayload(id=strawberry.ID(str(deleted)))
