"""Security rules without I/O: permissions named after operations, roles, and which
permission each GraphQL root field, REST endpoint and web page needs."""
