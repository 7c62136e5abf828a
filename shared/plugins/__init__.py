"""Plugins: hooks around the upstream calls of the aggregated endpoint `/mcp` (never `/mcp/{server}`).

`api.py` is what a plugin author reads; `settings.py` reads `MCPHUB_PLUGIN_<NAME>__*`; `loader.py`
turns a setting into a running plugin; `chain.py` runs them in priority order, each under its
timeout and mode; `builtin/` holds the three that ship with the hub.
"""
