"""GraphQL (Strawberry) and the ASGI app. Resolvers translate and delegate to services."""
