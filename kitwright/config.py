"""Settings read from the environment (KITWRIGHT_*), with documented defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from kitwright.domain.numbering import DEFAULT_LOT_PATTERN, DEFAULT_SERIAL_PATTERN, validate_pattern


@dataclass(frozen=True)
class Settings:
    serial_pattern: str = DEFAULT_SERIAL_PATTERN
    lot_pattern: str = DEFAULT_LOT_PATTERN
    # Let another revision of the same part number serve a kit item (off, as in ION).
    allow_other_revision: bool = False
    # Let a build requirement take any available stock, not only stock kitted to its run.
    allow_install_from_stock: bool = False
    # How long kitAvailabilityChanges keeps its change log: older notes are pruned and a token
    # older than this is refused (docs/retail.md, "Changes").
    availability_changes_retention: timedelta = timedelta(days=7)

    @classmethod
    def from_env(cls) -> Settings:
        settings = cls(
            serial_pattern=os.environ.get("KITWRIGHT_SERIAL_PATTERN", DEFAULT_SERIAL_PATTERN),
            lot_pattern=os.environ.get("KITWRIGHT_LOT_PATTERN", DEFAULT_LOT_PATTERN),
            allow_other_revision=os.environ.get("KITWRIGHT_ALLOW_OTHER_REVISION", "") in ("1", "true"),
            allow_install_from_stock=os.environ.get("KITWRIGHT_ALLOW_INSTALL_FROM_STOCK", "") in ("1", "true"),
            availability_changes_retention=_hours("KITWRIGHT_AVAILABILITY_CHANGES_RETENTION", 7 * 24),
        )
        validate_pattern(settings.serial_pattern)
        validate_pattern(settings.lot_pattern)
        return settings


def _hours(name: str, default: float) -> timedelta:
    value = os.environ.get(name, "").strip()
    try:
        hours = float(value) if value else default
    except ValueError:
        raise ValueError(f"{name} must be a number of hours") from None
    if not 0 < hours < 1_000_000:
        raise ValueError(f"{name} must be a positive number of hours")
    return timedelta(hours=hours)


_current: Settings | None = None


def settings() -> Settings:
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def use_settings(value: Settings) -> None:
    """Replace the settings (tests, the CLI)."""
    global _current
    _current = value
