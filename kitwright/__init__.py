"""Kitwright: kitting and inventory, for hardware builders and retailers."""

__version__ = "0.1.0"
