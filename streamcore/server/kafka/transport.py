"""Frames in and out of one non-blocking socket, on the running event loop.

Reading: small frames are cut out of a 64 KiB receive buffer; a frame larger
than what is left of it gets its own buffer (after its size has been checked
against the limit and the server's memory budget) and the socket reads
straight into it.  Writing: buffers go out with send(2), ``FileSlice`` parts
with sendfile(2) from the segment file, so record bytes never pass through
Python.  Both wait for readiness with add_reader/add_writer on the socket, so a
slow peer holds only its own connection.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from .codec import Part

_SIZE = struct.Struct(">i")
_SCRATCH = 64 * 1024
_MSG_MORE = getattr(socket, "MSG_MORE", 0)


class FrameError(Exception):
    """The peer sent a frame the server will not read (the connection is closed)."""


class MemoryBudget:
    """Bytes of large request frames held at once across all connections."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._cond = asyncio.Condition()

    async def acquire(self, n: int) -> int:
        n = min(n, self.capacity)  # one frame may always proceed alone
        async with self._cond:
            await self._cond.wait_for(lambda: self.used + n <= self.capacity)
            self.used += n
        return n

    async def release(self, n: int) -> None:
        if n:
            async with self._cond:
                self.used -= n
                self._cond.notify_all()


class Transport:
    """One connection's socket: read whole frames, write response parts."""

    def __init__(self, sock: socket.socket, max_frame: int, budget: MemoryBudget) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.fd = sock.fileno()
        self._loop = asyncio.get_running_loop()
        self._max_frame = max_frame
        self._budget = budget
        self._buf = bytearray(_SCRATCH)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self.held = 0  # budget bytes held by the last frame read

    # ------------------------------------------------------------------ readiness

    async def _ready(self, writer: bool) -> None:
        fut: asyncio.Future[None] = self._loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        if writer:
            self._loop.add_writer(self.fd, wake)
        else:
            self._loop.add_reader(self.fd, wake)
        try:
            await fut
        finally:
            if writer:
                self._loop.remove_writer(self.fd)
            else:
                self._loop.remove_reader(self.fd)

    async def _recv_into(self, view: memoryview) -> int:
        while True:
            try:
                n = self.sock.recv_into(view)
            except (BlockingIOError, InterruptedError):
                await self._ready(False)
                continue
            if n == 0:
                raise EOFError
            return n

    # ------------------------------------------------------------------ reading

    async def _fill(self, need: int) -> None:
        """Have at least ``need`` bytes (need <= scratch size) buffered."""
        if self._start and self._start + need > _SCRATCH:
            left = self._end - self._start
            self._buf[:left] = self._buf[self._start : self._end]
            self._start, self._end = 0, left
        while self._end - self._start < need:
            self._end += await self._recv_into(self._view[self._end :])

    async def read_frame(self) -> memoryview | None:
        """The next request frame (without its size prefix); None when the peer closed."""
        try:
            if self._end - self._start < 4:
                await self._fill(4)
        except EOFError:
            if self._end != self._start:
                raise FrameError("connection closed inside a frame size") from None
            return None
        (size,) = _SIZE.unpack_from(self._buf, self._start)
        if size < 8 or size > self._max_frame:
            raise FrameError(
                f"frame of {size} bytes is outside [8, {self._max_frame}] "
                "(socket.request.max.bytes)"
            )
        self._start += 4
        try:
            if size <= _SCRATCH:
                await self._fill(size)
                frame = memoryview(bytes(self._view[self._start : self._start + size]))
                self._start += size
                return frame
            return await self._read_large(size)
        except EOFError:
            raise FrameError("connection closed inside a frame") from None

    async def _read_large(self, size: int) -> memoryview:
        self.held = await self._budget.acquire(size)
        frame = bytearray(size)
        have = self._end - self._start
        frame[:have] = self._view[self._start : self._end]
        self._start = self._end = 0
        view = memoryview(frame)
        while have < size:
            have += await self._recv_into(view[have:])
        return view

    async def release_frame(self) -> None:
        held, self.held = self.held, 0
        await self._budget.release(held)

    # ------------------------------------------------------------------ writing

    async def _send_buffer(self, data: Any, more: bool) -> None:
        view = memoryview(data)
        flags = _MSG_MORE if more else 0
        while view:
            try:
                n = self.sock.send(view, flags)
            except (BlockingIOError, InterruptedError):
                n = 0
            view = view[n:]
            if view:
                await self._ready(True)

    async def _send_slice(self, part: Any) -> None:
        length = part.length
        skip = 0
        try:
            while skip < length:
                try:
                    n = part.sendfile(self.fd, skip)
                except (BlockingIOError, InterruptedError):
                    await self._ready(True)
                    continue
                if n <= 0:
                    raise ConnectionError("segment file ended before its slice")
                skip += n
        finally:
            part.release()

    async def send(self, parts: list[Part]) -> None:
        last = len(parts) - 1
        for i, p in enumerate(parts):
            if isinstance(p, (bytes, bytearray, memoryview)):
                await self._send_buffer(p, i < last)
            else:
                await self._send_slice(p)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
