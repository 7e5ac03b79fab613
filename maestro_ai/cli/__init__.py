"""The ``maestro`` command. Each subcommand module wires one library function; errors print without a traceback."""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from rich.console import Console

from maestro_core.errors import MaestroError

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
    "maestro_ai.cli.delivery_cmds",
    "maestro_ai.cli.review_cmds",
    "maestro_ai.cli.engines_cmds",
)


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import failure inside the module, not a module yet to be written
                raise


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"maestro {version('maestro-ai')}")
        except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
            typer.echo("maestro (not installed)")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                       callback=_version)) -> None:
    """Maestro: AI music catalogs, generated and accounted for."""


ExceptionTypes = tuple[type[BaseException], ...]


def _click_exception_types() -> tuple[ExceptionTypes, ExceptionTypes, ExceptionTypes]:
    """(ClickException, Abort, Exit) classes of every click the installed typer may raise.

    typer 0.29 bundles its own click (``typer._click``) whose exception classes are not subclasses of
    ``click.exceptions``; older typers raise click's own. Both are caught, whichever is installed.
    """
    modules = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    pick = lambda attr: tuple(getattr(m, attr) for m in modules if hasattr(m, attr))  # noqa: E731
    return pick("ClickException"), pick("Abort"), pick("Exit")


def _error(message: str) -> None:
    for line in str(message).splitlines() or [""]:
        err_console.print(f"[bold red]error:[/] {line}", markup=True, highlight=False)


def run(argv: list[str] | None = None) -> int:
    """Runs the app and returns the exit status; no error reaches the user as a traceback.

    * 0: the work was done;
    * 2: bad input or configuration (usage errors, InputError, ConfigError, preflight): one line per problem,
      naming the field;
    * 1: the work failed (a run over its failure budget, a warehouse or storage operation that failed, an
      unexpected error); one line saying why.
    """
    from maestro_core.errors import ConfigError, InputError
    from maestro_core.failure_budget import BudgetExceeded
    from maestro_pipeline.preflight import PreflightFailed

    click_errors, aborts, exits = _click_exception_types()
    _load_commands()
    try:
        code = app(args=argv, standalone_mode=False, prog_name="maestro")
        return code if isinstance(code, int) else 0
    except BudgetExceeded as exc:
        _error(f"run failed: {exc}")
        for cause in exc.verdict.causes:
            err_console.print(f"  {cause.count} x {cause.error}: {cause.message}", markup=False, highlight=False)
        return 1
    except PreflightFailed as exc:  # configuration (2), or a service that did not answer (1)
        _error(str(exc))
        return 1 if exc.retryable else 2
    except (ConfigError, InputError) as exc:
        _error(str(exc))
        return 2
    except MaestroError as exc:  # the operation failed (warehouse, storage): not the user's input
        _error(str(exc))
        return 1
    except ValueError as exc:  # user-input errors from libraries we call name their field too
        _error(str(exc))
        return 2
    except click_errors as exc:  # usage errors: a bad flag, a missing argument, no command (help is shown)
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except aborts:
        return 130
    except exits as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _error(f"{where}{exc.strerror or exc}")
        return 1
    except Exception as exc:  # a bug: one line here, the traceback in the log at DEBUG
        logging.getLogger("maestro_ai.cli").debug("unexpected error", exc_info=True)
        _error(f"internal error {type(exc).__name__}: {exc} (MAESTRO_LOG_LEVEL=DEBUG shows the traceback)")
        return 1


def main(argv: list[str] | None = None) -> None:
    """Console entry point: configures logging, runs the app and exits with :func:`run`'s status."""
    import os

    from maestro_core.config import LOG_LEVELS
    from maestro_core.logs import configure_logging

    level = os.environ.get("MAESTRO_LOG_LEVEL", "WARNING").upper()
    if level not in LOG_LEVELS:
        _error(f"MAESTRO_LOG_LEVEL: {level!r} is not a log level (accepted: {', '.join(LOG_LEVELS)})")
        sys.exit(2)
    configure_logging(level)
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
