"""ION's key/value attributes of parts and suppliers: a list of `{key, value, type}`.

ION's scripts read them as `attributes { key value type }` and filter by `key` (e.g. an
"Approved" flag on a part, a FILE_ATTACHMENT URL on a supplier). Keys are unique per object;
values are text (ION sends numbers and dates as text too); `type` says how to read the value.
"""

from __future__ import annotations

import re

from kitwright.domain.errors import BadInput, Problems
from kitwright.domain.text import LONG, clean_text

MAX_KEYS = 100
DEFAULT_TYPE = "TEXT"
_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")

Attribute = dict[str, str | None]


def normalize_attributes(items: list[tuple[object, object, object]], *, field: str = "attributes") -> list[Attribute]:
    """Vet `(key, value, type)` triples; raise BadInput naming every bad entry at once.

    A blank type means TEXT; types are upper-case words (TEXT, NUMERIC, BOOLEAN, DATE, URL,
    FILE_ATTACHMENT, …). A key given twice is refused rather than silently keeping one.
    """
    problems = Problems()
    if len(items) > MAX_KEYS:
        problems.add(f"at most {MAX_KEYS} attributes per object", field=field)
        problems.raise_if_any()
    seen: set[str] = set()
    result: list[Attribute] = []
    for index, (key, value, kind) in enumerate(items):
        where = f"{field}[{index}]"
        try:
            clean_key = clean_text(key, field=f"{where}.key", required=True, max_length=200) or ""
            clean_value = clean_text(value, field=f"{where}.value", max_length=LONG, multiline=True)
            clean_kind = (clean_text(kind, field=f"{where}.type", max_length=40) or DEFAULT_TYPE).upper()
        except BadInput as error:  # collect it with the others
            problems.add(error.message, field=error.field)
            continue
        if not _TYPE.match(clean_kind):
            problems.add("type must be an upper-case word such as TEXT or FILE_ATTACHMENT", field=f"{where}.type")
            continue
        if clean_key.casefold() in seen:
            problems.add(f"attribute {clean_key!r} is given twice", field=f"{where}.key")
            continue
        seen.add(clean_key.casefold())
        result.append({"key": clean_key, "value": clean_value, "type": clean_kind})
    problems.raise_if_any()
    return result
