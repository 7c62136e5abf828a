"""A small local Azure Functions host: serves `function_app.app`'s HTTP functions and fires its timers.

The Functions Core Tools cannot be installed everywhere this project runs, so this host mirrors
the documented behaviour of the real one for what the hub uses: `routePrefix` from host.json,
route templates with parameters, constraints, optional and catch-all segments, 404 for an
unknown route *and* for a method the function does not list (the real host does not send 405),
500 with an empty body for an unhandled exception, streamed responses (HTTP streaming model),
and timers on their NCRONTAB schedule with `run_on_startup`. `func start` stays the way to run
the same app under the real host.
"""
