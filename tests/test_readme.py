"""The README stays true: its configuration table is the one config.py generates."""

from pathlib import Path

from breadcrumbs.config import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_configuration_table_matches_the_settings() -> None:
    assert markdown_table().rstrip("\n") in README.read_text()


def test_the_two_commands_are_documented() -> None:
    text = README.read_text()
    assert "make run" in text
    assert "make test" in text
