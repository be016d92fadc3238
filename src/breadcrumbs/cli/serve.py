"""``breadcrumbs serve``: one flag per ``Settings`` field, read by ``config``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Optional

import typer

from breadcrumbs.cli.app import app, err_console
from breadcrumbs.config import (
    SETTING_NAMES,
    ConfigError,
    load_settings,
    setting_help,
    setting_type,
)
from breadcrumbs.sampling.tail import config as tail_sampling


def _serve(**flags: Any) -> None:
    config_file: Path | None = flags.pop("config")
    try:
        settings = load_settings(flags, config_file=config_file)
        tail_sampling.from_settings(settings.tail_sampling_rate, settings.tail_sampling_policy)
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from None
    from breadcrumbs.server import serve  # imports every component; only `serve` needs them

    try:
        serve(settings)
    except OSError as error:
        err_console.print(f"[red]breadcrumbs: {error}[/red]")
        raise typer.Exit(1) from None


def _serve_signature() -> inspect.Signature:
    params = [
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, "--config", help="TOML file of settings."),
            annotation=Optional[Path],  # noqa: UP045 (typer reads the annotation at runtime)
        )
    ]
    for name in SETTING_NAMES:
        flag = "--" + name.replace("_", "-")
        is_bool = setting_type(name) is bool
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(
                    None,
                    f"{flag}/--no-{flag[2:]}" if is_bool else flag,
                    help=f"{setting_help(name)} \\[env: BREADCRUMBS_{name.upper()}]",
                ),
                # strings are parsed by config, with their units
                annotation=Optional[bool] if is_bool else Optional[str],  # noqa: UP045
            )
        )
    return inspect.Signature(params)


_serve.__signature__ = _serve_signature()  # type: ignore[attr-defined]
_serve.__doc__ = (
    "Run the server: OTLP gRPC/HTTP and Zipkin in, Jaeger and Zipkin APIs out.\n\n"
    "Every flag also reads BREADCRUMBS_<FLAG> and the --config TOML file "
    "(flag > environment > file > default)."
)
app.command("serve")(_serve)
