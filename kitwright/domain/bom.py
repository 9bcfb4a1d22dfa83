"""mBOM rules: quantities, cycles, and the depth / level notations of bulk uploads.

Pure: the service loads the edges that matter (one recursive query), calls these functions
and writes what they return. See docs/runs.md.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.quantities import ZERO, parse_quantity

PartKey = tuple[str, str]  # (part number, revision)


def check_mbom_quantity(value: object, *, field: str = "quantity") -> Decimal:
    q = parse_quantity(value, field=field)
    if q <= ZERO:
        raise BadInput("quantity per assembly must be greater than 0", field=field)
    return q


def find_cycle(
    edges: Iterable[tuple[int, int]], new_edges: Sequence[tuple[int, int]]
) -> list[int] | None:
    """A cycle that the `new_edges` (parent -> component) close, as [parent, …, parent], or
    None. `edges` must hold every existing edge reachable from the new edges' components."""
    children: dict[int, set[int]] = {}
    for parent, child in [*edges, *new_edges]:
        children.setdefault(parent, set()).add(child)
    for parent, child in new_edges:
        if parent == child:
            return [parent, parent]
        # Depth-first from the component: reaching the parent closes a loop.
        stack: list[tuple[int, list[int]]] = [(child, [parent, child])]
        seen: set[int] = set()
        while stack:
            node, path = stack.pop()
            if node == parent:
                return path
            if node in seen:
                continue
            seen.add(node)
            for nxt in sorted(children.get(node, ())):
                stack.append((nxt, [*path, nxt]))
    return None


def cycle_message(path: Sequence[int], names: Mapping[int, str]) -> str:
    return "the mBOM would contain a cycle: " + " -> ".join(names.get(p, str(p)) for p in path)


class Notation(enum.StrEnum):
    DEPTH = "DEPTH"  # 0 = the top assembly, 1 = its components, 2 = theirs, …
    LEVEL = "LEVEL"  # "1" = the top assembly, "1.1" its component, "1.1.2" that one's, …


@dataclass(frozen=True)
class BomRow:
    """One row of a bulk upload; `row_id` is its 1-based position (what errors name)."""

    row_id: int
    position: str  # the depth (as text) or the level
    part: PartKey
    quantity: Decimal
    made_on_assembly: bool = False
    substitutes: str | None = None


@dataclass(frozen=True)
class BomEdge:
    row_id: int
    parent: PartKey
    part: PartKey
    quantity: Decimal
    made_on_assembly: bool
    substitutes: str | None


def plan_bom_rows(notation: Notation, rows: Sequence[BomRow]) -> tuple[list[BomEdge], Problems]:
    """Turn rows into (parent, component) edges; every row's problem is collected at once.

    A top row (the top depth / a one-part level) names an assembly; its quantity is not used.
    DEPTH counts from the first row's depth, 0 or 1: ION's sheets put the top assembly at
    depth 1, Kitwright's first form at 0; the first row is always a top assembly.
    """
    problems = Problems()
    edges: list[BomEdge] = []
    stack: list[PartKey] = []  # DEPTH: the latest part seen at each depth
    top = _top_depth(rows) if notation is Notation.DEPTH else 0
    levels: dict[str, PartKey] = {}  # LEVEL: part per level label
    pairs: dict[tuple[PartKey, PartKey], int] = {}
    for row in rows:
        parent: PartKey | None = None
        if notation is Notation.DEPTH:
            try:
                written = int(row.position)
            except ValueError:
                problems.add(f"depth {row.position!r} is not a whole number", row=row.row_id, column="depth")
                continue
            depth = written - top
            if depth < 0:
                problems.add(f"depth {written} is above the top assembly's depth {top}", row=row.row_id,
                             column="depth")
                continue
            if depth > len(stack):
                problems.add(
                    f"depth {written} follows depth {len(stack) - 1 + top}: a row may go at most one level deeper",
                    row=row.row_id, column="depth",
                )
                continue
            del stack[depth:]
            parent = stack[depth - 1] if depth > 0 else None
            stack.append(row.part)
        else:
            label = row.position.strip()
            parts = label.split(".")
            if not label or not all(p.isdigit() for p in parts):
                problems.add(f"level {row.position!r} is not like 1, 1.2 or 1.2.3", row=row.row_id, column="level")
                continue
            if label in levels:
                problems.add(f"level {label} appears twice", row=row.row_id, column="level")
                continue
            if len(parts) > 1:
                parent_label = ".".join(parts[:-1])
                if parent_label not in levels:
                    problems.add(f"level {label} has no row {parent_label} above it", row=row.row_id, column="level")
                    continue
                parent = levels[parent_label]
            levels[label] = row.part
        if parent is None:
            continue
        if row.quantity <= ZERO:
            problems.add("quantity must be greater than 0", row=row.row_id, column="quantity")
            continue
        if parent == row.part:
            problems.add(f"{row.part[0]} cannot be a component of itself", row=row.row_id, column="partNumber")
            continue
        if (parent, row.part) in pairs:
            problems.add(
                f"{row.part[0]} is already a component of {parent[0]} in row {pairs[(parent, row.part)]}",
                row=row.row_id, column="partNumber",
            )
            continue
        pairs[(parent, row.part)] = row.row_id
        edges.append(BomEdge(row.row_id, parent, row.part, row.quantity, row.made_on_assembly, row.substitutes))
    return edges, problems


def _top_depth(rows: Sequence[BomRow]) -> int:
    """The depth the sheet gives its top assemblies: the first row's, when it is 1; else 0."""
    for row in rows[:1]:
        if row.position.strip() == "1":
            return 1
    return 0
