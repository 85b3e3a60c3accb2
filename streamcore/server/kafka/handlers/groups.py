"""FindCoordinator and the classic group APIs, over the broker's GroupCoordinator.

This broker coordinates every group.  JoinGroup v4+ gets the
MEMBER_ID_REQUIRED round trip, v5+ static membership; LeaveGroup v3+ removes
a batch of members.
"""

from __future__ import annotations

from ....broker import ErrorCode
from ....broker.groups import GroupCoordinator
from ..codec import Struct
from .context import Request, ServerState

COORDINATOR_KEY_GROUP = 0


def _coordinator(srv: ServerState) -> GroupCoordinator:
    g = srv.groups
    assert isinstance(g, GroupCoordinator)
    return g


async def find_coordinator(srv: ServerState, r: Request) -> Struct:
    out: Struct = {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
                   "node_id": srv.node_id, "host": srv.host, "port": srv.port}
    if r.body["key_type"] != COORDINATOR_KEY_GROUP:
        out.update(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE, node_id=-1, host="", port=-1,
                   error_message="transactions are not supported")
    return out


async def join_group(srv: ServerState, r: Request) -> Struct:
    b = r.body
    res = await _coordinator(srv).join(
        b["group_id"],
        b["member_id"],
        b["group_instance_id"],
        r.client_id or "",
        r.client_host,
        b["session_timeout_ms"],
        b["rebalance_timeout_ms"] if r.version >= 1 else b["session_timeout_ms"],
        b["protocol_type"],
        [(p["name"], p["metadata"]) for p in b["protocols"]],
        require_known_member_id=r.version >= 4,
    )
    return {
        "throttle_time_ms": 0,
        "error_code": int(res.error),
        "generation_id": res.generation,
        "protocol_name": res.protocol or "",
        "leader": res.leader,
        "member_id": res.member_id,
        "members": [
            {"member_id": m, "group_instance_id": i, "metadata": meta} for m, i, meta in res.members
        ],
    }


async def sync_group(srv: ServerState, r: Request) -> Struct:
    b = r.body
    res = await _coordinator(srv).sync(
        b["group_id"],
        b["generation_id"],
        b["member_id"],
        b["group_instance_id"],
        {a["member_id"]: a["assignment"] for a in b["assignments"]},
    )
    return {"throttle_time_ms": 0, "error_code": int(res.error), "assignment": res.assignment}


async def heartbeat(srv: ServerState, r: Request) -> Struct:
    b = r.body
    code = _coordinator(srv).heartbeat(
        b["group_id"], b["generation_id"], b["member_id"], b["group_instance_id"]
    )
    return {"throttle_time_ms": 0, "error_code": int(code)}


async def leave_group(srv: ServerState, r: Request) -> Struct:
    b = r.body
    if r.version >= 3:
        members = [(m["member_id"], m["group_instance_id"]) for m in b["members"]]
    else:
        members = [(b["member_id"], None)]
    top, results = _coordinator(srv).leave(b["group_id"], members)
    return {
        "throttle_time_ms": 0,
        "error_code": top if r.version < 3 else 0,
        "members": [
            {"member_id": m, "group_instance_id": i, "error_code": e} for m, i, e in results
        ],
    }


async def describe_groups(srv: ServerState, r: Request) -> Struct:
    coord = _coordinator(srv)
    out = []
    for group_id in r.body["groups"]:
        g = coord.describe(group_id)
        if g is None:
            out.append({"error_code": 0, "group_id": group_id, "group_state": "Dead",
                        "protocol_type": "", "protocol_data": "", "members": []})
            continue
        out.append(
            {
                "error_code": 0,
                "group_id": group_id,
                "group_state": g.state.value,
                "protocol_type": g.protocol_type or "",
                "protocol_data": g.protocol or "",
                "members": [
                    {
                        "member_id": m.member_id,
                        "group_instance_id": m.instance_id,
                        "client_id": m.client_id,
                        "client_host": m.client_host,
                        "member_metadata": m.metadata(g.protocol),
                        "member_assignment": m.assignment,
                    }
                    for m in g.members.values()
                ],
            }
        )
    return {"throttle_time_ms": 0, "groups": out}


async def list_groups(srv: ServerState, r: Request) -> Struct:
    coord = _coordinator(srv)
    groups = []
    for group_id in coord.group_ids():
        g = coord.groups.get(group_id)
        protocol_type = g.protocol_type if g is not None and g.protocol_type else ""
        groups.append({"group_id": group_id, "protocol_type": protocol_type})
    return {"throttle_time_ms": 0, "error_code": 0, "groups": groups}


async def delete_groups(srv: ServerState, r: Request) -> Struct:
    coord = _coordinator(srv)
    return {
        "throttle_time_ms": 0,
        "results": [
            {"group_id": gid, "error_code": int(coord.delete(gid))}
            for gid in r.body["groups_names"]
        ],
    }
