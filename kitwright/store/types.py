"""Column types shared by the mappings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, TypeDecorator

from kitwright.domain.quantities import from_units, to_units


class Quantity(TypeDecorator[Decimal]):
    """An exact decimal kept as integer millionths (see domain.quantities)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return to_units(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return from_units(int(value))
