"""Run one shop service alone (for debugging): ``python -m breadcrumbs.demo.service NAME PORT``.

The shop itself forks its services from `breadcrumbs.demo.zygote`."""

from __future__ import annotations

import sys

from breadcrumbs.demo.runtime import serve
from breadcrumbs.demo.services import SERVICES, UNTRACED, builder


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in SERVICES:
        raise SystemExit(f"usage: python -m breadcrumbs.demo.service {{{','.join(SERVICES)}}} PORT")
    serve(args[0], int(args[1]), builder(args[0]), traced=args[0] not in UNTRACED)


if __name__ == "__main__":
    main()
