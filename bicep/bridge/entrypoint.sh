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
exec mcp-proxy --host "${BRIDGE_HOST:-0.0.0.0}" --port "${PORT:-8080}" --server stream --stateless \
  --no-eventStore --connectionTimeout "${BRIDGE_CONNECT_TIMEOUT_MS:-60000}" -- \
  /bin/sh -c 'unset MCP_PROXY_API_KEY; "$@"; status=$?
echo "mcphub bridge ($0): the stdio server exited with status $status; stopping the bridge to be started afresh" >&2
kill -TERM "$PPID"; exit "$status"' "$name" "$@"
