"""``breadcrumbs demo``: run the kale smoothie shop and switch its fault scenarios.

Mounted by the main command as ``app.add_typer(demo_app, name="demo")``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from breadcrumbs.demo.scenarios import SCENARIOS, validate
from breadcrumbs.demo.shop import (
    BASE_PORT_ENV,
    DEFAULT_BASE_PORT,
    DEFAULT_RATE,
    ShopError,
    default_base_port,
    run_shop,
)

__all__ = ["demo_app"]


def _default_gateway() -> str:
    """Where `demo run` puts the gateway with the same environment (18080 unless
    BREADCRUMBS_DEMO_BASE_PORT names another port)."""
    try:
        port = default_base_port()
    except ShopError:
        port = DEFAULT_BASE_PORT  # `demo run` reports the bad value
    return f"http://127.0.0.1:{port or DEFAULT_BASE_PORT}"


DEFAULT_GATEWAY = _default_gateway()

demo_app = typer.Typer(
    help="The kale smoothie shop: 14 services, steady customers, classic failures.",
    no_args_is_help=True,
    add_completion=False,
)
scenario_app = typer.Typer(help="Show or switch the running shop's fault scenarios.")
demo_app.add_typer(scenario_app, name="scenario")
console = Console()


class Protocol(StrEnum):
    grpc = "grpc"
    http = "http"


GatewayOption = Annotated[
    str,
    typer.Option("--gateway", envvar="BREADCRUMBS_DEMO_GATEWAY", help="The shop's gateway URL."),
]


def _scenario_help() -> str:
    return "Fault to inject (repeatable): " + ", ".join(SCENARIOS)


@demo_app.command()
def run(
    rate: Annotated[
        float, typer.Option(help="Customer requests per second.", min=0.01)
    ] = DEFAULT_RATE,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", "-s", help=_scenario_help())
    ] = None,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(
            help="breadcrumbs' OTLP base URL (default: OTEL_EXPORTER_OTLP_ENDPOINT, else "
            "http://localhost:4318 for http, :4317 for grpc)."
        ),
    ] = None,
    protocol: Annotated[Protocol, typer.Option(help="OTLP transport.")] = Protocol.http,
    base_port: Annotated[
        int,
        typer.Option(
            envvar=BASE_PORT_ENV,
            min=0,
            help="Gateway port; the other services take the next ports (0: any free ones).",
        ),
    ] = DEFAULT_BASE_PORT,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
    sampling_endpoint: Annotated[
        str | None,
        typer.Option(
            help="Head sampling from breadcrumbs: its sampling API "
            "(http://localhost:5778); default: every trace is kept."
        ),
    ] = None,
) -> None:
    """Start every shop service and send steady customer traffic, with a live summary."""
    try:
        chosen = validate(scenario or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from exc
    try:
        stats = run_shop(
            rate=rate,
            scenarios=chosen,
            otlp_endpoint=otlp_endpoint,
            protocol=protocol.value,
            base_port=base_port,
            duration=duration,
            sampling_endpoint=sampling_endpoint,
        )
    except ShopError as exc:
        # Escaped and unwrapped: the message may hold a pip line with `[demo]` to paste.
        console.print(f"[red]shop failed to start:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(stats.line())


def _show(active: list[str]) -> None:
    table = Table(title="scenarios")
    table.add_column("scenario")
    table.add_column("active", justify="center")
    table.add_column("what it does")
    for name, text in SCENARIOS.items():
        table.add_row(name, "[bold red]on[/]" if name in active else "-", text)
    console.print(table)


def _request(method: str, gateway: str, body: object = None) -> list[str]:
    try:
        response = httpx.request(
            method, gateway.rstrip("/") + "/control/scenarios", json=body, timeout=10.0
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]no shop at {gateway}:[/] {exc}")
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}:[/] {response.text}")
        raise typer.Exit(1)
    active: list[str] = response.json()["active"]
    return active


@scenario_app.command("list")
def list_scenarios(gateway: GatewayOption = DEFAULT_GATEWAY) -> None:
    """Show every scenario and which are active."""
    _show(_request("GET", gateway))


@scenario_app.command("set")
def set_scenarios(
    names: Annotated[
        list[str] | None, typer.Argument(help="Scenarios to turn on; none turns all off.")
    ] = None,
    gateway: GatewayOption = DEFAULT_GATEWAY,
) -> None:
    """Replace the active scenarios (takes effect on the next request in every service)."""
    try:
        chosen = validate(names or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="NAMES") from exc
    _show(_request("PUT", gateway, {"scenarios": chosen}))
