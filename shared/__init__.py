"""MCPHub domain: protocol, sessions, upstreams, hub. Never imports azure.functions."""
