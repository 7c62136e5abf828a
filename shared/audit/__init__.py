"""The audit trail: append-only, hash-chained records of who did what, kept for a set period."""
