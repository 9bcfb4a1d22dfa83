"""The committed schema.graphql is the schema the code serves."""

from pathlib import Path

from kitwright.api.sdl import sdl

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    assert SDL.read_text() == sdl(), "schema.graphql drifted from the code: run `make schema`"


def test_contract_names_from_api_md_are_present() -> None:
    text = SDL.read_text()
    for name in (
        "input CreatePartInventoryInput", "input UpdatePartInventoryInput", "PartInventoriesInputFilters",
        "enum PartInventorySortEnum", "deletePartInventory(id: ID!, etag: String!)", "enum TrackingType",
        "enum PartInventoryStatus", "totalCount", "ledgerEntries(",
    ):
        assert name in text, name
