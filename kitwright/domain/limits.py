"""Bounds every layer checks input against, defined once."""

from __future__ import annotations

# Ids are 32-bit integer keys on both engines: anything larger names no row.
MAX_ID = 2**31 - 1
# A kit's priority and a rule's order: lower comes first.
MAX_PRIORITY = 1_000_000
MAX_RULE_ORDER = 1_000_000
# Rows per statement when a service reads or checks many rows by id, or streams a table.
ID_CHUNK = 5000
STREAM_BATCH = 5000
# Numbers a serial or lot pattern renders before giving up: one at a time (a create) and
# rounds of a whole batch (an import).
NUMBER_ATTEMPTS = 10_000
NUMBER_ROUNDS = 100
# A run's title.
MAX_RUN_TITLE = 300
