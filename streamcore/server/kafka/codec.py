"""Encode and decode Kafka protocol messages; no I/O.

``decoder(msg, version)`` and ``encoder(msg, version)`` compile a message's
field list (``schema.py``) for one version into a chain of small closures,
cached.  Decoded messages are dicts keyed by field name; a field that is not on
the wire in that version holds its default, so handlers read every version the
same way.  Encoders take the same kind of dict, write the fields of their
version and ignore the rest, so a handler builds one answer for all versions.

Every length and count read from the wire is checked against the bytes left
before anything is allocated; a malformed message raises ``DecodeError`` (the
server closes the connection, as Kafka does for a request it cannot parse).
``records`` fields decode to a memoryview of the frame (no copy) and encode
from any buffer or from a ``FileSlice``, which becomes a separate part of the
output so its bytes can go to the socket with sendfile(2).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

from .schema import (
    BOOL,
    INT8,
    INT16,
    INT32,
    INT64,
    RECORDS,
    STRING,
    UUID,
    Array,
    Field,
    Message,
)

Struct = dict[str, Any]
Buf = memoryview


class DecodeError(ValueError):
    """The bytes are not a well-formed message of the expected version."""


class EncodeError(ValueError):
    """A value does not fit its field (a bug in whoever built the message)."""


class SendableSlice(Protocol):
    """Bytes of a file that the connection sends with sendfile(2) (``FileSlice``)."""

    @property
    def length(self) -> int: ...

    def sendfile(self, out: int, skip: int = 0) -> int: ...


Part = bytearray | bytes | SendableSlice


class Writer:
    """Output of an encoder: a bytearray, split where a FileSlice goes."""

    __slots__ = ("buf", "parts")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.parts: list[Part] = []

    def attach(self, part: SendableSlice) -> None:
        self.parts.append(self.buf)
        self.parts.append(part)
        self.buf = bytearray()

    def finish(self) -> list[Part]:
        parts = self.parts
        parts.append(self.buf)
        self.buf = bytearray()
        self.parts = []
        return [p for p in parts if part_size(p)]


def part_size(p: Part) -> int:
    if isinstance(p, (bytes, bytearray)):
        return len(p)
    return p.length


Reader = Callable[[Buf, int], tuple[Any, int]]
WriteFn = Callable[[Writer, Any], None]

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_FIXED = {INT8: _I8, INT16: _I16, INT32: _I32, INT64: _I64}
_BOOL = struct.Struct(">?")


# ------------------------------------------------------------------ varints


def read_uvarint(buf: Buf, pos: int) -> tuple[int, int]:
    """An unsigned varint of at most 5 bytes (the int32 range)."""
    value = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            if value > 0xFFFFFFFF:
                raise DecodeError("varint out of range")
            return value, pos
        shift += 7
        if shift >= 35:
            raise DecodeError("varint too long")


def write_uvarint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def skip_tagged_fields(buf: Buf, pos: int) -> int:
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        if size > len(buf) - pos:
            raise DecodeError("tagged field runs past the end")
        pos += size
    return pos


# ------------------------------------------------------------------ readers


def _length_reader(flexible: bool, wide: bool) -> Callable[[Buf, int], tuple[int, int]]:
    """Length prefix of a string (int16), bytes/array (int32) or compact form; -1 = null."""
    if flexible:

        def compact(buf: Buf, pos: int) -> tuple[int, int]:
            n, pos = read_uvarint(buf, pos)
            return n - 1, pos

        return compact
    s = _I32 if wide else _I16
    size = s.size
    unpack = s.unpack_from

    def fixed(buf: Buf, pos: int) -> tuple[int, int]:
        return unpack(buf, pos)[0], pos + size

    return fixed


def _bytes_reader(t: str, nullable: bool, flexible: bool) -> Reader:
    length = _length_reader(flexible, t != STRING)

    def read(buf: Buf, pos: int) -> tuple[Any, int]:
        n, pos = length(buf, pos)
        if n < 0:
            if n == -1 and nullable:
                return None, pos
            raise DecodeError(f"invalid length {n}")
        end = pos + n
        if end > len(buf):
            raise DecodeError(f"length {n} runs past the end of the message")
        if t == STRING:
            try:
                return str(buf[pos:end], "utf-8"), end
            except UnicodeDecodeError as exc:
                raise DecodeError("string is not UTF-8") from exc
        if t == RECORDS:
            return buf[pos:end], end
        return bytes(buf[pos:end]), end

    return read


def _primitive_reader(t: str, nullable: bool, flexible: bool) -> Reader:
    if t in _FIXED:
        s = _FIXED[t]
        size = s.size
        unpack = s.unpack_from

        def fixed(buf: Buf, pos: int) -> tuple[Any, int]:
            return unpack(buf, pos)[0], pos + size

        return fixed
    if t == BOOL:

        def boolean(buf: Buf, pos: int) -> tuple[Any, int]:
            return buf[pos] != 0, pos + 1

        return boolean
    if t == UUID:

        def uuid(buf: Buf, pos: int) -> tuple[Any, int]:
            if pos + 16 > len(buf):
                raise DecodeError("truncated uuid")
            return bytes(buf[pos : pos + 16]), pos + 16

        return uuid
    return _bytes_reader(t, nullable, flexible)


def _array_reader(elem: Reader, nullable: bool, flexible: bool) -> Reader:
    length = _length_reader(flexible, True)

    def read(buf: Buf, pos: int) -> tuple[Any, int]:
        n, pos = length(buf, pos)
        if n < 0:
            if n == -1 and nullable:
                return None, pos
            raise DecodeError(f"invalid array length {n}")
        # Every element takes at least one byte: a count above the bytes left
        # is a lie, refused before the loop allocates anything.
        if n > len(buf) - pos:
            raise DecodeError(f"array of {n} elements runs past the end of the message")
        out: list[Any] = []
        append = out.append
        for _ in range(n):
            v, pos = elem(buf, pos)
            append(v)
        return out, pos

    return read


def _field_reader(f: Field, version: int, flexible: bool) -> Reader:
    nullable = f.nullable_in(version)
    t = f.type
    if isinstance(t, tuple):
        return _array_reader(_struct_reader(t, version, flexible), nullable, flexible)
    if isinstance(t, Array):
        return _array_reader(_primitive_reader(t.of, False, flexible), nullable, flexible)
    return _primitive_reader(t, nullable, flexible)


def _struct_reader(fields: tuple[Field, ...], version: int, flexible: bool) -> Reader:
    present = [
        (f.name, _field_reader(f, version, flexible)) for f in fields if f.in_version(version)
    ]
    absent = {f.name: _default_value(f) for f in fields if not f.in_version(version)}

    def read(buf: Buf, pos: int) -> tuple[Any, int]:
        d = dict(absent) if absent else {}
        for name, r in present:
            d[name], pos = r(buf, pos)
        if flexible:
            pos = skip_tagged_fields(buf, pos)
        return d, pos

    return read


def _default_value(f: Field) -> Any:
    d = f.default
    return list(d) if isinstance(d, tuple) else d


# ------------------------------------------------------------------ writers


def _primitive_writer(t: str, nullable: bool, flexible: bool, name: str) -> WriteFn:
    if t in _FIXED:
        pack = _FIXED[t].pack

        def fixed(w: Writer, v: Any) -> None:
            w.buf += pack(v)

        return fixed
    if t == BOOL:

        def boolean(w: Writer, v: Any) -> None:
            w.buf.append(1 if v else 0)

        return boolean
    if t == UUID:

        def uuid(w: Writer, v: Any) -> None:
            if len(v) != 16:
                raise EncodeError(f"{name}: a uuid is 16 bytes")
            w.buf += v

        return uuid
    wide = t != STRING
    prefix = _I32.pack if wide else _I16.pack

    def write_len(w: Writer, n: int) -> None:
        if flexible:
            write_uvarint(w.buf, n + 1)
        else:
            w.buf += prefix(n)

    def var(w: Writer, v: Any) -> None:
        if v is None:
            if not nullable:
                raise EncodeError(f"{name} is not nullable in this version")
            write_len(w, -1)
            return
        if t == STRING:
            v = v.encode()
            if len(v) > 0x7FFF:
                raise EncodeError(f"{name}: string too long")
        elif t == RECORDS and hasattr(v, "sendfile"):
            write_len(w, v.length)
            w.attach(v)
            return
        write_len(w, len(v))
        w.buf += v

    return var


def _array_writer(elem: WriteFn, nullable: bool, flexible: bool, name: str) -> WriteFn:
    def write(w: Writer, v: Any) -> None:
        if v is None:
            if not nullable:
                raise EncodeError(f"{name} is not nullable in this version")
            if flexible:
                w.buf.append(0)
            else:
                w.buf += b"\xff\xff\xff\xff"
            return
        if flexible:
            write_uvarint(w.buf, len(v) + 1)
        else:
            w.buf += _I32.pack(len(v))
        for item in v:
            elem(w, item)

    return write


def _field_writer(f: Field, version: int, flexible: bool) -> WriteFn:
    nullable = f.nullable_in(version)
    t = f.type
    if isinstance(t, tuple):
        return _array_writer(_struct_writer(t, version, flexible), nullable, flexible, f.name)
    if isinstance(t, Array):
        elem = _primitive_writer(t.of, False, flexible, f.name)
        return _array_writer(elem, nullable, flexible, f.name)
    return _primitive_writer(t, nullable, flexible, f.name)


def _struct_writer(fields: tuple[Field, ...], version: int, flexible: bool) -> WriteFn:
    present = [
        (f.name, _default_value(f), _field_writer(f, version, flexible))
        for f in fields
        if f.in_version(version)
    ]

    def write(w: Writer, d: Any) -> None:
        get = d.get
        for name, default, fw in present:
            fw(w, get(name, default))
        if flexible:
            w.buf.append(0)  # no tagged fields

    return write


# ------------------------------------------------------------------ entry points


def _check_version(msg: Message, version: int) -> None:
    if not msg.covers[0] <= version <= msg.covers[1]:
        raise ValueError(f"{msg.name} v{version} is not defined (covers {msg.covers})")


@cache
def _compiled_reader(msg: Message, version: int) -> Reader:
    _check_version(msg, version)
    return _struct_reader(msg.fields, version, msg.is_flexible(version))


@cache
def _compiled_writer(msg: Message, version: int) -> WriteFn:
    _check_version(msg, version)
    return _struct_writer(msg.fields, version, msg.is_flexible(version))


def decode(msg: Message, version: int, buf: Buf | bytes, pos: int = 0) -> tuple[Struct, int]:
    """Decode one message at ``buf[pos:]``; returns it and the position after it."""
    read = _compiled_reader(msg, version)
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    try:
        value, end = read(view, pos)
    except (struct.error, IndexError) as exc:
        raise DecodeError(f"{msg.name} v{version} is truncated") from exc
    return value, end


def decode_all(msg: Message, version: int, buf: Buf | bytes, pos: int = 0) -> Struct:
    """Decode a message that must fill the buffer exactly."""
    value, end = decode(msg, version, buf, pos)
    if end != len(buf):
        raise DecodeError(f"{len(buf) - end} bytes after the end of {msg.name} v{version}")
    return value


def encode_into(w: Writer, msg: Message, version: int, value: Struct) -> None:
    try:
        _compiled_writer(msg, version)(w, value)
    except struct.error as exc:
        raise EncodeError(f"{msg.name} v{version}: {exc}") from exc


def encode(msg: Message, version: int, value: Struct) -> bytes:
    """Encode a message that holds no FileSlice."""
    w = Writer()
    encode_into(w, msg, version, value)
    if w.parts:
        raise EncodeError("encode() cannot hold a FileSlice; use encode_into()")
    return bytes(w.buf)


def compile_all(msg: Message) -> None:
    """Build every version's decoder and encoder now (startup, tests)."""
    for v in range(msg.covers[0], msg.covers[1] + 1):
        _compiled_reader(msg, v)
        _compiled_writer(msg, v)


__all__ = [
    "DecodeError",
    "EncodeError",
    "Writer",
    "Part",
    "SendableSlice",
    "Struct",
    "decode",
    "decode_all",
    "encode",
    "encode_into",
    "compile_all",
    "part_size",
    "read_uvarint",
    "write_uvarint",
    "skip_tagged_fields",
]
