"""MCP protocol layer: JSON-RPC envelopes, protocol versions of both eras, SSE framing."""
