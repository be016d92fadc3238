"""The write-ahead log: a batch is acknowledged only once it is on disk and fsynced.

Concurrent ``append`` calls share one write and one fsync (group commit): each caller queues
its batch and starts serialising it (Arrow IPC, lz4) on an encode thread, off the event loop
and while the previous group's fsync runs; one committer task writes every queued record with
a single ``os.writev`` and a single ``os.fdatasync`` on the WAL's I/O thread, then resolves
them all. While an fsync is in flight, new records queue for the next group.

On-disk format (version 1), little-endian. The directory holds segments named
``<first sequence, 20 digits>.wal``; each starts with a header and holds records::

    segment header  magic b"BCRUMWAL" | u16 version | u16 flags (0) | u64 first sequence
    record          u32 payload length | u32 crc32(payload + u64 sequence) | u64 sequence
                    | payload: one Arrow IPC stream holding the batch

Sequences start at 1 and increase by one per record, across segments. Replay checks every
record's length, crc and sequence; the first bad record and everything after it is cut off
with a warning (a torn tail after a crash), never a crash. Later segments after a bad record
are renamed ``*.corrupt`` and kept for inspection. A segment with an unknown version stops
start-up: it is a newer format, not damage. Magic and version are the stable prefix of every
future format.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import pyarrow as pa

from breadcrumbs.errors import Unavailable
from breadcrumbs.model import SpanBatch
from breadcrumbs.selfmetrics import SelfMetrics

T = TypeVar("T")

log = logging.getLogger(__name__)

MAGIC: Final = b"BCRUMWAL"
VERSION: Final = 1
SEGMENT_HEADER: Final = struct.Struct("<8sHHQ")
RECORD_HEADER: Final = struct.Struct("<IIQ")
_SEQUENCE: Final = struct.Struct("<Q")
MAX_RECORD_BYTES: Final = 1 << 31  # a larger length field is damage, not data
_SUFFIX: Final = ".wal"
_IOV_MAX: Final = 512  # below every platform's IOV_MAX

OnDurable = Callable[[int, SpanBatch], None]


class WalFormatError(RuntimeError):
    """A segment written by a newer breadcrumbs: refuse to start rather than destroy it."""


@dataclass(slots=True)
class _Segment:
    path: Path
    first_sequence: int
    last_sequence: int  # first_sequence - 1 while empty
    size: int


@dataclass(slots=True)
class _Pending:
    # (payload, crc of the payload alone; the sequence is folded in at commit)
    encoded: asyncio.Future[tuple[pa.Buffer, int]]
    batch: SpanBatch
    future: asyncio.Future[int]


def encode_batch(batch: SpanBatch, compression: str | None = None) -> pa.Buffer:
    """A batch as one Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_table(batch)
    return sink.getvalue()


def _encode_record(batch: SpanBatch, compression: str | None) -> tuple[pa.Buffer, int]:
    """A record's payload and its crc (encode thread: both release the GIL)."""
    payload = encode_batch(batch, compression)
    if payload.size > MAX_RECORD_BYTES:
        raise ValueError(f"a batch of {payload.size} bytes is too large for one WAL record")
    return payload, zlib.crc32(payload)


def decode_batch(payload: bytes | pa.Buffer) -> SpanBatch:
    table: SpanBatch = pa.ipc.open_stream(payload).read_all()
    return table


def _segment_name(first_sequence: int) -> str:
    return f"{first_sequence:020d}{_SUFFIX}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, buffers: list[memoryview]) -> None:
    """Every buffer, in order, with as few ``writev`` calls as the kernel allows."""
    index = 0
    while index < len(buffers):
        written = os.writev(fd, buffers[index : index + _IOV_MAX])
        while written > 0:
            head = buffers[index]
            if written >= len(head):
                written -= len(head)
                index += 1
            else:
                buffers[index] = head[written:]
                written = 0


class WriteAheadLog:
    """Segmented, checksummed, group-committed log of span batches.

    Call ``replay()`` (and exhaust it) before the first ``append``: it finds the tail and cuts
    damage off. ``on_durable(sequence, batch)`` is called for every record, in sequence order,
    once it is fsynced and before its ``append`` returns, even if that caller was cancelled.
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 << 20,
        released_segment_bytes: int = 1 << 20,
        compression: str | None = None,
        metrics: SelfMetrics | None = None,
        on_durable: OnDurable | None = None,
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        # A segment this large whose every record is in the store is rotated at the next
        # append, and so deleted: at low volume a 64 MiB segment would otherwise sit on disk
        # for hours, most of a small data directory.
        self.released_segment_bytes = released_segment_bytes
        self._rotate = False
        self.compression = compression
        self.on_durable = on_durable
        self._metrics = metrics
        self._segments: list[_Segment] = []
        self._fd: int | None = None  # the last segment, open for appending
        self._next_sequence = 1
        self._recovered = False
        self._replaying = False
        self._closing = False
        self._broken: str | None = None
        self._queue: list[_Pending] = []
        self._queued_bytes = 0
        self._queued_spans = 0
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None
        # The write and fsync run on a thread of their own: on asyncio's shared default
        # executor a few slow store reads held every ack.
        self._io: ThreadPoolExecutor | None = None
        # Serialising a record (~1 ms of CPU per 1000 spans with lz4) runs here: on the event
        # loop it held every receiver for that long.
        self._encoder: ThreadPoolExecutor | None = None
        self.fsyncs = 0
        self.records_committed = 0

    # --- figures ---------------------------------------------------------------------------

    @property
    def disk_bytes(self) -> int:
        return sum(segment.size for segment in self._segments)

    @property
    def queued_bytes(self) -> int:
        """Serialised records waiting for (or in) a group commit (once encoded)."""
        return self._queued_bytes

    @property
    def queued_spans(self) -> int:
        """Spans in records waiting for (or in) a group commit."""
        return self._queued_spans

    @property
    def next_sequence(self) -> int:
        return self._next_sequence

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    # --- recovery --------------------------------------------------------------------------

    def replay(self, after: int = 0, *, floor: int = 0) -> Iterator[tuple[int, SpanBatch]]:
        """(sequence, batch) of every intact record with a sequence above ``after``.

        Every record is checked (also those skipped); damage and all after it is cut off with
        a warning. When exhausted, the log is ready for ``append`` and the next sequence is
        above the last record, ``after`` and ``floor`` (the highest sequence any consumer has
        persisted: a new record must never reuse one).
        """
        if self._recovered or self._replaying:
            raise RuntimeError("replay() runs once, before the first append()")
        self._replaying = True
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))
        expected: int | None = None  # the sequence the next record must carry
        for position, path in enumerate(paths):
            segment = self._open_segment(path, expected)
            if segment is None:
                self._quarantine(paths[position + 1 :])
                break
            self._segments.append(segment)
            damaged = yield from self._scan(segment, after)
            expected = segment.last_sequence + 1
            if damaged:
                self._quarantine(paths[position + 1 :])
                break
        last = self._segments[-1].last_sequence if self._segments else 0
        self._next_sequence = max(last, after, floor) + 1
        if self._segments:
            self._fd = os.open(self._segments[-1].path, os.O_WRONLY | os.O_APPEND)
        self._recovered = True
        self._replaying = False
        self._publish_bytes()

    def _open_segment(self, path: Path, expected: int | None) -> _Segment | None:
        """The segment if its header is sound; None (and the file cut) if torn."""
        with path.open("rb") as f:
            raw = f.read(SEGMENT_HEADER.size)
        problem = None
        if len(raw) < SEGMENT_HEADER.size:
            problem = "a torn segment header"
        else:
            magic, version, _flags, first = SEGMENT_HEADER.unpack(raw)
            if magic != MAGIC:
                problem = "a bad segment magic"
            elif version == 0:
                problem = "a zeroed segment version"
            elif version > VERSION:
                raise WalFormatError(
                    f"WAL segment {path} has format version {version}; this build reads "
                    f"version {VERSION}. Run a newer breadcrumbs or move the WAL away."
                )
            elif path.name != _segment_name(first) or (expected is not None and first < expected):
                # A gap is fine (the log skips ahead when the store is ahead of it); going
                # back is not.
                problem = f"first sequence {first} out of order"
        if problem is None:
            return _Segment(path, first, first - 1, path.stat().st_size)
        log.warning(
            "WAL: %s in %s; cutting the log off here (records from it on are lost)",
            problem,
            path,
        )
        if len(raw) < SEGMENT_HEADER.size:
            path.unlink()  # a crash while starting a segment: it never held a record
            _fsync_dir(self.directory)
        else:
            self._quarantine([path])
        return None

    def _scan(self, segment: _Segment, after: int) -> Generator[tuple[int, SpanBatch], None, bool]:
        """Yield the segment's records; on damage cut the file there. Returns True if cut."""
        size = segment.size
        offset = SEGMENT_HEADER.size
        expected = segment.first_sequence
        problem = None
        with segment.path.open("rb") as f:
            f.seek(offset)
            while offset < size:
                header = f.read(RECORD_HEADER.size)
                if len(header) < RECORD_HEADER.size:
                    problem = "a torn record header"
                    break
                length, crc, sequence = RECORD_HEADER.unpack(header)
                if length == 0 or length > MAX_RECORD_BYTES:
                    problem = f"an impossible record length {length}"
                    break
                if offset + RECORD_HEADER.size + length > size:
                    problem = "a torn record"
                    break
                payload = f.read(length)
                if zlib.crc32(_SEQUENCE.pack(sequence), zlib.crc32(payload)) != crc:
                    problem = "a checksum mismatch"
                    break
                if sequence != expected:
                    problem = f"sequence {sequence} where {expected} was due"
                    break
                segment.last_sequence = sequence
                offset += RECORD_HEADER.size + length
                expected += 1
                if sequence > after:
                    yield sequence, decode_batch(payload)
        if problem is None:
            return False
        log.warning(
            "WAL: %s at byte %d of %s (%d bytes after it); cutting the log off after sequence %d",
            problem,
            offset,
            segment.path,
            size - offset,
            segment.last_sequence,
        )
        os.truncate(segment.path, offset)
        fd = os.open(segment.path, os.O_WRONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        segment.size = offset
        return True

    def _quarantine(self, paths: list[Path]) -> None:
        for path in paths:
            target = path.with_name(path.name + ".corrupt")
            log.warning("WAL: %s follows damage; kept aside as %s, not replayed", path, target)
            path.rename(target)
        if paths:
            _fsync_dir(self.directory)

    # --- appending -------------------------------------------------------------------------

    async def append(self, batch: SpanBatch) -> int:
        """Durable on return (shared fsync); returns the record's sequence."""
        if not self._recovered:
            for _ in self.replay():
                pass  # recovery only: the caller did not want the records
        if self._closing:
            raise Unavailable("the write-ahead log is closed")
        if self._broken is not None:
            raise Unavailable(f"the write-ahead log cannot write: {self._broken}")
        if self._committer is None:
            self._wake = asyncio.Event()
            self._io = ThreadPoolExecutor(1, thread_name_prefix="wal")
            self._encoder = ThreadPoolExecutor(1, thread_name_prefix="wal-encode")
            self._committer = asyncio.create_task(self._commit_loop(), name="wal-commit")
        assert self._wake is not None
        assert self._encoder is not None
        loop = asyncio.get_running_loop()
        encoded = loop.run_in_executor(self._encoder, _encode_record, batch, self.compression)
        encoded.add_done_callback(self._count_encoded)
        future: asyncio.Future[int] = loop.create_future()
        self._queue.append(_Pending(encoded, batch, future))
        self._queued_spans += batch.num_rows
        self._wake.set()
        return await future

    def _count_encoded(self, encoded: asyncio.Future[tuple[pa.Buffer, int]]) -> None:
        if not encoded.cancelled() and encoded.exception() is None:
            self._queued_bytes += RECORD_HEADER.size + encoded.result()[0].size

    async def _commit_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group, self._queue = self._queue, []
                try:
                    await self._commit(group)
                except Exception as error:  # our bug: fail loudly, never leave acks hanging
                    log.exception("WAL: group commit crashed; refusing further writes")
                    self._broken = f"internal error: {error!r}"
                    for pending in group:
                        if not pending.future.done():
                            pending.future.set_exception(Unavailable(self._broken))
            if self._closing:
                return

    async def _commit(self, queued: list[_Pending]) -> None:
        group: list[_Pending] = []
        payloads: list[tuple[pa.Buffer, int]] = []
        for pending in queued:
            try:
                payloads.append(await pending.encoded)
            except Exception as error:  # too large for a record: that caller's error alone
                self._queued_spans -= pending.batch.num_rows
                if not pending.future.done():
                    pending.future.set_exception(error)
                continue
            group.append(pending)
        if not group:
            return
        group_bytes = sum(RECORD_HEADER.size + payload.size for payload, _ in payloads)
        group_spans = sum(p.batch.num_rows for p in group)
        first = self._next_sequence
        buffers: list[memoryview] = []
        for sequence, (payload, payload_crc) in enumerate(payloads, first):
            crc = zlib.crc32(_SEQUENCE.pack(sequence), payload_crc)
            buffers.append(memoryview(RECORD_HEADER.pack(payload.size, crc, sequence)))
            buffers.append(memoryview(payload))
        started = time.perf_counter()
        try:
            if self._broken is not None:
                raise OSError(self._broken)
            active = self._segments[-1] if self._segments else None
            if (
                self._fd is None
                or active is None
                or active.size >= self.segment_bytes
                or active.last_sequence + 1 != first
                or self._rotate
            ):
                fd = await self._in_io_thread(self._create_segment, first)
                if self._fd is not None:
                    os.close(self._fd)
                self._fd = fd
                self._rotate = False
                self._segments.append(
                    _Segment(
                        self.directory / _segment_name(first), first, first - 1, SEGMENT_HEADER.size
                    )
                )
            await self._in_io_thread(self._write_group, self._fd, self._segments[-1].size, buffers)
        except OSError as error:
            self._queued_bytes -= group_bytes
            self._queued_spans -= group_spans
            log.error("WAL: group commit of %d records failed: %s", len(group), error)
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(
                        Unavailable(f"the write-ahead log cannot write: {error}")
                    )
            return
        elapsed = time.perf_counter() - started
        segment = self._segments[-1]
        segment.size += group_bytes
        segment.last_sequence = first + len(group) - 1
        self._next_sequence = first + len(group)
        self._queued_bytes -= group_bytes
        self._queued_spans -= group_spans
        self.fsyncs += 1
        self.records_committed += len(group)
        if self._metrics is not None:
            self._metrics.wal_fsync_duration.observe(elapsed)
            self._metrics.wal_group_size.observe(len(group))
        self._publish_bytes()
        for sequence, pending in enumerate(group, first):
            if self.on_durable is not None:
                self.on_durable(sequence, pending.batch)
            if not pending.future.done():
                pending.future.set_result(sequence)

    async def _in_io_thread(self, work: Callable[..., T], *args: object) -> T:
        assert self._io is not None
        return await asyncio.get_running_loop().run_in_executor(self._io, work, *args)

    def _create_segment(self, first_sequence: int) -> int:
        """A new segment file whose first record will be ``first_sequence``, open for appending
        (worker thread)."""
        path = self.directory / _segment_name(first_sequence)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            os.write(fd, SEGMENT_HEADER.pack(MAGIC, VERSION, 0, first_sequence))
            os.fsync(fd)
            _fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return fd

    def _write_group(self, fd: int, start: int, buffers: list[memoryview]) -> None:
        """One write and one fsync for the whole group (worker thread).

        On failure the segment is cut back to where the group began, so a later group never
        follows half a record; if even that fails, the log refuses further writes.
        """
        try:
            _write_all(fd, buffers)
            os.fdatasync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
            except OSError as error:
                self._broken = f"could not undo a failed write: {error}"
            raise

    def release_through(self, sequence: int) -> None:
        """Records up to ``sequence`` are in the store: delete the segments holding only them.

        The last segment stays (it is being appended to, and its header carries the next
        sequence across restarts); once released and past ``released_segment_bytes`` it is
        rotated at the next append and goes with the release after that.
        """
        while len(self._segments) > 1 and self._segments[0].last_sequence <= sequence:
            segment = self._segments.pop(0)
            segment.path.unlink(missing_ok=True)
        if self._segments:
            active = self._segments[-1]
            self._rotate = (
                active.last_sequence <= sequence and active.size >= self.released_segment_bytes
            )
        self._publish_bytes()

    def _publish_bytes(self) -> None:
        if self._metrics is not None:
            self._metrics.wal_bytes.set(self.disk_bytes)

    async def close(self) -> None:
        """Refuse new appends, commit every queued record, close the file."""
        self._closing = True
        if self._committer is not None:
            assert self._wake is not None
            self._wake.set()
            await self._committer
            self._committer = None
        if self._io is not None:
            self._io.shutdown()  # idle: the committer has returned
            self._io = None
        if self._encoder is not None:
            self._encoder.shutdown()  # idle too: every queued record was awaited
            self._encoder = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
