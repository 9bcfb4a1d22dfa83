"""Print the GraphQL schema's SDL (`python -m kitwright.api.sdl > schema.graphql`)."""

from __future__ import annotations

from kitwright.api.schema import schema


def sdl() -> str:
    return str(schema).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(sdl(), end="")
