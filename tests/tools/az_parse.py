"""Parse `az` command lines with the Azure CLI's own argument definitions, executing nothing.

Run by the Azure CLI's Python (.venv-azcli, `make deps`): reads a JSON list of argv lists on
stdin, prints {"parsed": n, "refused": [{"argv": [...], "error": "..."}]} and exits 1 when any
was refused (an unknown command, a misspelled flag, a missing required argument, a bad choice).
The steps are those of the CLI's own invoker (azure.cli.core.commands.AzCliCommandInvoker.execute)
up to the point where it would run the command.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from azure.cli.core import get_default_cli


def refusal(cli, argv):
    invocation = cli.invocation_cls(
        cli_ctx=cli, parser_cls=cli.parser_cls, commands_loader_cls=cli.commands_loader_cls, help_cls=cli.help_cls
    )
    cli.invocation = invocation
    loader = invocation.commands_loader
    loader.load_command_table(argv)
    command = invocation._rudimentary_get_command(argv)
    invocation.data["command_string"] = command
    loader.command_name = command
    loader.load_arguments(command)
    invocation.parser.cli_ctx = cli
    invocation.parser.load_command_table(loader)
    cli.raise_event("CommandInvoker.OnPreParseArgs", args=argv)
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            invocation.parser.parse_args(argv)
    except SystemExit:
        return errors.getvalue().strip().splitlines()[0] if errors.getvalue().strip() else "refused"
    return None


def main():
    cli = get_default_cli()
    calls = json.loads(sys.stdin.read())
    refused = []
    for argv in calls:
        error = refusal(cli, list(argv))
        if error is not None:
            refused.append({"argv": argv, "error": error})
    sys.stdout.write(json.dumps({"parsed": len(calls), "refused": refused}))
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
