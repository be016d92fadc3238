"""``python -m breadcrumbs.cli``."""

from breadcrumbs.cli import app

app()
