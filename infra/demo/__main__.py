"""`python -m infra.demo NAME --port N`: run one demo upstream on 127.0.0.1."""

from __future__ import annotations

import argparse

import uvicorn

from infra.demo.servers import BUILDERS, WRAPPERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(BUILDERS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = BUILDERS[args.name]().streamable_http_app()
    if args.name in WRAPPERS:
        app = WRAPPERS[args.name](app)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
