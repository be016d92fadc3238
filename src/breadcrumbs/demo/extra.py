"""The shop needs the ``demo`` extra (the OpenTelemetry SDK, exporters, instrumentations).

Checked before anything starts: without it every service would fail at import, or worse,
a shop would run and export nothing. `missing()` names what is absent, `install_command()`
is the exact line that installs it into this interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["MODULES", "install_command", "missing", "missing_message"]

# What the services import from the extra: the zygote preloads these before forking.
MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.instrumentation.asgi",
    "opentelemetry.instrumentation.httpx",
    "opentelemetry.instrumentation.sqlite3",
)


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def missing() -> list[str]:
    return [module for module in MODULES if not _present(module)]


def _source_tree() -> Path | None:
    """The checkout this package is installed from in editable mode (or run from), if any."""
    try:
        direct_url = metadata.distribution("breadcrumbs").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct_url = None
    if direct_url:
        info = json.loads(direct_url)
        if info.get("dir_info", {}).get("editable") and info.get("url", "").startswith("file:"):
            return Path(unquote(urlparse(info["url"]).path))
        return None
    root = Path(__file__).resolve().parents[3]  # src/breadcrumbs/demo/extra.py
    return root if (root / "pyproject.toml").is_file() else None


def install_command() -> str:
    pip = f"{shlex.quote(sys.executable)} -m pip install"
    tree = _source_tree()
    if tree is not None:
        return f"{pip} -e {shlex.quote(f'{tree}[demo]')}"
    return f"{pip} 'breadcrumbs[demo]'"


def missing_message() -> str | None:
    """None when the shop can run; else what is missing and the line that installs it."""
    absent = missing()
    if not absent:
        return None
    return (
        f"the demo shop needs the `demo` extra (missing: {', '.join(absent)}). "
        f"Install it with:\n  {install_command()}"
    )
