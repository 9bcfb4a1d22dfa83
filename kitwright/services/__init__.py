"""Use cases. Each opens a unit of work, locks what it will change, asks the domain, writes
the ledger and commits. GraphQL, web pages, the CLI and importers all call these."""
