"""Server-rendered pages for people. They call the same services as the API."""
