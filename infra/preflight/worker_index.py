"""Index a Function App with the Functions Python worker's own code; print what it indexed as JSON.

    python worker_index.py <worker packages> <app folder>

Runs what the worker runs when the host starts it (`handle_event.worker_init_request`): it loads
the binding registry, then `load_function_metadata`, which imports the script (PYTHON_SCRIPT_FILE_NAME,
default function_app.py), finds the app and registers each function in the worker's registry. Only the gRPC
message classes are replaced: by plain records with the enum values of FunctionRpc.proto, since the
host's protobuf module is not part of the worker package. Exit status 1 with the worker's error.
"""

from __future__ import annotations

import json
import sys
from typing import Any


class _Record:
    def __init__(self, **fields: Any) -> None:
        self.fields = fields


class _BindingInfo(_Record):
    # FunctionRpc.proto: BindingInfo.Direction and BindingInfo.DataType
    out, inout = 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3


class _Protos:
    BindingInfo = _BindingInfo
    RpcFunctionMetadata = _Record
    RpcRetryOptions = _Record


def main(worker: str, app: str) -> int:
    sys.path[:0] = [worker, app]
    # Imported from the path set just above: the worker's own modules.
    from azure_functions_runtime import handle_event
    from azure_functions_runtime.bindings import meta

    handle_event.protos = _Protos  # what the host hands the worker in its init request
    meta.load_binding_registry()  # as handle_event.worker_init_request does, then:
    handle_event.load_function_metadata(app, caller_info="preflight")
    listed = []
    for record in handle_event._metadata_result or []:
        bindings = [json.loads(raw) for raw in record.fields["raw_bindings"]]
        trigger = next(b for b in bindings if str(b.get("type", "")).endswith("Trigger"))
        name = record.fields["name"]
        methods = [str(m) for m in trigger.get("methods") or []]
        listed.append(
            {"name": name, "trigger": trigger["type"], "route": trigger.get("route") or name, "methods": methods}
        )
    sys.stdout.write(json.dumps(listed))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
