"""Two shops on one machine, and a shop without the `demo` extra: both fail loudly, at once."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from breadcrumbs.demo.extra import install_command
from breadcrumbs.demo.services import SERVICES
from breadcrumbs.demo.shop import Shop, ShopError, start_shop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXIT_S = 60.0  # generous for a loaded 2-core machine; the point is "no shop started"


@pytest.fixture(scope="module")
def first_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    shop = start_shop(
        base_port=0,
        state_dir=tmp_path_factory.mktemp("first-shop"),
        env={"OTEL_TRACES_EXPORTER": "none"},
    )
    try:
        yield shop
    finally:
        shop.stop()


def test_each_service_answers_health_with_its_own_pid(first_shop: Shop) -> None:
    # wait_ready counts a service healthy only when its own pid answers on its port.
    for name, port in first_shop.ports.items():
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert health == {"status": "ok", "pid": first_shop.services[name]}


def test_a_second_shop_on_taken_ports_names_them_and_starts_nothing(
    first_shop: Shop, tmp_path: Path
) -> None:
    gateway = first_shop.ports["gateway"]
    with pytest.raises(ShopError, match=rf"ports? {gateway} \(gateway\).* already in use") as error:
        start_shop(base_port=gateway, state_dir=tmp_path)
    assert "--base-port" in str(error.value)
    assert not (tmp_path / "logs" / "zygote.log").exists()  # no process was started


def test_demo_run_on_a_taken_port_exits_at_once_with_the_reason(first_shop: Shop) -> None:
    gateway = first_shop.ports["gateway"]
    before = first_shop.log("gateway")
    done = subprocess.run(
        [sys.executable, "-m", "breadcrumbs", "demo", "run", "--rate", "50"],
        env={**os.environ, "BREADCRUMBS_DEMO_BASE_PORT": str(gateway), "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=EXIT_S,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"{gateway} (gateway)" in out
    assert "already in use" in out
    assert first_shop.log("gateway") == before
    assert not first_shop.exited()


def _server_only_site(root: Path) -> Path:
    """A copy of this environment's packages as a plain `pip install breadcrumbs` leaves it:
    opentelemetry-proto, but no SDK, exporters or instrumentations (symlinks, no copies)."""
    site = Path(sysconfig.get_paths()["purelib"])
    dest = root / "site"
    (dest / "opentelemetry").mkdir(parents=True)
    for entry in site.iterdir():
        name = entry.name
        if name == "opentelemetry":
            (dest / name / "proto").symlink_to(entry / "proto")
        elif name.startswith("opentelemetry_") and not name.startswith("opentelemetry_proto-"):
            continue
        elif not name.endswith(".pth"):
            (dest / name).symlink_to(entry)
    return dest


def test_demo_run_without_the_extra_stops_at_once_with_the_pip_line(tmp_path: Path) -> None:
    site = _server_only_site(tmp_path)
    src = Path(__file__).resolve().parents[2] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": f"{src}{os.pathsep}{site}",
        "COLUMNS": "80",  # narrower than the pip line: it must still come out on one line
    }
    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import opentelemetry.sdk"], env=env, capture_output=True
    )
    assert probe.returncode != 0, "the stripped environment still has the SDK"
    done = subprocess.run(
        [sys.executable, "-S", "-m", "breadcrumbs", "demo", "run", "--base-port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_S,
        cwd=tmp_path,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "needs the `demo` extra" in out
    assert "opentelemetry.instrumentation.asgi" in out
    assert install_command() in out.splitlines()[-1]
    assert "-m pip install" in install_command()
    assert "[demo]" in install_command()
    assert "starting" not in out
    assert len(SERVICES) > 0
