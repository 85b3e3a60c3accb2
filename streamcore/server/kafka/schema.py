"""The vocabulary the Kafka message definitions are written in.

A message is a list of fields; a field has a wire type, the versions it is on
the wire in, the versions in which it may be null, and a default.  This is the
shape of Kafka's own message schemas (one JSON file per message upstream);
``messages*.py`` restate the messages streamcore serves in this vocabulary and
``codec.py`` turns a (message, version) pair into a decoder and an encoder.

Field names are Kafka's, in snake_case (``TopicData`` -> ``topic_data``).
Tagged fields (flexible versions only) are not declared: decoders skip every
tag, encoders write an empty tag section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Primitive wire types.
INT8 = "int8"
INT16 = "int16"
INT32 = "int32"
INT64 = "int64"
BOOL = "bool"
STRING = "string"
BYTES = "bytes"
RECORDS = "records"  # a record-batch blob, framed like bytes; decoded without a copy
UUID = "uuid"

PRIMITIVES = frozenset({INT8, INT16, INT32, INT64, BOOL, STRING, BYTES, RECORDS, UUID})

INF = 1 << 15  # "N+" in a version range


@dataclass(frozen=True)
class Array:
    """An array of a primitive type (``[]int32``)."""

    of: str


FieldType = str | Array | tuple["Field", ...]  # a tuple of fields = array of structs


def versions(spec: str | None) -> tuple[int, int]:
    """Parse a schema version range: ``"3+"``, ``"0-7"``, ``"1"``; None = never."""
    if spec is None or spec == "none":
        return (1, 0)
    if spec.endswith("+"):
        return (int(spec[:-1]), INF)
    lo, sep, hi = spec.partition("-")
    return (int(lo), int(hi) if sep else int(lo))


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    present: tuple[int, int]
    nullable: tuple[int, int]
    default: object

    def in_version(self, v: int) -> bool:
        return self.present[0] <= v <= self.present[1]

    def nullable_in(self, v: int) -> bool:
        return self.nullable[0] <= v <= self.nullable[1]


_NO_DEFAULT = object()


def F(
    name: str,
    type: str | Array | list[Field],
    versions_spec: str = "0+",
    *,
    nullable: str | None = None,
    default: object = _NO_DEFAULT,
) -> Field:
    """One field, written as in Kafka's schema: ``F("acks", INT16, "0+")``.

    ``type`` is a primitive, ``Array(primitive)`` or a list of fields (an
    array of structs).  Without ``default`` a field defaults as Kafka's
    generated code does: 0, False, "", empty array; ``default=None`` is null.
    """
    ftype: FieldType = tuple(type) if isinstance(type, list) else type
    if isinstance(ftype, str) and ftype not in PRIMITIVES:
        raise ValueError(f"unknown type {ftype!r} for field {name}")
    if default is _NO_DEFAULT:
        default = _type_default(ftype)
    return Field(name, ftype, versions(versions_spec), versions(nullable), default)


def _type_default(t: FieldType) -> object:
    if isinstance(t, (Array, tuple)):
        return ()
    if t == BOOL:
        return False
    if t == STRING:
        return ""
    if t in (BYTES, RECORDS):
        return b""
    if t == UUID:
        return bytes(16)
    return 0


@dataclass(frozen=True, eq=False)
class Message:
    """A request, a response or a stored record (``api_key`` None).

    ``covers`` is the range of versions the field list is complete for;
    ``flexible`` the first flexible version (None: never).  Each message is
    defined once, so it compares and hashes by identity: the codec's caches
    look it up on every request without hashing its whole field tree.
    """

    name: str
    api_key: int | None
    covers: tuple[int, int]
    flexible: int | None
    fields: tuple[Field, ...] = field(default=())

    def is_flexible(self, version: int) -> bool:
        return self.flexible is not None and version >= self.flexible


def message(
    name: str,
    api_key: int | None,
    covers: str,
    flexible: int | None,
    fields: list[Field],
) -> Message:
    return Message(name, api_key, versions(covers), flexible, tuple(fields))
