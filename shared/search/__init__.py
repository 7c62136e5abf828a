"""Permission-aware tool search: rank the tools a caller may see for a query in plain words."""
