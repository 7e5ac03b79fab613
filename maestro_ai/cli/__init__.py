"""The ``maestro`` command. Each subcommand module wires one library function; errors print without a traceback."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from maestro_ai.errors import MaestroError

app = typer.Typer(name="maestro", help="Maestro: AI music catalogs, generated and accounted for.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
err_console = Console(stderr=True, soft_wrap=True)

# Each module registers its commands on `app` when imported. Add new command modules here.
COMMAND_MODULES = (
    "maestro_ai.cli.warehouse_cmds",
    "maestro_ai.cli.generate_cmds",
    "maestro_ai.cli.rights_cmds",
    "maestro_ai.cli.pipeline_cmds",
    "maestro_ai.cli.royalty_cmds",
)


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import failure inside the module, not a module yet to be written
                raise


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the app and turns Maestro's errors into one red line and exit code 2."""
    import os

    from maestro_ai.logs import configure_logging

    configure_logging(os.environ.get("MAESTRO_LOG_LEVEL", "WARNING").upper())
    _load_commands()
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except MaestroError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except ValueError as exc:  # user-input errors from libraries we call name their field too
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:  # click's own usage errors and aborts
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
