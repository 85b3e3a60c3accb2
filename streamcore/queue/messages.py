"""Message contents: SQS's checks on bodies and message attributes, the MD5
digests clients verify, and the layout of a message record in a queue's log.

MD5OfMessageAttributes (and MD5OfMessageSystemAttributes) is the MD5 of this
buffer, attributes sorted by name, every length a 4-byte big-endian unsigned:

    for each attribute: len(name) name len(type) type TT len(value) value

where TT is 1 for a string value (String, Number and their ``.custom``
types; UTF-8 bytes) and 2 for a binary value (the raw bytes).  That buffer
is also how a message's attributes are stored: it is decodable, and the
digest of the whole set is its MD5.

A message is one record of the queue's log: the value is the body (UTF-8),
the timestamp is when it was sent, and the key holds the rest:

    message id (16 bytes) | delay seconds (u16, big-endian) | fields...

where each optional field is tag (u8), length (u32), bytes; see ``F_*``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..ascii_numbers import DECIMAL
from . import _native
from .errors import InvalidMessageContentsError, InvalidParameterValueError

MAX_MESSAGE_BYTES = 1_048_576
MAX_ATTRIBUTES = 10
MAX_ATTRIBUTE_NAME = 256
MAX_DATA_TYPE = 256

# Characters SQS accepts in a body or a string attribute value.
_BAD_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,256}\Z")

_ASCII_OK = b"\t\n\r" + bytes(range(0x20, 0x80))
_U32 = struct.Struct(">I")
_KEY_HEAD = struct.Struct(">16sH")
_FIELD_HEAD = struct.Struct(">BI")

# Optional fields of a message record's key.
F_ATTRIBUTES = 1  # the attribute buffer described above
F_SYSTEM_ATTRIBUTES = 2  # the same, for MessageSystemAttributes (AWSTraceHeader)
F_GROUP_ID = 3
F_DEDUP_ID = 4
F_DLQ_SOURCE_ARN = 5  # DeadLetterQueueSourceArn, once moved to a dead-letter queue
F_FIRST_SENT = 6  # u64 ms: the original send time of a moved message
F_SENDER_ID = 7
F_SOURCE_ARN = 8  # the queue a message came from (a move task's default destination)


def check_body(body: str) -> bytes:
    """The UTF-8 bytes of a valid body; MissingParameter/InvalidMessageContents otherwise."""
    if not body:
        from .errors import MissingParameterError

        raise MissingParameterError("The request must contain the parameter MessageBody.")
    try:
        raw = body.encode()
    except UnicodeEncodeError:  # lone surrogates
        raise InvalidMessageContentsError(
            "Invalid characters found. Deleted message contents.") from None
    # ASCII (the common case) is checked in C: delete the allowed bytes, nothing may remain
    if raw.translate(None, _ASCII_OK) if raw.isascii() else _BAD_CHARS.search(body):
        raise InvalidMessageContentsError("Invalid characters found. Deleted message contents.")
    return raw


def _check_number(name: str, value: str) -> None:
    if not DECIMAL.fullmatch(value):
        raise InvalidParameterValueError(
            f"Can't cast the value of message (user) attribute '{name}' to a number.")
    mantissa, _, exponent = value.lower().lstrip("+-").partition("e")
    digits = mantissa.replace(".", "").lstrip("0")
    if len(digits.rstrip("0")) > 38:
        raise InvalidParameterValueError(
            f"Value {value} for parameter MessageAttributeValue.{name} is invalid. "
            "Reason: Number exceeds the maximum of 38 digits of precision.")
    if digits:
        # decimal exponent of the leading significant digit
        int_digits = len(mantissa.lstrip("+-").split(".")[0].lstrip("0"))
        if int_digits:
            magnitude = int_digits - 1
        else:
            frac = mantissa.split(".")[1] if "." in mantissa else ""
            magnitude = -(len(frac) - len(frac.lstrip("0")) + 1)
        magnitude += int(exponent) if exponent else 0
        if magnitude > 126 or magnitude < -128:
            raise InvalidParameterValueError(
                f"Value {value} for parameter MessageAttributeValue.{name} is invalid. "
                "Reason: Number must be between 10^-128 and 10^126.")


def encode_attributes(attributes: Mapping[str, Mapping[str, Any]] | None,
                      *, system: bool = False) -> tuple[bytes, int]:
    """Check message attributes as SQS does; return (attribute buffer, size in bytes).

    Each value is a mapping with ``DataType`` and ``StringValue`` (str) or
    ``BinaryValue`` (bytes).  The size is what counts toward the message size
    limit: name, type and value bytes.  ``system``: MessageSystemAttributes,
    of which only AWSTraceHeader (a String) exists."""
    if not attributes:
        return b"", 0
    what = "message system attribute" if system else "message (user) attribute"
    if len(attributes) > MAX_ATTRIBUTES and not system:
        raise InvalidParameterValueError(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed "
            f"maximum [{MAX_ATTRIBUTES}].")
    parts: list[bytes] = []
    size = 0
    for name in sorted(attributes):
        value = attributes[name]
        if not isinstance(name, str):
            raise InvalidParameterValueError(f"The {what} name must be a string.")
        if system:
            if name != "AWSTraceHeader":
                raise InvalidParameterValueError(
                    f"Message system attribute name '{name}' is invalid.")
        elif (not _ATTR_NAME.match(name) or name.startswith(".") or name.endswith(".")
              or ".." in name or name.lower().startswith(("aws.", "amazon."))):
            raise InvalidParameterValueError(
                f"Message (user) attribute name '{name}' is invalid. Names may hold up to "
                "256 of A-Z a-z 0-9 _ - . and must not start or end with a period, hold two "
                "periods in a row, or start with AWS. or Amazon.")
        if not isinstance(value, Mapping):
            raise InvalidParameterValueError(f"The {what} '{name}' must have a value.")
        data_type = value.get("DataType")
        if not isinstance(data_type, str) or not data_type:
            raise InvalidParameterValueError(
                f"The {what} '{name}' must contain a non-empty attribute type.")
        base, dot, custom = data_type.partition(".")
        if (base not in ("String", "Number", "Binary") or (dot and not custom)
                or len(data_type) > MAX_DATA_TYPE or _BAD_CHARS.search(data_type)):
            raise InvalidParameterValueError(
                f"The type of {what} '{name}' is invalid. You must use only the following "
                "supported type prefixes: Binary, Number, String.")
        if system and data_type != "String":
            raise InvalidParameterValueError(
                f"The type of message system attribute '{name}' is invalid. "
                "You must use only String.")
        if value.get("StringListValues") or value.get("BinaryListValues"):
            raise InvalidParameterValueError(
                f"Message attribute list values in {what} '{name}' are not supported.")
        if base == "Binary":
            raw = value.get("BinaryValue")
            if isinstance(raw, (bytearray, memoryview)):
                raw = bytes(raw)
            if not isinstance(raw, bytes) or not raw or value.get("StringValue") is not None:
                raise InvalidParameterValueError(
                    f"The {what} '{name}' with type '{data_type}' must contain a non-empty "
                    "BinaryValue and no StringValue.")
            kind = b"\x02"
        else:
            text = value.get("StringValue")
            if not isinstance(text, str) or not text or value.get("BinaryValue") is not None:
                raise InvalidParameterValueError(
                    f"The {what} '{name}' with type '{data_type}' must contain a non-empty "
                    "StringValue and no BinaryValue.")
            if _BAD_CHARS.search(text):
                raise InvalidParameterValueError(
                    f"The {what} '{name}' contains characters that are not allowed.")
            if base == "Number":
                _check_number(name, text)
            raw = text.encode()
            kind = b"\x01"
        bname = name.encode()
        btype = data_type.encode()
        size += len(bname) + len(btype) + len(raw)
        parts += (_U32.pack(len(bname)), bname, _U32.pack(len(btype)), btype, kind,
                  _U32.pack(len(raw)), raw)
    return b"".join(parts), size


def decode_attributes(buf: bytes) -> list[tuple[str, str, bool, bytes]]:
    """The attributes in an attribute buffer: (name, type, is_binary, value bytes), by name."""
    out: list[tuple[str, str, bool, bytes]] = []
    pos = 0
    end = len(buf)
    u32 = _U32.unpack_from
    while pos < end:
        (n,) = u32(buf, pos)
        name = buf[pos + 4:pos + 4 + n].decode()
        pos += 4 + n
        (n,) = u32(buf, pos)
        dtype = buf[pos + 4:pos + 4 + n].decode()
        pos += 4 + n
        binary = buf[pos] == 2
        (n,) = u32(buf, pos + 1)
        value = buf[pos + 5:pos + 5 + n]
        pos += 5 + n
        out.append((name, dtype, binary, value))
    return out


md5_hex: Callable[[bytes], str] = _native.md5_hex


def select_attributes(buf: bytes, names: tuple[str, ...] | frozenset[str] | None
                      ) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The attributes a receive asked for, as {name: {DataType, StringValue|BinaryValue}},
    and the MD5 of exactly that subset (None when nothing is returned).

    ``names``: None or empty asks for none; ``All`` or ``.*`` for all; an exact
    name, or a prefix ending in ``.*`` (``foo.*``)."""
    if not buf or not names:
        return {}, None
    everything = "All" in names or ".*" in names
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*") and n != ".*")
    chosen: list[tuple[str, str, bool, bytes]] = []
    for item in decode_attributes(buf):
        name = item[0]
        if everything or name in names or (prefixes and name.startswith(prefixes)):
            chosen.append(item)
    if not chosen:
        return {}, None
    out: dict[str, dict[str, Any]] = {}
    parts: list[bytes] = []
    for name, dtype, binary, value in chosen:
        bname = name.encode()
        btype = dtype.encode()
        parts += (_U32.pack(len(bname)), bname, _U32.pack(len(btype)), btype,
                  b"\x02" if binary else b"\x01", _U32.pack(len(value)), value)
        if binary:
            out[name] = {"DataType": dtype, "BinaryValue": value}
        else:
            out[name] = {"DataType": dtype, "StringValue": value.decode()}
    return out, md5_hex(b"".join(parts))


@dataclass(slots=True)
class StoredMessage:
    """A message record decoded: what a receive returns besides state."""

    message_id: str
    body: str
    body_bytes: bytes
    sent_ms: int
    delay_seconds: int
    attributes: bytes
    system_attributes: bytes
    group_id: str | None
    dedup_id: str | None
    dlq_source_arn: str | None
    first_sent_ms: int | None
    sender_id: str | None
    source_arn: str | None


format_message_id: Callable[[bytes], str] = _native.format_message_id


def parse_message_id(text: str) -> bytes | None:
    h = text.replace("-", "")
    if len(h) != 32:
        return None
    try:
        return bytes.fromhex(h)
    except ValueError:
        return None


def encode_key(raw_id: bytes, delay_seconds: int, fields: list[tuple[int, bytes]] | None
               ) -> bytes:
    head = _KEY_HEAD.pack(raw_id, delay_seconds)
    if not fields:
        return head
    parts = [head]
    for tag, data in fields:
        parts.append(_FIELD_HEAD.pack(tag, len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_key(key: bytes) -> tuple[bytes, int, dict[int, bytes]]:
    raw_id, delay = _KEY_HEAD.unpack_from(key, 0)
    fields: dict[int, bytes] = {}
    pos = _KEY_HEAD.size
    end = len(key)
    while pos < end:
        tag, n = _FIELD_HEAD.unpack_from(key, pos)
        pos += _FIELD_HEAD.size
        fields[tag] = key[pos:pos + n]
        pos += n
    return raw_id, delay, fields


def decode_message(key: bytes, value: bytes, timestamp: int) -> StoredMessage:
    mid = format_message_id(key[:16])
    if len(key) == _KEY_HEAD.size:  # no optional field: the common case
        return StoredMessage(mid, value.decode(), value, timestamp, key[16] << 8 | key[17],
                             b"", b"", None, None, None, None, None, None)
    _, delay, f = decode_key(key)
    g = f.get(F_GROUP_ID)
    d = f.get(F_DEDUP_ID)
    dlq = f.get(F_DLQ_SOURCE_ARN)
    first = f.get(F_FIRST_SENT)
    sender = f.get(F_SENDER_ID)
    source = f.get(F_SOURCE_ARN)
    return StoredMessage(
        mid, value.decode(), value, timestamp, delay,
        f.get(F_ATTRIBUTES, b""), f.get(F_SYSTEM_ATTRIBUTES, b""),
        g.decode() if g is not None else None,
        d.decode() if d is not None else None,
        dlq.decode() if dlq is not None else None,
        struct.unpack(">q", first)[0] if first is not None else None,
        sender.decode() if sender is not None else None,
        source.decode() if source is not None else None,
    )
