"""Measure the shop's memory and CPU under steady traffic (Linux /proc).

    python -m breadcrumbs.demo.footprint --otlp-endpoint http://127.0.0.1:4318 --rate 2

Prints RSS and PSS (shared pages split between processes, the honest sum) per service and
in total, and CPU as a percentage of one core over the measuring window.
"""

from __future__ import annotations

import argparse
import os
import time

from breadcrumbs.demo.shop import DEFAULT_RATE, start_shop
from breadcrumbs.procfs import cpu_seconds, kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--otlp-endpoint", default=None)
    parser.add_argument("--protocol", default="http", choices=["http", "grpc"])
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()

    with start_shop(otlp_endpoint=args.otlp_endpoint, protocol=args.protocol, base_port=0) as shop:
        load = shop.start_load(rate=args.rate, seed=1)
        time.sleep(args.warmup)
        pids = shop.pids()
        pids["(supervisor + load generator)"] = os.getpid()
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(args.window)
        cpu = {
            name: (cpu_seconds(pid) - before[name]) / args.window * 100
            for name, pid in pids.items()
        }
        rss = {name: kib(pid, "status", "VmRSS") for name, pid in pids.items()}
        pss = {name: kib(pid, "smaps_rollup", "Pss") for name, pid in pids.items()}
        stats = shop.stop_load()
    print(f"rate {args.rate:g}/s, window {args.window:g} s: {stats.line() if stats else load}")
    print(f"{'process':32} {'RSS MiB':>8} {'PSS MiB':>8} {'CPU %':>6}")
    for name in pids:
        print(f"{name:32} {rss[name] / 1024:8.1f} {pss[name] / 1024:8.1f} {cpu[name]:6.1f}")
    print(
        f"{'total (' + str(len(pids)) + ' processes)':32} {sum(rss.values()) / 1024:8.1f} "
        f"{sum(pss.values()) / 1024:8.1f} {sum(cpu.values()):6.1f}"
    )


if __name__ == "__main__":
    main()
