"""The group coordinator's state machine, driven directly (Kafka's classic protocol rules)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streamcore import LogBroker
from streamcore.broker import ErrorCode
from streamcore.broker.groups import GroupCoordinator, GroupState
from streamcore.broker.offsets import CommittedOffset

PROTOCOLS = [("range", b"sub-range"), ("roundrobin", b"sub-rr")]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def coordinator(broker: LogBroker, **kw: int) -> GroupCoordinator:
    kw.setdefault("min_session_timeout_ms", 10)
    kw.setdefault("initial_rebalance_delay_ms", 0)
    return GroupCoordinator(broker.offsets, **kw)


async def join(c: GroupCoordinator, member: str = "", instance: str | None = None,
               session: int = 5000, rebalance: int = 5000, protocols: Any = PROTOCOLS,
               v4: bool = True) -> Any:
    return await c.join("g", member, instance, "client", "/127.0.0.1", session, rebalance,
                        "consumer", protocols, require_known_member_id=v4)


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    b = LogBroker(tmp_path)
    yield b
    b.close()


def test_member_id_required_then_a_one_member_generation(broker: LogBroker) -> None:
    async def main() -> None:
        c = coordinator(broker)
        first = await join(c)
        assert first.error == ErrorCode.MEMBER_ID_REQUIRED and first.member_id
        res = await join(c, first.member_id)
        assert (res.error, res.generation, res.protocol, res.leader) == (
            0, 1, "range", first.member_id)
        assert res.members == [(first.member_id, None, b"sub-range")]
        sync = await c.sync("g", 1, first.member_id, None, {first.member_id: b"A"})
        assert (sync.error, sync.assignment) == (0, b"A")
        assert c.groups["g"].state == GroupState.STABLE
        assert c.heartbeat("g", 1, first.member_id, None) == 0
        assert c.heartbeat("g", 0, first.member_id, None) == ErrorCode.ILLEGAL_GENERATION
        assert c.heartbeat("g", 1, "nobody", None) == ErrorCode.UNKNOWN_MEMBER_ID
        await c.close()

    run(main())


def test_a_second_member_triggers_a_rebalance(broker: LogBroker) -> None:
    async def main() -> None:
        c = coordinator(broker)
        a = (await join(c, v4=False)).member_id
        await c.sync("g", 1, a, None, {a: b"all"})
        b_join = asyncio.ensure_future(join(c, v4=False))
        await asyncio.sleep(0.01)
        assert c.heartbeat("g", 1, a, None) == ErrorCode.REBALANCE_IN_PROGRESS
        a_join = await join(c, a, v4=False)
        b_res = await b_join
        assert a_join.generation == b_res.generation == 2
        assert a_join.leader == a and len(a_join.members) == 2 and b_res.members == []
        b = b_res.member_id
        b_sync = asyncio.ensure_future(c.sync("g", 2, b, None, {}))
        await asyncio.sleep(0.01)
        assert not b_sync.done()  # followers wait for the leader's assignment
        a_sync = await c.sync("g", 2, a, None, {a: b"half-a", b: b"half-b"})
        assert a_sync.assignment == b"half-a" and (await b_sync).assignment == b"half-b"
        await c.close()

    run(main())


def test_inconsistent_protocols_and_bad_session_timeouts(broker: LogBroker) -> None:
    async def main() -> None:
        c = coordinator(broker, min_session_timeout_ms=6000)
        assert (await join(c, session=100)).error == ErrorCode.INVALID_SESSION_TIMEOUT
        c = coordinator(broker)
        a = (await join(c, v4=False)).member_id
        await c.sync("g", 1, a, None, {a: b""})
        other = await join(c, protocols=[("sticky", b"")], v4=False)
        assert other.error == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        await c.close()

    run(main())


def test_a_silent_member_is_expired_and_the_group_rebalances(broker: LogBroker) -> None:
    async def main() -> None:
        c = coordinator(broker)
        a = (await join(c, session=200, rebalance=200, v4=False)).member_id
        await c.sync("g", 1, a, None, {a: b""})
        b_join = asyncio.ensure_future(join(c, session=5000, rebalance=300, v4=False))
        res = await b_join  # a never rejoins: dropped when the rebalance times out
        assert res.generation == 2 and res.leader == res.member_id
        assert list(c.groups["g"].members) == [res.member_id]
        await c.sync("g", 2, res.member_id, None, {})
        await asyncio.sleep(0.5)
        assert c.groups["g"].state == GroupState.STABLE  # b's own session is longer
        await c.close()

    run(main())


def test_static_members_are_fenced_by_their_successor(broker: LogBroker) -> None:
    async def main() -> None:
        c = coordinator(broker)
        old = (await join(c, instance="i1")).member_id
        await c.sync("g", 1, old, "i1", {old: b"mine"})
        again = await join(c, instance="i1")  # restarted: new member id, same instance
        assert again.error == 0 and again.member_id != old and again.generation == 1
        assert c.heartbeat("g", 1, old, "i1") == ErrorCode.FENCED_INSTANCE_ID
        assert (await c.sync("g", 1, again.member_id, "i1", {})).assignment == b"mine"
        await c.close()

    run(main())


def test_offset_commit_rules(broker: LogBroker) -> None:
    async def main() -> None:
        c = coordinator(broker)
        assert c.commit_check("free", -1, "", None) == 0  # assign() consumers
        c.commit("free", [("t", 0, CommittedOffset(5))])
        a = (await join(c, v4=False)).member_id
        assert c.commit_check("g", 1, a, None) == ErrorCode.REBALANCE_IN_PROGRESS
        await c.sync("g", 1, a, None, {a: b""})
        assert c.commit_check("g", 1, a, None) == 0
        assert c.commit_check("g", 0, a, None) == ErrorCode.ILLEGAL_GENERATION
        assert c.commit_check("g", -1, "", None) == ErrorCode.UNKNOWN_MEMBER_ID
        assert c.commit_check("", -1, "", None) == ErrorCode.INVALID_GROUP_ID
        assert c.delete("g") == ErrorCode.NON_EMPTY_GROUP
        assert c.delete("free") == 0 and c.delete("free") == ErrorCode.GROUP_ID_NOT_FOUND
        await c.close()

    run(main())


def test_groups_come_back_after_a_restart(tmp_path: Path) -> None:
    async def first() -> str:
        with LogBroker(tmp_path) as b:
            c = coordinator(b)
            a = (await join(c, v4=False)).member_id
            await c.sync("g", 1, a, None, {a: b"assigned"})
            await c.close()
            return str(a)

    async def second(a: str) -> None:
        with LogBroker(tmp_path) as b:
            c = coordinator(b)
            g = c.groups["g"]
            assert (g.state, g.generation, g.leader, g.protocol) == (
                GroupState.STABLE, 1, a, "range")
            assert c.heartbeat("g", 1, a, None) == 0
            assert (await c.sync("g", 1, a, None, {})).assignment == b"assigned"
            await c.close()

    run(second(run(first())))
