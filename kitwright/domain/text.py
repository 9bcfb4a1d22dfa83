"""Plain-text fields: names, descriptions, numbers typed by people."""

from __future__ import annotations

from kitwright.domain.errors import BadInput
from kitwright.domain.quantities import PLAIN_DECIMAL

SHORT = 200
LONG = 10_000


def camel(name: str) -> str:
    """A column's name as the API spells it: `part_inventory_id` -> `partInventoryId`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def clean_text(
    value: object, *, field: str, max_length: int = SHORT, required: bool = False,
    multiline: bool = False,
) -> str | None:
    """Strip, bound and vet a text field; blank becomes None (or an error when required).

    NUL and other control characters are refused: PostgreSQL cannot store NUL and neither
    belongs in a part number or a location name.
    """
    if value is None:
        if required:
            raise BadInput(f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        raise BadInput(f"{field} must be text", field=field)
    text = value.strip()
    if not text:
        if required:
            raise BadInput(f"{field} must not be blank", field=field)
        return None
    if len(text) > max_length:
        raise BadInput(f"{field} is longer than {max_length} characters", field=field)
    allowed = "\n\r\t" if multiline else ""
    if any(ord(ch) < 32 and ch not in allowed for ch in text) or "\x7f" in text:
        raise BadInput(f"{field} must not contain control characters", field=field)
    return text


MAX_ATTRIBUTES = 50


def clean_attributes(value: object, *, field: str = "attributes") -> dict[str, object]:
    """Custom attributes: a flat JSON object of short keys to scalar values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"{field} must be a JSON object", field=field)
    if len(value) > MAX_ATTRIBUTES:
        raise BadInput(f"{field} holds more than {MAX_ATTRIBUTES} entries", field=field)
    cleaned: dict[str, object] = {}
    for key, item in value.items():
        name = clean_text(key, field=f"{field}.key", max_length=100, required=True)
        assert name is not None
        if isinstance(item, str):
            item = clean_text(item, field=f"{field}.{name}", max_length=SHORT) or ""
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise BadInput(f"{field}.{name} must be text, a number, true/false or null", field=field)
        cleaned[name] = item
    return cleaned


# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and CR, may
# shift it into one): "=HYPERLINK(…)" in a pick list would run on the picker's machine.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading quote before anything that could start
    a formula. Plain numbers ("-12.5") stay numbers."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not PLAIN_DECIMAL.fullmatch(text):
        return "'" + text
    return text
