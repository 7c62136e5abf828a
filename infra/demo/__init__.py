"""Demo upstream MCP servers built with the official `mcp` SDK: notes, clock and a flaky one."""
