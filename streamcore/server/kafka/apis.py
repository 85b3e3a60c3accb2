"""The API versions streamcore advertises, and how it frames requests and responses.

Every advertised version is non-flexible except ApiVersions v3 (clients probe
with it first), and every advertised version is implemented.  Produce v0-v2
are advertised but refused, as Apache Kafka 4 does: librdkafka before 2.11.1
silently turns compression off against a broker that does not list Produce v0.

A request header is v1 (non-flexible request) or v2 (flexible: a tag section
after the client id, which stays an int16 string).  A response header is v0,
plus a tag section for flexible responses other than ApiVersions, whose
response header is always v0.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import messages as m
from . import messages_admin as a
from . import messages_groups as g
from .codec import Buf, DecodeError, Part, part_size, skip_tagged_fields
from .schema import Message


@dataclass(frozen=True)
class ApiSpec:
    key: int
    name: str
    request: Message
    response: Message
    min_version: int
    max_version: int
    refused_below: int = -1  # versions under this are advertised but close the connection

    def supports(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version


API_VERSIONS_KEY = 18
PRODUCE_KEY = 0

APIS: dict[int, ApiSpec] = {
    s.key: s
    for s in (
        ApiSpec(0, "Produce", m.PRODUCE_REQUEST, m.PRODUCE_RESPONSE, 0, 8, refused_below=3),
        ApiSpec(1, "Fetch", m.FETCH_REQUEST, m.FETCH_RESPONSE, 4, 11),
        ApiSpec(2, "ListOffsets", m.LIST_OFFSETS_REQUEST, m.LIST_OFFSETS_RESPONSE, 1, 5),
        ApiSpec(3, "Metadata", m.METADATA_REQUEST, m.METADATA_RESPONSE, 0, 8),
        ApiSpec(8, "OffsetCommit", g.OFFSET_COMMIT_REQUEST, g.OFFSET_COMMIT_RESPONSE, 2, 7),
        ApiSpec(9, "OffsetFetch", g.OFFSET_FETCH_REQUEST, g.OFFSET_FETCH_RESPONSE, 1, 5),
        ApiSpec(
            10, "FindCoordinator", g.FIND_COORDINATOR_REQUEST, g.FIND_COORDINATOR_RESPONSE, 0, 2
        ),
        ApiSpec(11, "JoinGroup", g.JOIN_GROUP_REQUEST, g.JOIN_GROUP_RESPONSE, 0, 5),
        ApiSpec(12, "Heartbeat", g.HEARTBEAT_REQUEST, g.HEARTBEAT_RESPONSE, 0, 3),
        ApiSpec(13, "LeaveGroup", g.LEAVE_GROUP_REQUEST, g.LEAVE_GROUP_RESPONSE, 0, 3),
        ApiSpec(14, "SyncGroup", g.SYNC_GROUP_REQUEST, g.SYNC_GROUP_RESPONSE, 0, 3),
        ApiSpec(15, "DescribeGroups", g.DESCRIBE_GROUPS_REQUEST, g.DESCRIBE_GROUPS_RESPONSE, 0, 4),
        ApiSpec(16, "ListGroups", g.LIST_GROUPS_REQUEST, g.LIST_GROUPS_RESPONSE, 0, 2),
        ApiSpec(18, "ApiVersions", m.API_VERSIONS_REQUEST, m.API_VERSIONS_RESPONSE, 0, 3),
        ApiSpec(19, "CreateTopics", a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 2, 4),
        ApiSpec(20, "DeleteTopics", a.DELETE_TOPICS_REQUEST, a.DELETE_TOPICS_RESPONSE, 1, 3),
        ApiSpec(21, "DeleteRecords", a.DELETE_RECORDS_REQUEST, a.DELETE_RECORDS_RESPONSE, 0, 1),
        ApiSpec(
            22, "InitProducerId", a.INIT_PRODUCER_ID_REQUEST, a.INIT_PRODUCER_ID_RESPONSE, 0, 1
        ),
        ApiSpec(
            32, "DescribeConfigs", a.DESCRIBE_CONFIGS_REQUEST, a.DESCRIBE_CONFIGS_RESPONSE, 1, 3
        ),
        ApiSpec(33, "AlterConfigs", a.ALTER_CONFIGS_REQUEST, a.ALTER_CONFIGS_RESPONSE, 0, 1),
        ApiSpec(
            37,
            "CreatePartitions",
            a.CREATE_PARTITIONS_REQUEST,
            a.CREATE_PARTITIONS_RESPONSE,
            0,
            1,
        ),
        ApiSpec(42, "DeleteGroups", g.DELETE_GROUPS_REQUEST, g.DELETE_GROUPS_RESPONSE, 0, 1),
        ApiSpec(
            44,
            "IncrementalAlterConfigs",
            a.INCREMENTAL_ALTER_CONFIGS_REQUEST,
            a.INCREMENTAL_ALTER_CONFIGS_RESPONSE,
            0,
            0,
        ),
    )
}


def advertised() -> list[dict[str, int]]:
    """The ApiVersions answer: one entry per API key, in key order."""
    return [
        {"api_key": s.key, "min_version": s.min_version, "max_version": s.max_version}
        for s in sorted(APIS.values(), key=lambda s: s.key)
    ]


# ------------------------------------------------------------------ headers

_HEAD = struct.Struct(">hhi")
_I16 = struct.Struct(">h")
_FRAME = struct.Struct(">i")
_CORR = struct.Struct(">ii")


@dataclass(frozen=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: int  # position of the body in the frame


def peek_header(frame: Buf) -> tuple[int, int, int]:
    """api_key, api_version, correlation_id: enough to answer or refuse any request."""
    if len(frame) < _HEAD.size:
        raise DecodeError("request shorter than its header")
    key, version, corr = _HEAD.unpack_from(frame, 0)
    return int(key), int(version), int(corr)


def parse_header(frame: Buf, flexible: bool) -> RequestHeader:
    """The whole request header (v1, or v2 when the request version is flexible)."""
    key, version, corr = peek_header(frame)
    pos = _HEAD.size
    if len(frame) < pos + 2:
        raise DecodeError("request header truncated")
    (n,) = _I16.unpack_from(frame, pos)
    pos += 2
    client_id: str | None = None
    if n >= 0:
        if pos + n > len(frame):
            raise DecodeError("client id runs past the end of the request")
        try:
            client_id = str(frame[pos : pos + n], "utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("client id is not UTF-8") from exc
        pos += n
    elif n != -1:
        raise DecodeError(f"invalid client id length {n}")
    if flexible:
        pos = skip_tagged_fields(frame, pos)
    return RequestHeader(key, version, corr, client_id, pos)


def response_frame(correlation_id: int, tagged_header: bool, body: list[Part]) -> list[Part]:
    """Size prefix + response header + body parts."""
    size = 4 + (1 if tagged_header else 0) + sum(part_size(p) for p in body)
    head = bytearray(_CORR.pack(size, correlation_id))
    if tagged_header:
        head.append(0)
    if body and isinstance(body[0], bytearray):
        head += body[0]
        return [head, *body[1:]]
    return [head, *body]


def response_header_tagged(spec: ApiSpec, version: int) -> bool:
    return spec.key != API_VERSIONS_KEY and spec.response.is_flexible(version)


def frame_size(prefix: bytes | Buf) -> int:
    (n,) = _FRAME.unpack_from(prefix, 0)
    return int(n)
