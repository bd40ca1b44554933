"""REST controllers: the version documents and the v1 resources."""
