"""The `kitwright` command."""
