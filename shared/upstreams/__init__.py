"""Upstream MCP servers: the HTTP client, circuit breakers, namespacing and the tool-list cache."""
