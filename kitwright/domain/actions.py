"""Actions: validation rules users write in CEL (docs/actions.md).

A rule has a target (PARTKITITEM, …), an event (CREATE, UPDATE, DELETE), a severity and a
condition (`code`) in the Common Expression Language. The condition sees `new` (the object
after the change; null on DELETE), `old` (before; null on CREATE), `object` (new, or old on
DELETE), `user` (`id`, `name`, `role`), `event` and `target`. When it is **true** the rule
*trips*: a BLOCK rule refuses the change with the rule's message, a WARN rule lets it through
and the warning is recorded.

CEL is evaluated by the `common-expression-language` package (the Rust `cel` interpreter):
non-Turing-complete, no I/O, no access to Python objects, so a condition cannot escape its
sandbox. Bounds: a condition is at most MAX_CODE characters with at most MAX_COMPREHENSIONS
comprehension macros (so one evaluation is short), and a batch of evaluations stops at a
deadline. A condition that does not compile is refused when saved; one that fails when run
(a missing field, a type mismatch, a result that is not true/false) blocks with a message
naming the rule, never passes silently.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import cel

from kitwright.domain.errors import BadInput, Problems

MAX_CODE = 1000
MAX_TITLE = 200
MAX_MESSAGE = 1000
MAX_COMPREHENSIONS = 2
DEFAULT_BUDGET_SECONDS = 60.0  # for all evaluations of one unit of work


class Target(enum.StrEnum):
    PART = "PART"
    LOCATION = "LOCATION"
    PARTINVENTORY = "PARTINVENTORY"
    PARTKIT = "PARTKIT"
    PARTKITITEM = "PARTKITITEM"
    RUN = "RUN"
    MBOMITEM = "MBOMITEM"
    BUILDREQUIREMENT = "BUILDREQUIREMENT"
    ABOMITEM = "ABOMITEM"


class Event(enum.StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class Severity(enum.StrEnum):
    BLOCK = "BLOCK"
    WARN = "WARN"


_COMPREHENSION = re.compile(r"\.\s*(all|exists|exists_one|map|filter)\s*\(")


def check_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise BadInput("title must be a non-empty text", field="title")
    if len(title) > MAX_TITLE:
        raise BadInput(f"title is longer than {MAX_TITLE} characters", field="title")
    return title.strip()


def check_message(message: object) -> str | None:
    if message is None:
        return None
    if not isinstance(message, str):
        raise BadInput("message must be text", field="message")
    if len(message) > MAX_MESSAGE:
        raise BadInput(f"message is longer than {MAX_MESSAGE} characters", field="message")
    return message.strip() or None


def enum_value(kind: type[enum.StrEnum], value: object, field: str) -> str:
    raw = str(getattr(value, "value", value))
    try:
        return kind(raw).value
    except ValueError:
        names = ", ".join(member.value for member in kind)
        raise BadInput(f"{field} must be one of {names}, got {raw[:40]!r}", field=field) from None


def compile_condition(code: object) -> cel.Program:
    """Compile a condition or raise BadInput (field `code`) saying why."""
    if not isinstance(code, str) or not code.strip():
        raise BadInput("code must be a non-empty CEL condition", field="code")
    if len(code) > MAX_CODE:
        raise BadInput(f"code is longer than {MAX_CODE} characters", field="code")
    if len(_COMPREHENSION.findall(code)) > MAX_COMPREHENSIONS:
        raise BadInput(
            f"code uses more than {MAX_COMPREHENSIONS} comprehension macros (all, exists, map, filter)",
            field="code",
        )
    return _compiled(code)


@lru_cache(maxsize=1024)
def _compiled(code: str) -> cel.Program:
    try:
        return cel.compile(code)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # the Rust side may raise a PanicException (a BaseException)
        first = str(error).strip().splitlines()
        raise BadInput(f"code does not compile: {' '.join(first[:3])[:400]}", field="code") from None


@dataclass(frozen=True)
class CompiledRule:
    id: int
    title: str
    target: str
    event: str
    severity: str
    message: str | None
    program: cel.Program

    @property
    def text(self) -> str:
        return self.message or self.title


@dataclass(frozen=True)
class Change:
    """One change to check: `row` names it in an import (None for a single mutation)."""

    event: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    row: int | None = None


@dataclass(frozen=True)
class Trip:
    rule: CompiledRule
    change: Change
    message: str
    blocked: bool


_PLAIN = (bool, int, float, str, type(None))


def cel_value(value: Any) -> Any:
    """Python -> what CEL receives: quantities as doubles, ids as ints, maps and lists deep."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): cel_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cel_value(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def evaluate(
    rules: Sequence[CompiledRule],
    target: str,
    changes: Iterable[Change],
    user: Mapping[str, Any],
    *,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
) -> list[Trip]:
    """Every rule for each change's event, in order. A run-time failure is a blocking trip
    whose message names the rule; running past the budget is one too (and stops)."""
    by_event: dict[str, list[CompiledRule]] = {}
    for rule in rules:
        if rule.target == target:
            by_event.setdefault(rule.event, []).append(rule)
    if not by_event:
        return []
    deadline = time.monotonic() + budget_seconds
    trips: list[Trip] = []
    context = cel.Context({"user": cel_value(user), "target": target})
    # Converting values into the context is most of the cost: set only what the rules read.
    used: set[str] = set()
    for rule in rules:
        used.update(rule.program.variables())
    for n, change in enumerate(changes):
        applicable = by_event.get(change.event)
        if not applicable:
            continue
        if n % 64 == 0 and time.monotonic() > deadline:
            trips.append(Trip(applicable[0], change,
                              f"checking the actions took longer than {budget_seconds:g} s; nothing was changed",
                              True))
            return trips
        values: dict[str, Any] = {"event": change.event}
        if "new" in used or "object" in used:
            values["new"] = cel_value(change.new) if change.new is not None else None
        if "old" in used or "object" in used:
            values["old"] = cel_value(change.old) if change.old is not None else None
        if "object" in used:
            values["object"] = values["new"] if values["new"] is not None else values["old"]
        context.update(values)
        for rule in applicable:
            try:
                result = rule.program.execute(context)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as error:
                detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
                trips.append(Trip(rule, change, f"action {rule.id} ({rule.title}) failed to run: {detail}", True))
                continue
            if not isinstance(result, bool):
                trips.append(Trip(rule, change,
                                  f"action {rule.id} ({rule.title}) must give true or false, gave {str(result)[:60]}",
                                  True))
            elif result:
                trips.append(Trip(rule, change, rule.text, rule.severity == Severity.BLOCK.value))
    return trips


def raise_blocking(trips: Sequence[Trip]) -> None:
    """Refuse the change when any blocking rule tripped, naming each rule (and row)."""
    problems = Problems()
    for trip in trips:
        if trip.blocked:
            problems.add(trip.message, field=f"rule:{trip.rule.id}", row=trip.change.row)
    problems.raise_if_any()
