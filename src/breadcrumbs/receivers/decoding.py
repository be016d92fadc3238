"""Where request bodies are decoded: in this process, or in worker processes.

Decoding is Python holding the GIL (~10 ms of CPU per 1000-span request), so in the server
process it competes with everything else that needs the GIL (the event loop, HTTP and gRPC,
the WAL) and one process cannot decode faster than one core. ``WorkerDecoding`` runs the
codecs in worker processes instead: a worker gets the body, decodes it and sends the batch
back as Arrow IPC, which the server reads without a copy. Small bodies (SDKs exporting a few
spans) are decoded in place, where the round trip would cost more than the decode. Bodies
waiting for a decode are bounded in bytes: past the bound a request gets a retryable 429,
so a burst of clients cannot grow the server's memory without end.

A worker that dies (killed, out of memory) breaks its pool: the requests in flight get a
retryable 503/UNAVAILABLE and the next request starts a new pool. Workers ignore SIGINT (a
Ctrl-C reaches the whole process group; the server decides when they stop) and exit when
the server does, so a SIGKILLed server leaves no worker behind (and then the forkserver
exits too).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from typing import Final, Protocol, TypeAlias

import pyarrow as pa

from breadcrumbs import errors
from breadcrumbs.codec.base import DecodeLimits, DecodeResult
from breadcrumbs.errors import BadInput, BreadcrumbsError, Overloaded, Unavailable
from breadcrumbs.selfmetrics import SelfMetrics

log = logging.getLogger("breadcrumbs.receivers")

Decoder: TypeAlias = Callable[[bytes, DecodeLimits], DecodeResult]

# Below this many bytes a body is decoded on the event loop itself: a thread or process hop
# costs more than the decode.
_INLINE_DECODE_BYTES = 64 * 1024
# Request bodies waiting for (or in) a decode, at most: beyond it, 429 (see ``_Queued``).
MAX_QUEUED_BYTES: Final = 256 * 1024**2
_ORPHAN_CHECK_S = 0.5


class Decoding(Protocol):
    """Runs a codec on a request body; codec errors come out as ``BadInput``."""

    async def decode(self, decoder: Decoder, body: bytes, limits: DecodeLimits) -> DecodeResult: ...

    def close(self) -> None: ...


def decode_here(decoder: Decoder, body: bytes, limits: DecodeLimits) -> DecodeResult:
    """Decode, treating a codec crash on the client's bytes as bad input (400), not a 500:
    retrying the same bytes would fail again, which is what a permanent error means."""
    try:
        return decoder(body, limits)
    except BreadcrumbsError:
        raise
    except Exception as error:
        log.exception("decoder failed on a %d-byte request", len(body))
        raise BadInput(f"could not decode request: {type(error).__name__}") from error


class _Queued:
    """What every ``Decoding`` shares: small bodies decoded in place, large ones queued for
    ``_decode_large`` within a budget of queued bytes. Past it a request is refused with a
    retryable 429, so memory stays bounded however many clients send at once."""

    def __init__(self, max_queued_bytes: int, metrics: SelfMetrics | None) -> None:
        self.max_queued_bytes = max_queued_bytes
        self.queued_bytes = 0  # only touched on the event loop
        self._metrics = metrics

    async def decode(self, decoder: Decoder, body: bytes, limits: DecodeLimits) -> DecodeResult:
        if len(body) <= _INLINE_DECODE_BYTES:
            return decode_here(decoder, body, limits)
        if self.queued_bytes + len(body) > self.max_queued_bytes:
            raise Overloaded(
                f"{self.queued_bytes} bytes of requests are waiting to be decoded; retry later"
            )
        self._queue(len(body))
        began = time.perf_counter()
        try:
            return await self._decode_large(decoder, body, limits)
        finally:
            self._queue(-len(body))
            if self._metrics is not None:
                self._metrics.decode_duration.observe(time.perf_counter() - began)

    def _queue(self, size: int) -> None:
        self.queued_bytes += size
        if self._metrics is not None:
            self._metrics.decode_queued_bytes.set(self.queued_bytes)

    async def _decode_large(
        self, decoder: Decoder, body: bytes, limits: DecodeLimits
    ) -> DecodeResult:
        raise NotImplementedError


class InProcessDecoding(_Queued):
    """Large bodies in one decode thread (more threads only fight over the GIL, as
    bench/ingest.py measured)."""

    def __init__(
        self, max_queued_bytes: int = MAX_QUEUED_BYTES, metrics: SelfMetrics | None = None
    ) -> None:
        super().__init__(max_queued_bytes, metrics)
        self._thread: Executor | None = None

    async def _decode_large(
        self, decoder: Decoder, body: bytes, limits: DecodeLimits
    ) -> DecodeResult:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="decode")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, decode_here, decoder, body, limits)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)


# What a worker sends back: ("ok", Arrow IPC stream, rejected, error) or ("error", the
# BreadcrumbsError class name, its message).
_Reply = tuple[str, bytes, int, str] | tuple[str, str, str]


def _worker_started(server_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with, args=(server_pid,), name="orphan-watch", daemon=True
    ).start()


def _exit_with(server_pid: int) -> None:
    """Exits this worker once the server is gone, however it went. A SIGKILLed server cannot
    shut its pool down, and a worker waiting for work would wait forever: it holds both ends
    of its task pipe, and the forkserver's liveness pipe too, so nobody ever reads EOF."""
    try:
        handle = os.pidfd_open(server_pid)
    except OSError:  # already gone, or a kernel without pidfds (< 5.3): poll instead
        while _running(server_pid):
            time.sleep(_ORPHAN_CHECK_S)
    else:
        select.select([handle], [], [])  # readable once the process has exited
    os._exit(0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _decode_in_worker(decoder: Decoder, body: bytes, limits: DecodeLimits) -> _Reply:
    try:
        result = decode_here(decoder, body, limits)
    except BreadcrumbsError as error:
        return ("error", type(error).__name__, error.message)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.batch.schema) as writer:
        writer.write_table(result.batch)
    return ("ok", sink.getvalue().to_pybytes(), result.rejected, result.error)


def _from_reply(reply: _Reply) -> DecodeResult:
    if len(reply) == 3:
        _, name, message = reply
        error_class = getattr(errors, name, BadInput)
        raise error_class(message)
    _, ipc, rejected, error = reply
    batch = pa.ipc.open_stream(pa.py_buffer(ipc)).read_all()
    return DecodeResult(batch, rejected, error)


_CODECS: Final = [
    "breadcrumbs.codec.otlp",
    "breadcrumbs.codec.zipkin",
    "breadcrumbs.codec.zipkin_native",
]


def _warm_up() -> None:
    """Starts a worker before the first real request needs one."""


class WorkerDecoding(_Queued):
    """Large bodies decoded by ``workers`` processes (forkserver: never a fork of this
    multi-threaded process)."""

    def __init__(
        self,
        workers: int,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        metrics: SelfMetrics | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"need at least one decode worker, not {workers}")
        super().__init__(max_queued_bytes, metrics)
        if metrics is not None:
            metrics.decode_workers.set(workers)
        self.workers = workers
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_CODECS)  # workers then fork with the codecs imported
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_worker_started,
            initargs=(os.getpid(),),
        )
        for _ in range(self.workers):
            pool.submit(_warm_up)
        return pool

    async def _decode_large(
        self, decoder: Decoder, body: bytes, limits: DecodeLimits
    ) -> DecodeResult:
        pool = self._pool
        try:
            future = pool.submit(_decode_in_worker, decoder, body, limits)
            reply = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._replace(pool)
            raise Unavailable("a decode worker exited; retry the request") from None
        return _from_reply(reply)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                log.error("a decode worker exited; starting new ones")
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def decoding(workers: int, metrics: SelfMetrics | None = None) -> Decoding:
    """Worker processes when ``workers`` > 0, else decoding in this process."""
    if workers > 0:
        return WorkerDecoding(workers, metrics=metrics)
    return InProcessDecoding(metrics=metrics)
