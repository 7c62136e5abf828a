"""Backup and restore of the hub's tables: a portable archive with checksums, restored idempotently
and resumably into any account (`python -m shared.backup`, `make backup`, `make restore`)."""
