#!/bin/sh
# The bridge in front of one stdio MCP server: npm mcp-proxy serving it over Streamable HTTP.
#
#   entrypoint.sh <server command> [args...]     (the container's args; locally, infra/stdio.py)
#
# - Stateless HTTP (--stateless): the bridge keeps no session, so any hub instance, in any region,
#   reaching any replica, is served; the one stdio process behind it is shared by every request.
# - Behind its own key: mcp-proxy answers 401 without `X-API-Key: $MCP_PROXY_API_KEY`. The key is
#   not passed on to the server's environment.
# - mcp-proxy keeps serving after its stdio process has exited, answering every call "Not
#   connected" until it is restarted. So the server runs under a shell that stops the bridge when
#   the server exits: the platform (Container Apps' restart policy; locally infra/stdio.py) starts
#   a fresh bridge and process, and the hub's next call after that is served again.
set -eu
: "${MCP_PROXY_API_KEY:?the bridge serves only behind its key: set MCP_PROXY_API_KEY}"
name="${MCPHUB_STDIO_NAME:-stdio}"
if [ "$#" -eq 0 ]; then
  echo "mcphub bridge ($name): no server command given" >&2
  exit 2
fi
# `npx -y <package> [args]`: npm exec would stay resident as the server's parent, ~100 MiB of Node
# doing nothing (make bench-stdio). Install the pinned package once instead (or find it already
# installed under BRIDGE_NPM_PREFIX, as locally) and start its command directly, as npx would.
if [ "$1" = npx ] && [ "${2:-}" = -y ] && [ "$#" -ge 3 ]; then
  package=$3
  shift 3
  npm_name=${package%@*}
  version=${package##*@}
  prefix=${BRIDGE_NPM_PREFIX:-$HOME/npm-servers}
  manifest="$prefix/node_modules/$npm_name/package.json"
  installed=$(node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch {}' "$manifest")
  if [ "$installed" != "$version" ]; then
    if [ "${BRIDGE_NPM_INSTALL:-yes}" = no ]; then
      echo "mcphub bridge ($name): $package is not installed under $prefix (found '${installed:-nothing}')" >&2
      exit 1
    fi
    npm install --prefix "$prefix" --no-save --no-fund --no-audit --loglevel=error "$package" >&2
  fi
  # The command npx runs: the bin named like the package (without its scope), else its only one.
  command=$(node -e '
    const p = require(process.argv[1]); const b = p.bin || {};
    const own = p.name.split("/").pop();
    process.stdout.write(typeof b === "string" ? own : (b[own] ? own : (Object.keys(b).length === 1 ? Object.keys(b)[0] : "")))
  ' "$manifest")
  if [ -z "$command" ]; then
    echo "mcphub bridge ($name): $package names no single command to start (give the entry a command)" >&2
    exit 1
  fi
  set -- "$prefix/node_modules/.bin/$command" "$@"
fi
exec mcp-proxy --host "${BRIDGE_HOST:-0.0.0.0}" --port "${PORT:-8080}" --server stream --stateless \
  --no-eventStore --connectionTimeout "${BRIDGE_CONNECT_TIMEOUT_MS:-60000}" -- \
  /bin/sh -c 'unset MCP_PROXY_API_KEY; "$@"; status=$?
echo "mcphub bridge ($0): the stdio server exited with status $status; stopping the bridge to be started afresh" >&2
kill -TERM "$PPID"; exit "$status"' "$name" "$@"
