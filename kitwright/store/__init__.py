"""Persistence: SQLAlchemy mappings, engine setup, set-based queries and migrations."""
