"""Old name of `tests.factories`, kept only so tests written against it still import; new
tests import `tests.factories`."""

from tests.factories import location, mbom, part, record, run, supplier

__all__ = ["location", "mbom", "part", "record", "run", "supplier"]
