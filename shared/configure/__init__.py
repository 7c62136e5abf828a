"""From what a team says it needs to the exact settings that add those MCP servers to the hub."""
