"""The hub: MCP Streamable HTTP served statelessly over sessions in Table Storage."""
