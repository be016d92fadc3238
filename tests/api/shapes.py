"""JSON shapes for the golden-file tests: keys and value types, with the items of every list
merged, so a response matches a documented example key-for-key and type-for-type without
matching its ids, times or counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> Any:
    data = json.loads((GOLDEN / name).read_text())
    data.pop("_source", None)
    return data


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _add(shape: dict[str, Any], value: Any) -> None:
    kind = _type(value)
    if kind == "object":
        fields = shape.setdefault("object", {})
        for key, item in value.items():
            _add(fields.setdefault(key, {}), item)
    elif kind == "array":
        items = shape.setdefault("array", {})
        for item in value:
            _add(items, item)
    else:
        shape.setdefault("scalars", set()).add(kind)


def _plain(shape: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "scalars" in shape:
        out["scalars"] = sorted(shape["scalars"])
    if "object" in shape:
        out["object"] = {key: _plain(sub) for key, sub in sorted(shape["object"].items())}
    if "array" in shape:
        out["array"] = _plain(shape["array"])
    return out


def shape(value: Any) -> dict[str, Any]:
    """Keys and types of ``value``; list items are merged into one shape."""
    merged: dict[str, Any] = {}
    _add(merged, value)
    return _plain(merged)


def conforms(value: Any, documented: Any) -> list[str]:
    """Where ``value`` has a key the documented example lacks, or another type for it
    (optional keys may be missing from ``value``)."""
    problems: list[str] = []

    def walk(ours: dict[str, Any], theirs: dict[str, Any], path: str) -> None:
        for scalar in ours.get("scalars", []):
            if scalar not in theirs.get("scalars", []):
                problems.append(f"{path}: {scalar} not in {theirs.get('scalars')}")
        if "object" in ours:
            if "object" not in theirs:
                problems.append(f"{path}: object where none is documented")
            else:
                for key, sub in ours["object"].items():
                    if key not in theirs["object"]:
                        problems.append(f"{path}.{key}: undocumented key")
                    else:
                        walk(sub, theirs["object"][key], f"{path}.{key}")
        if "array" in ours:
            if "array" not in theirs:
                problems.append(f"{path}: array where none is documented")
            else:
                walk(ours["array"], theirs["array"], f"{path}[]")

    walk(shape(value), shape(documented), "$")
    return problems
