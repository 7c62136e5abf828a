"""Usage analytics: calls counted as they happen into per-window aggregates, merged when read."""
