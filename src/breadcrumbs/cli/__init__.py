"""The ``breadcrumbs`` command.

``app`` is one typer application (``cli/app.py``); each module registers its commands on it:
``serve`` runs the server, most others are clients of a running server's HTTP API
(``cli/client.py`` says how they find it); ``export``, ``import`` and ``migrate`` can also
open a stopped server's store themselves (``cli/offline.py``). Adding a command is a module
here and one import.
"""

from __future__ import annotations

from breadcrumbs.cli import doctor, explain, migrate, portability, serve, top, traces, why
from breadcrumbs.cli.app import app
from breadcrumbs.cli.client import format_duration
from breadcrumbs.cli.traces import waterfall

__all__ = ["app", "format_duration", "waterfall"]

_COMMAND_MODULES = (
    serve,
    traces,
    explain,
    why,
    doctor,
    top,
    portability,
    migrate,
)  # imported for their registrations


def _mount_demo() -> None:
    """``breadcrumbs demo ...``, when the ``demo`` extra (its instrumentations) is installed."""
    try:
        from breadcrumbs.demo.cli import demo_app
    except ImportError:  # a server-only install: the command simply is not there
        return
    app.add_typer(demo_app, name="demo")


_mount_demo()
