"""Consumer groups: Kafka's classic group protocol, as its GroupCoordinator runs it.

States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and
back to PreparingRebalance whenever a member joins, leaves, changes its
protocols or misses its session timeout.  A rebalance ends when every member
has rejoined or the rebalance timeout passes (members that did not rejoin are
dropped; static members stay until their session expires); a new group first
waits ``group.initial.rebalance.delay.ms`` so that members starting together
land in one generation.  The leader's SyncGroup carries every member's
assignment; the group's metadata is then written to ``__consumer_offsets``
and the group restored from it after a restart.

JoinGroup v4+ asks unknown members to rejoin with the id they are given
(MEMBER_ID_REQUIRED); ``group.instance.id`` (v5+) makes a member static: it
keeps its place across restarts of the client.  Offsets may be committed by
members of the current generation, or by anyone with generation -1 while the
group has no members (``assign()`` consumers).

Runs on one asyncio event loop: joins and syncs are awaited, timeouts are
loop timers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from ..errors import StreamcoreError
from .errors import ErrorCode, kafka_error_code
from .offsets import CommittedOffset, OffsetStore, StoredGroup, StoredMember, now_ms

# A new member's id is its client id, "-", a UUID (as Kafka makes it); the client id part is
# cut to this many characters so that the id stays a Kafka string (at most 32,767 bytes).
MEMBER_ID_CLIENT_CHARS = 255

logger = logging.getLogger("streamcore.broker")


class GroupState(str, Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass
class JoinResult:
    error: int
    generation: int = -1
    protocol: str | None = None
    leader: str = ""
    member_id: str = ""
    members: list[tuple[str, str | None, bytes]] = field(default_factory=list)


@dataclass
class SyncResult:
    error: int
    assignment: bytes = b""


@dataclass(eq=False)
class Member:
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    join_future: asyncio.Future[JoinResult] | None = None
    sync_future: asyncio.Future[SyncResult] | None = None
    timer: asyncio.TimerHandle | None = None

    def metadata(self, protocol: str | None) -> bytes:
        for name, meta in self.protocols:
            if name == protocol:
                return meta
        return b""

    @property
    def awaiting(self) -> bool:
        return bool(
            (self.join_future and not self.join_future.done())
            or (self.sync_future and not self.sync_future.done())
        )


@dataclass(eq=False)
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    generation: int = 0
    protocol_type: str | None = None
    protocol: str | None = None
    leader: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    pending: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    static: dict[str, str] = field(default_factory=dict)
    join_timer: asyncio.TimerHandle | None = None
    join_started: float = 0.0
    joined_during_delay: bool = False
    initial_delay: bool = False


class GroupCoordinator:
    def __init__(
        self,
        offsets: OffsetStore,
        *,
        min_session_timeout_ms: int = 6000,
        max_session_timeout_ms: int = 1_800_000,
        initial_rebalance_delay_ms: int = 3000,
    ) -> None:
        self.offsets = offsets
        self.min_session_timeout_ms = min_session_timeout_ms
        self.max_session_timeout_ms = max_session_timeout_ms
        self.initial_rebalance_delay_ms = initial_rebalance_delay_ms
        self._loop = asyncio.get_running_loop()
        self.groups: dict[str, Group] = {}
        for group_id, stored in offsets.groups.items():
            self._restore(group_id, stored)

    # ------------------------------------------------------------------ persistence

    def _restore(self, group_id: str, s: StoredGroup) -> None:
        g = Group(group_id, generation=s.generation, protocol_type=s.protocol_type or None)
        if s.members:
            g.state = GroupState.STABLE
            g.protocol, g.leader = s.protocol, s.leader
            for sm in s.members:
                m = Member(
                    sm.member_id, sm.group_instance_id, sm.client_id, sm.client_host,
                    sm.session_timeout, sm.rebalance_timeout if sm.rebalance_timeout > 0
                    else sm.session_timeout, [(s.protocol or "", sm.subscription)], sm.assignment,
                )
                self._add(g, m)
                self._touch(g, m)
        self.groups[group_id] = g

    def _store(self, g: Group) -> ErrorCode:
        """Write the group's metadata to __consumer_offsets; the error when it cannot be
        (too large for the topic's max.message.bytes, or the disk failed), as Kafka
        answers it: UNKNOWN_SERVER_ERROR for a record too large, else the storage error."""
        try:
            self._write_group(g)
        except (StreamcoreError, OSError) as exc:
            logger.warning("group %s: its metadata was not stored: %s", g.group_id, exc)
            code = kafka_error_code(exc)
            return ErrorCode.UNKNOWN_SERVER_ERROR if code == ErrorCode.MESSAGE_TOO_LARGE else code
        return ErrorCode.NONE

    def _write_group(self, g: Group) -> None:
        self.offsets.store_group(
            g.group_id,
            StoredGroup(
                g.protocol_type or "",
                g.generation,
                g.protocol,
                g.leader,
                now_ms(),
                [
                    StoredMember(
                        m.member_id, m.instance_id, m.client_id, m.client_host,
                        m.rebalance_timeout_ms, m.session_timeout_ms,
                        m.metadata(g.protocol), m.assignment,
                    )
                    for m in g.members.values()
                ],
            ),
        )

    # ------------------------------------------------------------------ members

    def _add(self, g: Group, m: Member) -> None:
        g.members[m.member_id] = m
        if m.instance_id is not None:
            g.static[m.instance_id] = m.member_id
        if g.initial_delay:
            g.joined_during_delay = True

    def _remove(self, g: Group, m: Member) -> None:
        if m.timer:
            m.timer.cancel()
        g.members.pop(m.member_id, None)
        if m.instance_id is not None and g.static.get(m.instance_id) == m.member_id:
            del g.static[m.instance_id]
        self._answer_waits(m, ErrorCode.UNKNOWN_MEMBER_ID)
        if g.leader == m.member_id:
            g.leader = next(iter(g.members), None)

    @staticmethod
    def _answer_waits(m: Member, code: int) -> None:
        """End the member's pending JoinGroup or SyncGroup with an error."""
        if m.join_future and not m.join_future.done():
            m.join_future.set_result(JoinResult(code, member_id=m.member_id))
        if m.sync_future and not m.sync_future.done():
            m.sync_future.set_result(SyncResult(code))

    def _touch(self, g: Group, m: Member) -> None:
        """A sign of life: restart the member's session timer."""
        if m.timer:
            m.timer.cancel()
        m.timer = self._loop.call_later(m.session_timeout_ms / 1000, self._expire, g, m)

    def _expire(self, g: Group, m: Member) -> None:
        if g.members.get(m.member_id) is not m:
            return
        if m.awaiting:  # waiting in a join or a sync counts as alive
            self._touch(g, m)
            return
        self._remove(g, m)
        self._after_departure(g)

    def _after_departure(self, g: Group) -> None:
        if g.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._prepare_rebalance(g)
        elif g.state == GroupState.PREPARING_REBALANCE:
            self._maybe_complete_join(g)

    # ------------------------------------------------------------------ rebalance

    def _prepare_rebalance(self, g: Group) -> None:
        if g.state == GroupState.COMPLETING_REBALANCE:
            for m in g.members.values():
                m.assignment = b""
                if m.sync_future and not m.sync_future.done():
                    m.sync_future.set_result(SyncResult(ErrorCode.REBALANCE_IN_PROGRESS))
        if g.state == GroupState.PREPARING_REBALANCE:
            return
        was_empty = g.state == GroupState.EMPTY
        g.state = GroupState.PREPARING_REBALANCE
        g.join_started = self._loop.time()
        if was_empty and self.initial_rebalance_delay_ms > 0:
            g.initial_delay = True
            g.joined_during_delay = False
            delay = min(self.initial_rebalance_delay_ms, self._rebalance_timeout_ms(g))
        else:
            g.initial_delay = False
            delay = self._rebalance_timeout_ms(g)
        g.join_timer = self._loop.call_later(delay / 1000, self._join_timer_fired, g)

    @staticmethod
    def _rebalance_timeout_ms(g: Group) -> int:
        return max((m.rebalance_timeout_ms for m in g.members.values()), default=0)

    def _join_timer_fired(self, g: Group) -> None:
        if g.state != GroupState.PREPARING_REBALANCE:
            return
        if g.initial_delay and g.joined_during_delay:
            spent = (self._loop.time() - g.join_started) * 1000
            left = self._rebalance_timeout_ms(g) - spent
            if left > 0:  # members are still arriving: wait one more delay
                g.joined_during_delay = False
                delay = min(self.initial_rebalance_delay_ms, left)
                g.join_timer = self._loop.call_later(delay / 1000, self._join_timer_fired, g)
                return
        self._complete_join(g)

    def _maybe_complete_join(self, g: Group) -> None:
        if g.state != GroupState.PREPARING_REBALANCE or g.initial_delay:
            return
        if all(m.join_future and not m.join_future.done() for m in g.members.values()):
            self._complete_join(g)

    def _complete_join(self, g: Group) -> None:
        if g.join_timer:
            g.join_timer.cancel()
            g.join_timer = None
        g.initial_delay = False
        for m in list(g.members.values()):
            rejoined = m.join_future is not None and not m.join_future.done()
            if not rejoined and m.instance_id is None:
                self._remove(g, m)
        g.generation += 1
        joined = [m for m in g.members.values() if m.join_future and not m.join_future.done()]
        if not joined:
            g.state = GroupState.EMPTY
            g.protocol = g.leader = None
            self._store(g)
            return
        g.protocol = self._select_protocol(g)
        if g.leader not in g.members or g.members[g.leader] not in joined:
            g.leader = joined[0].member_id
        g.state = GroupState.COMPLETING_REBALANCE
        everyone = self._member_list(g)
        for m in joined:
            assert m.join_future is not None
            m.join_future.set_result(
                JoinResult(
                    ErrorCode.NONE,
                    g.generation,
                    g.protocol,
                    g.leader or "",
                    m.member_id,
                    everyone if m.member_id == g.leader else [],
                )
            )
            self._touch(g, m)

    @staticmethod
    def _select_protocol(g: Group) -> str | None:
        members = list(g.members.values())
        candidates = set.intersection(*({n for n, _ in m.protocols} for m in members))
        votes: dict[str, int] = {}
        for m in members:
            for name, _ in m.protocols:
                if name in candidates:
                    votes[name] = votes.get(name, 0) + 1
                    break
        order = [n for n, _ in members[0].protocols if n in candidates]
        return max(order, key=lambda n: (votes.get(n, 0), -order.index(n)), default=None)

    @staticmethod
    def _member_list(g: Group) -> list[tuple[str, str | None, bytes]]:
        return [(x.member_id, x.instance_id, x.metadata(g.protocol)) for x in g.members.values()]

    def _current_join(self, g: Group, m: Member) -> JoinResult:
        everyone = self._member_list(g)
        return JoinResult(
            ErrorCode.NONE, g.generation, g.protocol, g.leader or "", m.member_id,
            everyone if m.member_id == g.leader else [],
        )

    # ------------------------------------------------------------------ JoinGroup

    def _consistent(self, g: Group, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        if not protocol_type or not protocols:
            return False
        if not g.members:
            return True
        if protocol_type != g.protocol_type:
            return False
        names = {n for n, _ in protocols}
        return all(names & {n for n, _ in m.protocols} for m in g.members.values())

    async def join(
        self,
        group_id: str,
        member_id: str,
        instance_id: str | None,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: list[tuple[str, bytes]],
        require_known_member_id: bool,
    ) -> JoinResult:
        if not group_id:
            return JoinResult(ErrorCode.INVALID_GROUP_ID, member_id=member_id)
        if not self.min_session_timeout_ms <= session_timeout_ms <= self.max_session_timeout_ms:
            return JoinResult(ErrorCode.INVALID_SESSION_TIMEOUT, member_id=member_id)
        if rebalance_timeout_ms <= 0:
            rebalance_timeout_ms = session_timeout_ms
        g = self.groups.get(group_id)
        if g is None:
            if member_id:
                return JoinResult(ErrorCode.UNKNOWN_MEMBER_ID, member_id=member_id)
            g = self.groups[group_id] = Group(group_id)
        if not self._consistent(g, protocol_type, protocols):
            return JoinResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, member_id=member_id)

        def new_member(mid: str) -> Member:
            return Member(
                mid, instance_id, client_id, client_host, session_timeout_ms,
                rebalance_timeout_ms, protocols,
            )

        if not member_id:
            new_id = f"{client_id[:MEMBER_ID_CLIENT_CHARS]}-{uuid.uuid4()}"
            if instance_id is not None and instance_id in g.static:
                return await self._rejoin_static(g, g.members[g.static[instance_id]], new_id,
                                                 session_timeout_ms, rebalance_timeout_ms,
                                                 protocols)
            if instance_id is None and require_known_member_id:
                g.pending[new_id] = self._loop.call_later(
                    session_timeout_ms / 1000, g.pending.pop, new_id, None
                )
                return JoinResult(ErrorCode.MEMBER_ID_REQUIRED, member_id=new_id)
            m = new_member(new_id)
            self._add(g, m)
            if g.protocol_type is None or len(g.members) == 1:
                g.protocol_type = protocol_type
            return await self._await_join(g, m)
        if member_id in g.pending:
            g.pending.pop(member_id).cancel()
            m = new_member(member_id)
            self._add(g, m)
            if len(g.members) == 1:
                g.protocol_type = protocol_type
            return await self._await_join(g, m)
        existing = g.members.get(member_id)
        if existing is None:
            return JoinResult(ErrorCode.UNKNOWN_MEMBER_ID, member_id=member_id)
        if instance_id is not None and g.static.get(instance_id, member_id) != member_id:
            return JoinResult(ErrorCode.FENCED_INSTANCE_ID, member_id=member_id)
        existing.session_timeout_ms = session_timeout_ms
        existing.rebalance_timeout_ms = rebalance_timeout_ms
        unchanged = existing.protocols == protocols
        existing.protocols = protocols
        if g.state == GroupState.COMPLETING_REBALANCE and unchanged:
            return self._current_join(g, existing)
        if g.state == GroupState.STABLE and unchanged and member_id != g.leader:
            self._touch(g, existing)
            return self._current_join(g, existing)
        return await self._await_join(g, existing)

    async def _rejoin_static(
        self,
        g: Group,
        m: Member,
        new_id: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocols: list[tuple[str, bytes]],
    ) -> JoinResult:
        """A known group.instance.id with a new member id: it replaces its old self."""
        old_id = m.member_id
        self._answer_waits(m, ErrorCode.FENCED_INSTANCE_ID)
        del g.members[old_id]
        m.member_id = new_id
        g.members[new_id] = m
        assert m.instance_id is not None
        g.static[m.instance_id] = new_id
        if g.leader == old_id:
            g.leader = new_id
        m.session_timeout_ms, m.rebalance_timeout_ms = session_timeout_ms, rebalance_timeout_ms
        unchanged = m.protocols == protocols
        m.protocols = protocols
        if g.state == GroupState.STABLE and unchanged:
            self._store(g)
            self._touch(g, m)
            return self._current_join(g, m)
        return await self._await_join(g, m)

    async def _await_join(self, g: Group, m: Member) -> JoinResult:
        m.join_future = self._loop.create_future()
        fut = m.join_future
        if g.state != GroupState.PREPARING_REBALANCE:
            self._prepare_rebalance(g)
        self._maybe_complete_join(g)
        return await fut

    # ------------------------------------------------------------------ Sync / Heartbeat / Leave

    def _member(
        self, group_id: str, generation: int, member_id: str, instance_id: str | None
    ) -> tuple[Group, Member] | int:
        g = self.groups.get(group_id)
        if g is None or g.state == GroupState.DEAD:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if instance_id is not None and g.static.get(instance_id, member_id) != member_id:
            return ErrorCode.FENCED_INSTANCE_ID  # its successor holds the instance id
        m = g.members.get(member_id)
        if m is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if generation != g.generation:
            return ErrorCode.ILLEGAL_GENERATION
        return g, m

    async def sync(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        instance_id: str | None,
        assignments: dict[str, bytes],
    ) -> SyncResult:
        found = self._member(group_id, generation, member_id, instance_id)
        if isinstance(found, int):
            return SyncResult(found)
        g, m = found
        self._touch(g, m)
        if g.state == GroupState.PREPARING_REBALANCE:
            return SyncResult(ErrorCode.REBALANCE_IN_PROGRESS)
        if g.state == GroupState.STABLE:
            return SyncResult(ErrorCode.NONE, m.assignment)
        if g.state != GroupState.COMPLETING_REBALANCE:
            return SyncResult(ErrorCode.UNKNOWN_MEMBER_ID)
        fut: asyncio.Future[SyncResult] = self._loop.create_future()
        m.sync_future = fut
        if member_id == g.leader:
            for x in g.members.values():
                x.assignment = assignments.get(x.member_id, b"")
            code = self._store(g)
            if code != ErrorCode.NONE:  # as Kafka: every member gets the error, then a rebalance
                for x in g.members.values():
                    x.assignment = b""
                    if x.sync_future and not x.sync_future.done():
                        x.sync_future.set_result(SyncResult(code))
                self._prepare_rebalance(g)
                return await fut
            g.state = GroupState.STABLE
            for x in g.members.values():
                if x.sync_future and not x.sync_future.done():
                    x.sync_future.set_result(SyncResult(ErrorCode.NONE, x.assignment))
        return await fut

    def heartbeat(
        self, group_id: str, generation: int, member_id: str, instance_id: str | None
    ) -> int:
        found = self._member(group_id, generation, member_id, instance_id)
        if isinstance(found, int):
            return found
        g, m = found
        self._touch(g, m)
        if g.state == GroupState.PREPARING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        return ErrorCode.NONE

    def leave(
        self, group_id: str, members: list[tuple[str, str | None]]
    ) -> tuple[int, list[tuple[str, str | None, int]]]:
        """LeaveGroup: the top-level error and one (member, instance, error) per member."""
        g = self.groups.get(group_id)
        if g is None or g.state == GroupState.DEAD:
            return ErrorCode.UNKNOWN_MEMBER_ID, [
                (mid, iid, ErrorCode.UNKNOWN_MEMBER_ID) for mid, iid in members
            ]
        results = []
        left = False
        for member_id, instance_id in members:
            if instance_id is not None:
                known = g.static.get(instance_id)
                if known is None:
                    code = ErrorCode.UNKNOWN_MEMBER_ID
                elif member_id and member_id != known:
                    code = ErrorCode.FENCED_INSTANCE_ID
                else:
                    self._remove(g, g.members[known])
                    code, left = ErrorCode.NONE, True
            elif member_id in g.pending:
                g.pending.pop(member_id).cancel()
                code = ErrorCode.NONE
            elif member_id in g.members:
                self._remove(g, g.members[member_id])
                code, left = ErrorCode.NONE, True
            else:
                code = ErrorCode.UNKNOWN_MEMBER_ID
            results.append((member_id, instance_id, int(code)))
        if left:
            self._after_departure(g)
        top = results[0][2] if len(results) == 1 else ErrorCode.NONE
        return int(top), results

    # ------------------------------------------------------------------ offsets

    def commit_check(
        self, group_id: str, generation: int, member_id: str, instance_id: str | None
    ) -> int:
        """Whether this member may commit offsets now (an error code; NONE: yes)."""
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID
        g = self.groups.get(group_id)
        if g is None:
            if generation < 0:
                return ErrorCode.NONE
            return ErrorCode.ILLEGAL_GENERATION
        if g.state == GroupState.DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if generation < 0 and g.state == GroupState.EMPTY:
            return ErrorCode.NONE
        if instance_id is not None and g.static.get(instance_id, member_id) != member_id:
            return ErrorCode.FENCED_INSTANCE_ID
        m = g.members.get(member_id)
        if m is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if generation != g.generation:
            return ErrorCode.ILLEGAL_GENERATION
        if g.state == GroupState.COMPLETING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        self._touch(g, m)
        return ErrorCode.NONE

    def commit(
        self, group_id: str, offsets: Iterable[tuple[str, int, CommittedOffset]]
    ) -> ErrorCode:
        """Store committed offsets; the error for all of them when they cannot be stored
        (INVALID_COMMIT_OFFSET_SIZE when too large for __consumer_offsets, as Kafka)."""
        if group_id not in self.groups:
            self.groups[group_id] = Group(group_id)
        try:
            self.offsets.commit(group_id, offsets)
        except (StreamcoreError, OSError) as exc:
            logger.warning("group %s: offsets not committed: %s", group_id, exc)
            code = kafka_error_code(exc)
            return ErrorCode.INVALID_COMMIT_OFFSET_SIZE if code == ErrorCode.MESSAGE_TOO_LARGE \
                else code
        return ErrorCode.NONE

    # ------------------------------------------------------------------ describe / list / delete

    def group_ids(self) -> list[str]:
        ids = {gid for gid, g in self.groups.items() if g.state != GroupState.DEAD}
        return sorted(ids | self.offsets.group_ids())

    def describe(self, group_id: str) -> Group | None:
        g = self.groups.get(group_id)
        if g is None and group_id in self.offsets.group_ids():
            g = self.groups[group_id] = Group(group_id)
        return g

    def delete(self, group_id: str) -> int:
        g = self.groups.get(group_id)
        if g is None and group_id not in self.offsets.group_ids():
            return ErrorCode.GROUP_ID_NOT_FOUND
        if g is not None and g.state not in (GroupState.EMPTY, GroupState.DEAD):
            return ErrorCode.NON_EMPTY_GROUP
        self.offsets.delete_group(group_id)
        self.groups.pop(group_id, None)
        return ErrorCode.NONE

    async def close(self) -> None:
        for g in self.groups.values():
            if g.join_timer:
                g.join_timer.cancel()
            for h in g.pending.values():
                h.cancel()
            for m in g.members.values():
                if m.timer:
                    m.timer.cancel()
                for fut in (m.join_future, m.sync_future):
                    if fut and not fut.done():
                        fut.cancel()
