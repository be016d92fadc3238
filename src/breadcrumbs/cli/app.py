"""The one ``typer`` application every command module registers on, and its console."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from breadcrumbs import __version__

app = typer.Typer(
    name="breadcrumbs",
    help="A self-hosted distributed tracing system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold request bodies or secrets
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"breadcrumbs {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """breadcrumbs: follow a request through every service it touched."""
