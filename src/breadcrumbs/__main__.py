"""``python -m breadcrumbs``: the same as the ``breadcrumbs`` command."""

from breadcrumbs.cli import app

app(prog_name="breadcrumbs")
