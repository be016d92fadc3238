"""Readings of Linux ``/proc`` for a process and the processes under it.

The demo's footprint, ``bench/ingest.py`` (a server with its decode workers) and the decode
worker tests measure or find processes with these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["cpu_seconds", "descendants", "kib", "state"]

TICKS: Final = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces and
    parentheses): ``[0]`` is the state, ``[1]`` the parent's pid."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``, children before grandchildren (decode workers are
    grandchildren of the server, forked by the forkserver)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(_stat_fields(int(stat.parent.name))[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    tree = [pid]
    for parent in tree:
        tree.extend(child for child, of in parents.items() if of == parent)
    return tree[1:]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (all its threads)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def kib(pid: int, file: str, key: str) -> int:
    """A ``key: <n> kB`` line of ``/proc/<pid>/<file>`` (``status``: VmRSS, VmHWM;
    ``smaps_rollup``: Pss), or 0 when absent."""
    for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def state(pid: int) -> str | None:
    """The process's state letter (``R``, ``S``, ``Z`` ...), or None once it is gone."""
    try:
        return _stat_fields(pid)[0]
    except OSError:
        return None
