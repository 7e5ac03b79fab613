"""``maestro review serve|export``: the catalog review page (wiring only; the app is maestro_ai.review)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from maestro_ai.cli import app, err_console

review_app = typer.Typer(help="The catalog review page: listen, look, approve or hold before delivery.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def bind_warning(host: str, token_set: bool) -> str | None:
    """The warning for binding beyond loopback without a reviewer token, or None when there is nothing to warn of."""
    if is_loopback(host) or token_set:
        return None
    return (f"--host {host} serves the review pages beyond this machine without MAESTRO_REVIEW_TOKEN: anyone who "
            "can reach it reads the catalog (writes stay refused). Set MAESTRO_REVIEW_TOKEN and "
            "MAESTRO_REVIEW_TOKEN_FOR_READS=true, or bind 127.0.0.1.")


def review_url(run_id: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """The review page of one run on a running ``maestro review serve``."""
    from urllib.parse import quote

    return f"http://{host}:{port}/runs/{quote(run_id, safe='')}"


@review_app.command("serve")
def serve_cmd(host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")]
              = DEFAULT_HOST,
              port: Annotated[int, typer.Option("--port", help="TCP port (1..65535).")] = DEFAULT_PORT) -> None:
    """Serve the review pages: runs, a run's tracks (listen, look, approve or hold), rejections, royalties.

    Writes need MAESTRO_REVIEW_TOKEN (log in at /login, or send `Authorization: Bearer <token>`); with
    MAESTRO_REVIEW_TOKEN_FOR_READS=true reads need it too. Exits 2 on bad settings, naming the setting.
    """
    import uvicorn

    from maestro_ai.review import create_app
    from maestro_core.config import load_settings
    from maestro_core.errors import InputError

    if not 1 <= port <= 65535:
        raise InputError("--port", f"{port} is not a TCP port (1..65535)")
    settings = load_settings()
    warning = bind_warning(host, settings.review_token is not None)
    if warning:
        err_console.print(f"[bold yellow]warning:[/] {warning}", markup=True, highlight=False)
    if settings.review_token is None:
        err_console.print("note: no MAESTRO_REVIEW_TOKEN is set, so the pages are read-only", highlight=False)
    application = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"serving the review pages on http://{shown}:{port}/ (Ctrl-C stops)")
    uvicorn.run(application, host=host, port=port, log_level="warning", server_header=False)


@review_app.command("export")
def export_cmd(run: Annotated[str, typer.Option("--run", help="The run to export (a RUN_ID from the runs page).")],
               out: Annotated[Path, typer.Option("--out", help="Directory to write (created; an earlier export "
                                                               "there is replaced).")]) -> None:
    """Write one run's page as static HTML with its audio, thumbnails and provenance beside it (relative links)."""
    from maestro_ai.review import export_run
    from maestro_core.config import load_settings
    from maestro_core.errors import InputError

    settings = load_settings()
    try:
        result = export_run(settings, run, out)
    except InputError as exc:
        flag = {"run_id": "--run", "out": "--out"}.get(exc.field, exc.field)
        raise InputError(flag, str(exc).removeprefix(f"{exc.field}: ")) from None
    typer.echo(f"exported {result.tracks} tracks of {result.run_id} ({result.bytes / 1e6:.1f} MB) to {result.index}")
