"""The write-ahead log: group commit, replay, torn tails, a real SIGKILL."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.model import SpanBatch
from breadcrumbs.pipeline.wal import (
    MAGIC,
    RECORD_HEADER,
    SEGMENT_HEADER,
    WalFormatError,
    WriteAheadLog,
)
from breadcrumbs.selfmetrics import SelfMetrics

from .support import make_batch


def start_child(mode: str, directory: Path) -> subprocess.Popen[str]:
    """``crash_child`` in its own process, printing one line per acknowledged batch."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.crash_child", mode, str(directory)],
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )


def acks_then_sigkill(mode: str, directory: Path, count: int) -> list[list[str]]:
    """Runs ``crash_child`` until it has acknowledged ``count`` batches, then SIGKILLs it
    mid-stream; each ack line's words after the first (the child prints ``ack TAG ...``)."""
    child = start_child(mode, directory)
    assert child.stdout is not None
    acks: list[list[str]] = []
    try:
        for line in child.stdout:
            acks.append(line.split()[1:])
            if len(acks) == count:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert len(acks) == count
    return acks


def replay_all(directory: Path, after: int = 0) -> list[tuple[int, SpanBatch]]:
    return list(WriteAheadLog(directory).replay(after))


async def write_records(
    directory: Path, count: int, segment_bytes: int = 64 << 20
) -> list[SpanBatch]:
    """``count`` records, one group commit each, then closed."""
    wal = WriteAheadLog(directory, segment_bytes=segment_bytes)
    batches = [make_batch(tag) for tag in range(count)]
    for batch in batches:
        await wal.append(batch)
    await wal.close()
    return batches


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


async def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    metrics = SelfMetrics()
    wal = WriteAheadLog(tmp_path, metrics=metrics)
    for _ in wal.replay():
        pass
    batches = [make_batch(tag) for tag in range(50)]
    sequences = await asyncio.gather(*(wal.append(batch) for batch in batches))
    await wal.close()

    assert sorted(sequences) == list(range(1, 51))
    assert wal.fsyncs <= 5
    assert metrics.registry.get_sample_value("breadcrumbs_wal_group_commit_records_sum") == 50
    assert metrics.registry.get_sample_value("breadcrumbs_wal_group_commit_records_count") == (
        wal.fsyncs
    )
    replayed = dict(replay_all(tmp_path))
    for sequence, batch in zip(sequences, batches, strict=True):
        assert replayed[sequence].equals(batch)


async def test_segments_rotate_release_and_sequences_continue(tmp_path: Path) -> None:
    batches = await write_records(tmp_path, 6, segment_bytes=1)  # a segment per record
    assert len(segments(tmp_path)) == 6

    wal = WriteAheadLog(tmp_path, segment_bytes=1)
    assert [s for s, _ in wal.replay(after=2)] == [3, 4, 5, 6]
    wal.release_through(4)
    assert [p.name for p in segments(tmp_path)] == [
        "00000000000000000005.wal",
        "00000000000000000006.wal",
    ]
    wal.release_through(100)  # the last segment stays: it carries the next sequence
    assert len(segments(tmp_path)) == 1
    assert await wal.append(make_batch(99)) == 7
    await wal.close()

    replayed = replay_all(tmp_path)
    assert [s for s, _ in replayed] == [6, 7]
    assert replayed[0][1].equals(batches[5])


async def test_a_released_segment_goes_at_the_next_append_at_low_volume(tmp_path: Path) -> None:
    # Records far below the 64 MiB segment size: only released_segment_bytes rotates.
    wal = WriteAheadLog(tmp_path, released_segment_bytes=1)
    for _ in wal.replay():
        pass
    assert await wal.append(make_batch(1)) == 1
    assert await wal.append(make_batch(2)) == 2
    wal.release_through(1)  # not every record is in the store: keep appending to it
    assert await wal.append(make_batch(3)) == 3
    assert len(segments(tmp_path)) == 1
    wal.release_through(3)
    assert await wal.append(make_batch(4)) == 4  # into a new segment
    wal.release_through(3)
    assert [p.name for p in segments(tmp_path)] == ["00000000000000000004.wal"]
    await wal.close()
    assert [s for s, _ in replay_all(tmp_path)] == [4]


async def test_store_ahead_of_the_log_moves_sequences_on(tmp_path: Path) -> None:
    await write_records(tmp_path, 3)
    wal = WriteAheadLog(tmp_path)
    assert list(wal.replay(after=10)) == []
    assert await wal.append(make_batch(1)) == 11
    await wal.close()
    assert [s for s, _ in replay_all(tmp_path)] == [1, 2, 3, 11]


def record_offsets(path: Path) -> list[int]:
    """Where each record of a segment starts, and the file's end."""
    data = path.read_bytes()
    offsets = [SEGMENT_HEADER.size]
    while offsets[-1] < len(data):
        length = RECORD_HEADER.unpack_from(data, offsets[-1])[0]
        offsets.append(offsets[-1] + RECORD_HEADER.size + length)
    return offsets


@pytest.mark.parametrize(
    ("cut", "garbage"),
    [
        (1, b""),  # one byte of the last record's header
        (RECORD_HEADER.size, b""),  # the whole header, no payload
        (RECORD_HEADER.size + 100, b""),  # part of the payload
        (-1, b""),  # all but the last byte
        (0, b"\x00" * 64),  # a zero-filled tail
        (0, b"\xff" * 5),  # a few garbage bytes
        (-7, os.urandom(300)),  # a short record followed by noise
    ],
)
async def test_torn_tail_is_cut_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cut: int, garbage: bytes
) -> None:
    batches = await write_records(tmp_path, 5)
    [path] = segments(tmp_path)
    offsets = record_offsets(path)
    if garbage and cut == 0:
        keep = offsets[-1]  # all five records intact, then garbage
    else:
        keep = offsets[-2] + cut if cut > 0 else offsets[-1] + cut
    with path.open("r+b") as f:
        f.truncate(keep)
        f.seek(keep)
        f.write(garbage)
    intact = 5 if keep == offsets[-1] else 4

    with caplog.at_level(logging.WARNING, logger="breadcrumbs.pipeline.wal"):
        wal = WriteAheadLog(tmp_path)
        replayed = list(wal.replay())
    assert [s for s, _ in replayed] == list(range(1, intact + 1))
    assert all(b.equals(batches[s - 1]) for s, b in replayed)
    assert "cutting the log off" in caplog.text

    assert await wal.append(make_batch(42)) == intact + 1
    await wal.close()
    after = replay_all(tmp_path)
    assert [s for s, _ in after] == list(range(1, intact + 2))
    assert after[-1][1].equals(make_batch(42))


async def test_corrupt_record_in_the_middle_stops_replay_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await write_records(tmp_path, 4, segment_bytes=3 * 8192)  # records 1-4 in one segment...
    wal = WriteAheadLog(tmp_path, segment_bytes=1)
    for _ in wal.replay():
        pass
    await wal.append(make_batch(5))  # ...and 5 in the next
    await wal.close()
    first, second = segments(tmp_path)
    offsets = record_offsets(first)
    data = bytearray(first.read_bytes())
    data[offsets[2] + RECORD_HEADER.size + 50] ^= 0xFF  # a payload byte of record 3
    first.write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING, logger="breadcrumbs.pipeline.wal"):
        wal = WriteAheadLog(tmp_path)
        assert [s for s, _ in wal.replay()] == [1, 2]
    assert "checksum mismatch" in caplog.text
    assert not second.exists()
    assert second.with_name(second.name + ".corrupt").exists()  # kept for inspection
    assert await wal.append(make_batch(6)) == 3
    await wal.close()


async def test_torn_segment_header_is_dropped(tmp_path: Path) -> None:
    await write_records(tmp_path, 2)
    (tmp_path / "00000000000000000003.wal").write_bytes(MAGIC[:5])  # crash while rotating
    wal = WriteAheadLog(tmp_path)
    assert [s for s, _ in wal.replay()] == [1, 2]
    assert await wal.append(make_batch(3)) == 3
    await wal.close()


async def test_a_newer_format_refuses_to_start(tmp_path: Path) -> None:
    await write_records(tmp_path, 1)
    [path] = segments(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(MAGIC)] = 99  # the version field
    path.write_bytes(bytes(data))
    with pytest.raises(WalFormatError, match="version 99"):
        replay_all(tmp_path)
    assert path.read_bytes() == bytes(data)  # untouched


def test_sigkill_after_ack_loses_nothing(tmp_path: Path) -> None:
    acked = {int(sequence): int(tag) for tag, sequence in acks_then_sigkill("wal", tmp_path, 400)}
    assert len(acked) == 400  # every ack named its own sequence
    assert len(segments(tmp_path)) > 1

    replayed = dict(replay_all(tmp_path))
    for sequence, tag in acked.items():
        assert replayed[sequence].equals(make_batch(tag, spans=1 + tag % 7))


@dataclass(frozen=True)
class Pristine:
    data: bytes

    def __repr__(self) -> str:  # hypothesis prints failing examples
        return f"Pristine({len(self.data)} bytes)"


@pytest.fixture(scope="module")
def pristine_segment(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    """The bytes of a segment holding records 1-4 (tags 0-3)."""
    directory = tmp_path_factory.mktemp("pristine")
    asyncio.run(write_records(directory, 4))
    [path] = segments(directory)
    return Pristine(path.read_bytes())


@settings(max_examples=40, deadline=None)
@given(keep=st.integers(min_value=0), tail=st.binary(max_size=200), flip=st.integers(min_value=0))
def test_any_damage_yields_an_intact_prefix(
    pristine_segment: Pristine, keep: int, tail: bytes, flip: int
) -> None:
    pristine = pristine_segment.data
    data = bytearray(pristine[: keep % (len(pristine) + 1)] + tail)
    if flip % 3 == 0 and len(data) > SEGMENT_HEADER.size:  # and sometimes one flipped bit
        data[SEGMENT_HEADER.size + flip % (len(data) - SEGMENT_HEADER.size)] ^= 0x10
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "00000000000000000001.wal").write_bytes(bytes(data))
        wal = WriteAheadLog(directory)
        if len(data) >= SEGMENT_HEADER.size and data.startswith(MAGIC):
            version = SEGMENT_HEADER.unpack_from(data)[1]
            if version > 1:  # reads as a newer format: refuses rather than cuts
                with pytest.raises(WalFormatError):
                    list(wal.replay())
                return
        replayed = list(wal.replay())
        assert [s for s, _ in replayed] == list(range(1, len(replayed) + 1))
        assert all(batch.equals(make_batch(s - 1)) for s, batch in replayed)
        assert asyncio.run(close_after(wal, wal.append(make_batch(9)))) == len(replayed) + 1
        assert [s for s, _ in replay_all(directory)] == list(range(1, len(replayed) + 2))


async def close_after(wal: WriteAheadLog, append: Coroutine[Any, Any, int]) -> int:
    sequence = await append
    await wal.close()
    return sequence


FULL_DISK_CHILD = """
import asyncio, resource, signal, sys
from pathlib import Path
from breadcrumbs.errors import Unavailable
from breadcrumbs.pipeline.wal import WriteAheadLog
from pipeline.support import make_batch

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, resource.RLIM_INFINITY))

async def main() -> None:
    wal = WriteAheadLog(Path(sys.argv[1]))
    for tag in range(30):
        try:
            print("ack", tag, await wal.append(make_batch(tag)), flush=True)
        except Unavailable:
            print("refused", tag, flush=True)
    await wal.close()

asyncio.run(main())
"""


def test_a_failed_write_refuses_and_leaves_no_partial_record(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(tmp_path)],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [line.split() for line in done.stdout.splitlines()]
    acked = {int(words[2]): int(words[1]) for words in lines if words[0] == "ack"}
    refused = [words for words in lines if words[0] == "refused"]
    assert acked  # the file limit was reached part way
    assert refused
    assert "group commit of 1 records failed" in done.stderr

    [path] = segments(tmp_path)
    assert path.stat().st_size <= 60_000  # cut back to the last whole record
    replayed = replay_all(tmp_path)
    assert [s for s, _ in replayed] == sorted(acked)
    for sequence, batch in replayed:
        assert batch.equals(make_batch(acked[sequence]))
