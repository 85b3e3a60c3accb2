"""``QueueService``: the queues of one data directory, with SQS's names and rules.

Queues are namespaced by region and account, as in AWS.  Their metadata
(attributes, tags, policy, creation time, and deletions, for the 60-second
rule) is the queue directory: records of a log of the same storage core,
the latest record per queue winning.  The directory log is rewritten (live
entries appended again, older records given back) once mostly stale.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

import streamcore

from . import attributes as qattrs
from .errors import (
    InvalidParameterValueError,
    OverLimitError,
    QueueDeletedRecentlyError,
    QueueDoesNotExistError,
    QueueNameExistsError,
    from_storage,
)
from .handles import HandleSigner, load_or_create_key
from .movetasks import MoveTaskRunner
from .queue import Queue
from .results import MoveTask
from .store import DIRECTORY_LOG, JOURNAL_OPTIONS, open_manager

_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}\Z")
_REGION = re.compile(r"[a-z0-9-]{1,32}\Z")
_ACCOUNT = re.compile(r"[0-9]{12}\Z")
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}\Z")
DELETED_RECENTLY_MS = 60_000
MAX_TAGS = 50
PERMISSION_ACTIONS = frozenset((
    "*", "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
    "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues", "PurgeQueue",
    "ListQueueTags", "SetQueueAttributes", "DeleteQueue", "TagQueue", "UntagQueue",
    "StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks",
))

QueueKey = tuple[str, str, str]  # (region, account, name)


def parse_arn(arn: object) -> QueueKey | None:
    """(region, account, name) of an SQS queue ARN, None if it is not one."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        return None
    return parts[3], parts[4], parts[5]


class QueueService:
    """The queue service over one data directory (``data_dir/queues``).

    ``region`` and ``account_id`` are the defaults for calls that do not name
    them.  ``flush`` is the storage flush policy of every queue log
    (``never``: an acknowledged change survives the process being killed;
    ``always``: it also survives losing power; ``interval``: power loss
    costs at most ``flush_interval_ms``).  Thread-safe."""

    def __init__(self, data_dir: str | os.PathLike[str], *, region: str = "us-east-1",
                 account_id: str = "000000000000", flush: str = "never",
                 flush_interval_ms: int | None = None, checkpoint_ops: int = 100_000,
                 checkpoint_interval_ms: int = 60_000) -> None:
        if not _REGION.match(region) or not _ACCOUNT.match(account_id):
            raise ValueError("region must be [a-z0-9-]{1,32} and account_id 12 digits")
        self.data_dir = os.fspath(data_dir)
        self.region = region
        self.account_id = account_id
        self.checkpoint_ops = checkpoint_ops
        self.checkpoint_interval_ms = checkpoint_interval_ms
        self.closed = False
        self.draining = False  # waiting receives return at once (a server shutting down)
        self._defer_thread: int | None = None
        self._unsynced: list[tuple[streamcore.Log, int]] = []
        self._lock = threading.RLock()
        os.makedirs(self.data_dir, exist_ok=True)
        self._signer = HandleSigner(load_or_create_key(os.path.join(self.data_dir, "queues.key")))
        try:
            defaults: dict[str, object] = {"flush": flush}
            if flush_interval_ms is not None:
                defaults["flush_interval_ms"] = flush_interval_ms
            self._manager = open_manager(os.path.join(self.data_dir, "queues"), **defaults)
            self._dir = self._manager.open(DIRECTORY_LOG, **JOURNAL_OPTIONS)
        except streamcore.StreamcoreError as exc:
            raise from_storage(exc) from exc
        self._queues: dict[QueueKey, Queue] = {}
        self._deleted: dict[QueueKey, int] = {}
        self._dir_records = 0
        self._load_directory()
        self._tasks: dict[str, MoveTask] = {}
        self._mover = MoveTaskRunner(self)

    def __enter__(self) -> QueueService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    # ------------------------------------------------------------ deferred syncs

    def defer_syncs(self) -> None:
        """Calls from this thread (a server's event loop) append without waiting
        for the fsync a ``flush="always"`` log does; the caller then awaits
        ``durable()`` before it acknowledges.  Concurrent requests share syncs."""
        self._defer_thread = threading.get_ident()

    def _write(self, log: streamcore.Log, values: list[bytes], keys: list[bytes] | None,
               now: int) -> int:
        """Append records; the first offset."""
        if self._defer_thread != threading.get_ident():
            return log.append(values, keys, now)
        first = log.append(values, keys, now, sync=False)  # one batch: offsets first..
        self._unsynced.append((log, first + len(values)))
        return first

    def take_unsynced(self) -> list[tuple[streamcore.Log, int]]:
        """What calls from the deferring thread appended since the last take."""
        out, self._unsynced = self._unsynced, []
        return out

    # ------------------------------------------------------------ directory

    def _load_directory(self) -> None:
        latest: dict[QueueKey, dict[str, Any]] = {}
        for rec in self._dir.records():
            entry = orjson.loads(bytes(rec.value or b"{}"))
            latest[(entry["region"], entry["account"], entry["name"])] = entry
            self._dir_records += 1
        live_logs: set[str] = {DIRECTORY_LOG}
        for key, e in latest.items():
            if "deleted" in e:
                self._deleted[key] = int(e["deleted"])
                continue
            q = Queue(self, key[0], key[1], key[2], int(e["incarnation"]), e["attributes"],
                      e["tags"], int(e["created"]), int(e["modified"]))
            self._queues[key] = q
            live_logs.update((q.log_name, q.journal_name))
        for name in self._manager.names():  # logs of queues deleted before a crash
            if name not in live_logs:
                self._manager.delete(name)

    def _entry(self, q: Queue) -> dict[str, Any]:
        return {"region": q.region, "account": q.account, "name": q.name,
                "incarnation": q.incarnation, "attributes": q.stored_attributes,
                "tags": q.tags, "created": q.created_s, "modified": q.modified_s}

    def _write_directory(self, entries: list[dict[str, Any]]) -> None:
        try:
            self._dir.append([orjson.dumps(e) for e in entries], timestamps=self.now_ms())
            self._dir_records += len(entries)
            live = len(self._queues) + len(self._deleted)
            if self._dir_records > 4 * live + 1000:
                self._rewrite_directory()
        except streamcore.StreamcoreError as exc:
            raise from_storage(exc) from exc

    def _rewrite_directory(self) -> None:
        now = self.now_ms()
        for key in [k for k, t in self._deleted.items() if now - t > DELETED_RECENTLY_MS]:
            del self._deleted[key]
        entries = [self._entry(q) for q in self._queues.values()]
        entries += [{"region": k[0], "account": k[1], "name": k[2], "deleted": t}
                    for k, t in self._deleted.items()]
        from .store import start_checkpoint

        start_checkpoint(self._dir)
        first = self._dir.end_offset
        for i in range(0, len(entries), 1000):
            self._dir.append([orjson.dumps(e) for e in entries[i:i + 1000]], timestamps=now)
        from .store import delete_records

        delete_records(self._dir, first)
        self._dir_records = len(entries)

    # ------------------------------------------------------------ lookups

    def _key(self, name: str, region: str | None, account_id: str | None) -> QueueKey:
        return (region or self.region, account_id or self.account_id, name)

    def get_queue(self, name: str, *, region: str | None = None,
                  account_id: str | None = None) -> Queue:
        """The queue of that name (GetQueueUrl); QueueDoesNotExistError if none."""
        with self._lock:
            q = self._queues.get(self._key(name, region, account_id))
        if q is None:
            raise QueueDoesNotExistError("The specified queue does not exist.")
        return q

    def _queue_by_arn(self, arn: str) -> Queue | None:
        key = parse_arn(arn)
        return self._queues.get(key) if key is not None else None

    def queue_by_arn(self, arn: str) -> Queue:
        q = self._queue_by_arn(arn)
        if q is None:
            raise QueueDoesNotExistError("The specified queue does not exist.")
        return q

    def list_queues(self, prefix: str | None = None, *, region: str | None = None,
                    account_id: str | None = None) -> list[Queue]:
        """The queues whose names start with ``prefix``, by name (ListQueues)."""
        region = region or self.region
        account_id = account_id or self.account_id
        with self._lock:
            found = [q for (r, a, n), q in self._queues.items()
                     if r == region and a == account_id and (not prefix or n.startswith(prefix))]
        return sorted(found, key=lambda q: q.name)

    def all_queues(self) -> list[Queue]:
        with self._lock:
            return sorted(self._queues.values(), key=lambda q: (q.region, q.account, q.name))

    def dead_letter_source_queues(self, queue: Queue) -> list[Queue]:
        """The queues whose RedrivePolicy targets ``queue`` (ListDeadLetterSourceQueues)."""
        with self._lock:
            return sorted((q for q in self._queues.values()
                           if q.redrive is not None and q.redrive[0] == queue.arn),
                          key=lambda q: q.name)

    # ------------------------------------------------------------ create / delete

    def create_queue(self, name: str, attributes: Mapping[str, str] | None = None,
                     tags: Mapping[str, str] | None = None, *, region: str | None = None,
                     account_id: str | None = None) -> Queue:
        """CreateQueue: a new queue, or the existing one when its attributes match."""
        region = region or self.region
        account_id = account_id or self.account_id
        if not _REGION.match(region) or not _ACCOUNT.match(account_id):
            raise InvalidParameterValueError("Invalid region or account id.")
        attributes = dict(attributes or {})
        fifo_attr = attributes.get("FifoQueue")
        if fifo_attr is not None and (not isinstance(fifo_attr, str)
                                      or fifo_attr.lower() not in ("true", "false")):
            raise qattrs._bad("FifoQueue")
        fifo = isinstance(fifo_attr, str) and fifo_attr.lower() == "true"
        base = name[:-5] if isinstance(name, str) and name.endswith(".fifo") else name
        if not isinstance(name, str) or not _NAME.match(base) or len(name) > 80:
            raise InvalidParameterValueError(
                "Can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length")
        if fifo != name.endswith(".fifo"):
            raise InvalidParameterValueError(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length.")
        checked = qattrs.check(attributes, fifo=fifo, creating=True)
        checked = {k: v for k, v in checked.items() if v != ""}
        tag_map = self._check_tags(tags or {})
        key = (region, account_id, name)
        with self._lock:
            existing = self._queues.get(key)
            if existing is not None:
                current = existing.effective_attributes()
                for k, v in checked.items():
                    if current.get(k) != v:
                        raise QueueNameExistsError(
                            f"A queue already exists with the same name and a different value "
                            f"for attribute {k}")
                return existing
            deleted = self._deleted.get(key)
            if deleted is not None and self.now_ms() - deleted < DELETED_RECENTLY_MS:
                raise QueueDeletedRecentlyError(
                    "You must wait 60 seconds after deleting a queue before you can create "
                    "another with the same name.")
            merged = dict(qattrs.DEFAULTS)
            merged.update(qattrs.FIFO_DEFAULTS if fifo else {})
            merged.update(checked)
            qattrs.check_combination(merged)
            arn = f"arn:aws:sqs:{region}:{account_id}:{name}"
            self._check_redrive(arn, fifo, checked.get("RedrivePolicy"))
            now_s = self.now_ms() // 1000
            q = Queue(self, region, account_id, name, int.from_bytes(os.urandom(8), "big"),
                      checked, tag_map, now_s, now_s)
            self._write_directory([self._entry(q)])
            self._queues[key] = q
            self._deleted.pop(key, None)
            return q

    def delete_queue(self, queue: Queue | str, *, region: str | None = None,
                     account_id: str | None = None) -> None:
        """DeleteQueue, whatever the queue holds."""
        with self._lock:
            q = queue if isinstance(queue, Queue) else self.get_queue(
                queue, region=region, account_id=account_id)
            key = (q.region, q.account, q.name)
            if self._queues.get(key) is not q:
                raise QueueDoesNotExistError("The specified queue does not exist.")
            now = self.now_ms()
            self._write_directory([{"region": q.region, "account": q.account,
                                    "name": q.name, "deleted": now}])
            del self._queues[key]
            self._deleted[key] = now
            q.deleted = True
            q._log = q._journal = None
            q._state = None
            try:
                self._manager.delete(q.log_name)
                self._manager.delete(q.journal_name)
            except streamcore.StreamcoreError:
                pass  # no such log yet (never used), or already gone
            q._notify()

    # ------------------------------------------------------------ attributes, tags, policy

    def _check_redrive(self, arn: str, fifo: bool, policy: str | None) -> None:
        if not policy:
            return
        target_arn, _count = qattrs.parse_redrive_policy(policy)
        target = self._queue_by_arn(target_arn)
        value = policy
        if target is None:
            raise InvalidParameterValueError(
                f"Value {value} for parameter RedrivePolicy is invalid. "
                "Reason: Dead letter target does not exist.")
        if target.fifo != fifo:
            raise InvalidParameterValueError(
                f"Value {value} for parameter RedrivePolicy is invalid. "
                "Reason: Dead-letter queue must be same type of queue as the source.")
        allow = target.effective_attributes().get("RedriveAllowPolicy")
        if allow:
            permission, sources = qattrs.parse_redrive_allow_policy(allow)
            if permission == "denyAll" or (permission == "byQueue" and arn not in sources):
                raise InvalidParameterValueError(
                    f"Value {value} for parameter RedrivePolicy is invalid. Reason: Queue "
                    f"{target_arn} does not allow this queue to use it as a dead-letter queue.")

    def _set_queue_attributes(self, q: Queue, attributes: Mapping[str, str]) -> None:
        checked = qattrs.check(attributes, fifo=q.fifo, creating=False)
        with self._lock:
            q._check_alive()
            stored = dict(q.stored_attributes)
            for k, v in checked.items():
                if v == "":
                    stored.pop(k, None)
                else:
                    stored[k] = v
            merged = dict(qattrs.DEFAULTS)
            merged.update(qattrs.FIFO_DEFAULTS if q.fifo else {})
            merged.update(stored)
            qattrs.check_combination(merged)
            if "RedrivePolicy" in checked:
                self._check_redrive(q.arn, q.fifo, checked["RedrivePolicy"])
            old = q.stored_attributes
            q.stored_attributes = stored
            q.modified_s = self.now_ms() // 1000
            try:
                self._write_directory([self._entry(q)])
            except Exception:
                q.stored_attributes = old
                raise
            q._configure()
            q._notify()

    def _check_tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in tags.items():
            if not isinstance(k, str) or not isinstance(v, str) or not 1 <= len(k) <= 128 \
                    or len(v) > 256:
                raise InvalidParameterValueError(
                    "Tag keys must be 1 to 128 characters and values at most 256.")
            out[k] = v
        if len(out) > MAX_TAGS:
            raise InvalidParameterValueError(
                f"Too many tags added for queue. Maximum number of tags per queue is {MAX_TAGS}.")
        return out

    def tag_queue(self, q: Queue, tags: Mapping[str, str]) -> None:
        """TagQueue: a new value overwrites the old one."""
        checked = self._check_tags(tags)
        with self._lock:
            q._check_alive()
            merged = {**q.tags, **checked}
            self._check_tags(merged)
            q.tags = merged
            self._write_directory([self._entry(q)])

    def untag_queue(self, q: Queue, keys: Iterable[str]) -> None:
        """UntagQueue: missing keys are ignored."""
        with self._lock:
            q._check_alive()
            q.tags = {k: v for k, v in q.tags.items() if k not in set(keys)}
            self._write_directory([self._entry(q)])

    def add_permission(self, q: Queue, label: str, account_ids: list[str],
                       actions: list[str]) -> None:
        """AddPermission: a statement in the queue's Policy attribute."""
        if not isinstance(label, str) or not _LABEL.match(label):
            raise InvalidParameterValueError(
                f"Value {label} for parameter Label is invalid. Reason: Must be 1 to 80 of "
                "A-Z a-z 0-9 _ -.")
        if not account_ids:
            raise InvalidParameterValueError("The request must contain AWSAccountIds.")
        if not actions:
            raise InvalidParameterValueError("The request must contain Actions.")
        if len(actions) > 7:
            raise OverLimitError(f"{len(actions)} Actions were found, maximum allowed is 7.")
        for a in actions:
            if a not in PERMISSION_ACTIONS:
                raise InvalidParameterValueError(
                    f"Value SQS:{a} for parameter ActionName is invalid. "
                    "Reason: Please refer to the appropriate WSDL for a list of valid actions.")
        with self._lock:
            q._check_alive()
            policy = self._policy(q)
            if any(s.get("Sid") == label for s in policy["Statement"]):
                raise InvalidParameterValueError(
                    f"Value {label} for parameter Label is invalid. Reason: Already exists.")
            principals = [f"arn:aws:iam::{a}:root" for a in account_ids]
            acts = [f"SQS:{a}" for a in actions]
            policy["Statement"].append({
                "Sid": label, "Effect": "Allow",
                "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                "Action": acts[0] if len(acts) == 1 else acts,
                "Resource": q.arn})
            self._set_policy(q, policy)

    def remove_permission(self, q: Queue, label: str) -> None:
        with self._lock:
            q._check_alive()
            policy = self._policy(q)
            kept = [s for s in policy["Statement"] if s.get("Sid") != label]
            if len(kept) == len(policy["Statement"]):
                raise InvalidParameterValueError(
                    f"Value {label} for parameter Label is invalid. "
                    "Reason: can't find label on existing policy.")
            policy["Statement"] = kept
            self._set_policy(q, policy if kept else None)

    def _policy(self, q: Queue) -> dict[str, Any]:
        text = q.stored_attributes.get("Policy")
        policy: dict[str, Any] = json.loads(text) if text else {}
        policy.setdefault("Version", "2008-10-17")
        policy.setdefault("Id", f"{q.arn}/SQSDefaultPolicy")
        if not isinstance(policy.get("Statement"), list):
            policy["Statement"] = []
        return policy

    def _set_policy(self, q: Queue, policy: dict[str, Any] | None) -> None:
        stored = dict(q.stored_attributes)
        if policy is None:
            stored.pop("Policy", None)
        else:
            stored["Policy"] = json.dumps(policy, separators=(",", ":"))
        q.stored_attributes = stored
        q.modified_s = self.now_ms() // 1000
        self._write_directory([self._entry(q)])

    # ------------------------------------------------------------ move tasks

    def start_message_move_task(self, source_arn: str, destination_arn: str | None = None,
                                max_per_second: int | None = None) -> str:
        """StartMessageMoveTask: move a dead-letter queue's messages back (to
        ``destination_arn``, else each to the queue it came from)."""
        return self._mover.start(source_arn, destination_arn, max_per_second)

    def list_message_move_tasks(self, source_arn: str, max_results: int = 1) -> list[MoveTask]:
        return self._mover.list(source_arn, max_results)

    def cancel_message_move_task(self, task_handle: str) -> int:
        """CancelMessageMoveTask; returns how many messages were moved."""
        return self._mover.cancel(task_handle)

    # ------------------------------------------------------------ lifecycle

    def maintain(self) -> None:
        """Retention, space, checkpoints and ended timeouts for every loaded queue
        (a server calls this every second; embedded use does it within calls)."""
        with self._lock:
            now = self.now_ms()
            for q in list(self._queues.values()):
                if q._state is not None:
                    q._maintain(now)

    def stop_waiting(self) -> None:
        """Make waiting receives return now, and later ones not wait."""
        with self._lock:
            self.draining = True
            for q in self._queues.values():
                q._notify()

    def close(self) -> None:
        """Checkpoint every queue and close the storage; waiting receives return."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self._mover.stop()
        with self._lock:
            for q in self._queues.values():
                q.close()
            self._manager.close()


def new_task_handle(source_arn: str) -> str:
    import base64

    raw = orjson.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
