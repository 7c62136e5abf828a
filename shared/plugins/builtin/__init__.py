"""The plugins that ship with the hub (`MODULE=redact`, `deny`, `schema`): working examples too."""
