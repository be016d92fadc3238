"""Entry point of one shop service process: ``python -m breadcrumbs.demo.service NAME PORT``."""

from __future__ import annotations

import sys

from breadcrumbs.demo.runtime import serve
from breadcrumbs.demo.services import SERVICES, builder


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in SERVICES:
        raise SystemExit(f"usage: python -m breadcrumbs.demo.service {{{','.join(SERVICES)}}} PORT")
    serve(args[0], int(args[1]), builder(args[0]))


if __name__ == "__main__":
    main()
