"""Mypy plugin: `@strawberry.field(...)`, `@strawberry.mutation(...)` and
`@strawberry.subscription(...)` used as decorators keep the resolver's type.

Strawberry types those calls as `Any` (the same call also declares a plain field,
`x: int = strawberry.field(description=...)`), so strict mypy calls every such resolver
untyped. Here a call that decorates a function is typed `def [F] (F) -> F`; every other call
keeps Strawberry's own type. Listed in pyproject's `[tool.mypy] plugins`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mypy.nodes import ARG_POS, Block, ClassDef, Decorator, Expression, MypyFile, Node
from mypy.plugin import FunctionContext, Plugin
from mypy.types import AnyType, CallableType, Type, TypeOfAny, TypeVarId, TypeVarType

FIELD_FACTORIES = frozenset(
    {"strawberry.types.field.field", "strawberry.types.mutation.mutation", "strawberry.types.mutation.subscription"}
)


def _decorators(nodes: list[Node] | list[Expression] | list[object]) -> Iterator[Expression]:
    for node in nodes:
        if isinstance(node, Decorator):
            yield from node.decorators
        elif isinstance(node, ClassDef):
            yield from _decorators(list(node.defs.body))
        elif isinstance(node, Block):
            yield from _decorators(list(node.body))


class StrawberryFieldsPlugin(Plugin):
    # Per module tree (kept alive by mypy for the whole run): ids of its decorator calls.
    _decorator_calls: dict[tuple[str, int], frozenset[int]] = {}

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        return self._as_decorator if fullname in FIELD_FACTORIES else None

    def _as_decorator(self, ctx: FunctionContext) -> Type:
        tree = getattr(ctx.api, "tree", None)
        if not isinstance(tree, MypyFile):
            return ctx.default_return_type
        key = (tree.fullname, id(tree))
        calls = self._decorator_calls.get(key)
        if calls is None:
            calls = self._decorator_calls[key] = frozenset(id(e) for e in _decorators(list(tree.defs)))
        if id(ctx.context) not in calls:
            return ctx.default_return_type
        # def [F] (F) -> F: the decorated resolver keeps its signature.
        resolver = TypeVarType(
            "F", "F", TypeVarId(-1), [], ctx.api.named_generic_type("builtins.object", []),
            AnyType(TypeOfAny.from_omitted_generics),
        )
        return CallableType(
            [resolver], [ARG_POS], [None], resolver, ctx.api.named_generic_type("builtins.function", []),
            variables=[resolver],
        )


def plugin(version: str) -> type[Plugin]:
    return StrawberryFieldsPlugin
