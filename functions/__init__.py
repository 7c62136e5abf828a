"""Thin Azure Functions trigger adapters: parse the trigger input, call shared/, render the result."""
