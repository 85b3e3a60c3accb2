"""The 23 SQS actions: decoded request members in, output members out.

Each handler takes a ``Context`` (the service, the caller's region and
account, how to spell queue URLs) and the request members as
``codec`` decodes them, calls the queue service and returns the output
members (or None for actions with no output); a ReceiveMessage that has to
wait returns an awaitable of them instead.  Errors are the service's
``QueueError``s; the app renders them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ...queue import Message, Queue, QueueService
from ...queue.errors import InvalidParameterValueError, QueueDoesNotExistError
from ...queue.results import BatchError, SendResult

_ACCOUNT = re.compile(r"[0-9]{12}\Z")
_REGION = re.compile(r"[a-z0-9-]{1,32}\Z")


@dataclass(slots=True)
class Context:
    service: QueueService
    region: str
    account: str
    base_url: str  # scheme://host[:port][/prefix], no trailing slash
    sender_id: str | None = None
    path_queue: str | None = None  # the queue URL path a Query request was sent to
    cache: dict[tuple[str, str, str], Queue] | None = None  # queue references seen lately

    def url(self, q: Queue) -> str:
        return f"{self.base_url}/queue/{q.region}/{q.account}/{q.name}"

    def queue(self, params: dict[str, Any]) -> Queue:
        """The queue a request names (QueueUrl, else the path it was sent to)."""
        ref = params.get("QueueUrl") or self.path_queue
        if not ref:
            raise QueueDoesNotExistError("The specified queue does not exist.")
        key = (ref, self.region, self.account)
        cache = self.cache
        if cache is not None:
            q = cache.get(key)
            if q is not None and not q.deleted:
                return q
        region, account, name = parse_queue_ref(ref, self.region, self.account)
        q = self.service.get_queue(name, region=region, account_id=account)
        if cache is not None:
            if len(cache) > 4096:
                cache.clear()
            cache[key] = q
        return q


def parse_queue_ref(ref: str, region: str, account: str) -> tuple[str, str, str]:
    """(region, account, name) of a queue URL, URL path or bare name.

    Accepted: ``.../queue/<region>/<account>/<name>`` (the URLs this server
    hands out), ``.../<account>/<name>`` (AWS's form; the caller's region) and
    a bare name (the caller's region and account)."""
    path = urlsplit(ref).path if "://" in ref else ref
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts:
        raise QueueDoesNotExistError("The specified queue does not exist.")
    name = parts[-1]
    if len(parts) >= 4 and parts[-4] == "queue" and _REGION.match(parts[-3]) \
            and _ACCOUNT.match(parts[-2]):
        return parts[-3], parts[-2], name
    if len(parts) >= 2 and _ACCOUNT.match(parts[-2]):
        return region, parts[-2], name
    return region, account, name


def _page(items: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """ListQueues-style pagination: MaxResults 1-1000, NextToken opaque."""
    max_results = params.get("MaxResults")
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode() + b"==").decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidParameterValueError("Invalid NextToken value.") from None
        start = next((i for i, u in enumerate(items) if u > after), len(items))
    if max_results is None:
        return {"urls": items[start:start + 1000]}
    if not 1 <= max_results <= 1000:
        raise InvalidParameterValueError(
            f"Value {max_results} for parameter MaxResults is invalid. "
            "Reason: MaxResults must be an integer between 1 and 1000.")
    page = items[start:start + max_results]
    out: dict[str, Any] = {"urls": page}
    if start + max_results < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode().rstrip("=")
    return out


def _send_result(r: SendResult) -> dict[str, Any]:
    out: dict[str, Any] = {"MD5OfMessageBody": r.md5_of_body}
    if r.md5_of_message_attributes is not None:
        out["MD5OfMessageAttributes"] = r.md5_of_message_attributes
    if r.md5_of_message_system_attributes is not None:
        out["MD5OfMessageSystemAttributes"] = r.md5_of_message_system_attributes
    out["MessageId"] = r.message_id
    if r.sequence_number is not None:
        out["SequenceNumber"] = r.sequence_number
    return out


def _failed(e: BatchError) -> dict[str, Any]:
    return {"Id": e.id, "SenderFault": e.sender_fault, "Code": e.code, "Message": e.message}


def _message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"MessageId": m.message_id, "ReceiptHandle": m.receipt_handle,
                           "MD5OfBody": m.md5_of_body, "Body": m.body}
    if m.attributes:
        out["Attributes"] = m.attributes
    if m.md5_of_message_attributes is not None:
        out["MD5OfMessageAttributes"] = m.md5_of_message_attributes
        attrs: dict[str, Any] = {}
        for name, v in m.message_attributes.items():
            if "BinaryValue" in v:
                attrs[name] = {"BinaryValue": base64.b64encode(v["BinaryValue"]).decode(),
                               "DataType": v["DataType"]}
            else:
                attrs[name] = {"StringValue": v["StringValue"], "DataType": v["DataType"]}
        out["MessageAttributes"] = attrs
    return out


Output = dict[str, Any] | None

# ------------------------------------------------------------------ queues


def create_queue(ctx: Context, p: dict[str, Any]) -> Output:
    q = ctx.service.create_queue(p["QueueName"], p.get("Attributes"), p.get("tags"),
                                 region=ctx.region, account_id=ctx.account)
    return {"QueueUrl": ctx.url(q)}


def get_queue_url(ctx: Context, p: dict[str, Any]) -> Output:
    account = p.get("QueueOwnerAWSAccountId") or ctx.account
    q = ctx.service.get_queue(p["QueueName"], region=ctx.region, account_id=account)
    return {"QueueUrl": ctx.url(q)}


def list_queues(ctx: Context, p: dict[str, Any]) -> Output:
    queues = ctx.service.list_queues(p.get("QueueNamePrefix"), region=ctx.region,
                                     account_id=ctx.account)
    page = _page([q.name for q in queues], p)
    by_name = {q.name: q for q in queues}
    out: dict[str, Any] = {}
    if page["urls"]:
        out["QueueUrls"] = [ctx.url(by_name[n]) for n in page["urls"]]
    if "NextToken" in page:
        out["NextToken"] = page["NextToken"]
    return out


def delete_queue(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.service.delete_queue(ctx.queue(p))
    return None


def purge_queue(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.queue(p).purge()
    return None


def get_queue_attributes(ctx: Context, p: dict[str, Any]) -> Output:
    names = p.get("AttributeNames") or []
    if not names:
        ctx.queue(p)  # still an error for a missing queue
        return {}
    attrs = ctx.queue(p).attributes(names)
    return {"Attributes": attrs} if attrs else {}


def set_queue_attributes(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.queue(p).set_attributes(p["Attributes"])
    return None


def tag_queue(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.service.tag_queue(ctx.queue(p), p["Tags"])
    return None


def untag_queue(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.service.untag_queue(ctx.queue(p), p["TagKeys"])
    return None


def list_queue_tags(ctx: Context, p: dict[str, Any]) -> Output:
    tags = ctx.queue(p).tags
    return {"Tags": dict(tags)} if tags else {}


def list_dead_letter_source_queues(ctx: Context, p: dict[str, Any]) -> Output:
    sources = ctx.service.dead_letter_source_queues(ctx.queue(p))
    page = _page([q.name for q in sources], p)
    by_name = {q.name: q for q in sources}
    out: dict[str, Any] = {"queueUrls": [ctx.url(by_name[n]) for n in page["urls"]]}
    if "NextToken" in page:
        out["NextToken"] = page["NextToken"]
    return out


def add_permission(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.service.add_permission(ctx.queue(p), p["Label"], p["AWSAccountIds"], p["Actions"])
    return None


def remove_permission(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.service.remove_permission(ctx.queue(p), p["Label"])
    return None

# ------------------------------------------------------------------ messages


def send_message(ctx: Context, p: dict[str, Any]) -> Output:
    r = ctx.queue(p).send(p["MessageBody"], p.get("MessageAttributes"), p.get("DelaySeconds"),
                          p.get("MessageGroupId"), p.get("MessageDeduplicationId"),
                          system_attributes=p.get("MessageSystemAttributes"),
                          sender_id=ctx.sender_id)
    return _send_result(r)


def send_message_batch(ctx: Context, p: dict[str, Any]) -> Output:
    results = ctx.queue(p).send_batch(p["Entries"], sender_id=ctx.sender_id)
    ok = []
    failed = []
    for r in results:
        if isinstance(r, BatchError):
            failed.append(_failed(r))
        else:
            ok.append({"Id": r.id, **_send_result(r)})
    return {"Successful": ok, "Failed": failed}


def receive_message(ctx: Context, p: dict[str, Any]) -> Output | Awaitable[Output]:
    """Answered at once when messages are there or no wait is asked for;
    otherwise an awaitable: the long poll."""
    q = ctx.queue(p)
    names = list(p.get("AttributeNames") or []) + list(p.get("MessageSystemAttributeNames") or [])
    n = p.get("MaxNumberOfMessages", 1)
    wait = p.get("WaitTimeSeconds")
    vis = p.get("VisibilityTimeout")
    attempt = p.get("ReceiveRequestAttemptId")
    mnames = p.get("MessageAttributeNames") or None
    q.check_receive_args(n, wait, vis, attempt)
    msgs = q.receive(n, 0, vis, attempt, attribute_names=names, message_attribute_names=mnames)
    if msgs or (q.wait_s if wait is None else wait) == 0:
        return {"Messages": [_message(m) for m in msgs]} if msgs else {}
    return _long_poll(q, n, wait, vis, attempt, names, mnames)


async def _long_poll(q: Queue, n: int, wait: int | None, vis: int | None, attempt: str | None,
                     names: list[str], mnames: list[str] | None) -> Output:
    msgs = await q.receive_async(n, wait, vis, attempt, attribute_names=names,
                                 message_attribute_names=mnames)
    return {"Messages": [_message(m) for m in msgs]} if msgs else {}


def delete_message(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.queue(p).delete(p["ReceiptHandle"])
    return None


def _batch_result(results: list[str | BatchError]) -> dict[str, Any]:
    return {"Successful": [{"Id": r} for r in results if isinstance(r, str)],
            "Failed": [_failed(r) for r in results if isinstance(r, BatchError)]}


def delete_message_batch(ctx: Context, p: dict[str, Any]) -> Output:
    return _batch_result(ctx.queue(p).delete_batch(p["Entries"]))


def change_message_visibility(ctx: Context, p: dict[str, Any]) -> Output:
    ctx.queue(p).change_visibility(p["ReceiptHandle"], p["VisibilityTimeout"])
    return None


def change_message_visibility_batch(ctx: Context, p: dict[str, Any]) -> Output:
    return _batch_result(ctx.queue(p).change_visibility_batch(p["Entries"]))

# ------------------------------------------------------------------ move tasks


def start_message_move_task(ctx: Context, p: dict[str, Any]) -> Output:
    handle = ctx.service.start_message_move_task(
        p["SourceArn"], p.get("DestinationArn"), p.get("MaxNumberOfMessagesPerSecond"))
    return {"TaskHandle": handle}


def list_message_move_tasks(ctx: Context, p: dict[str, Any]) -> Output:
    tasks = ctx.service.list_message_move_tasks(p["SourceArn"], p.get("MaxResults", 1))
    results = []
    for t in tasks:
        r: dict[str, Any] = {}
        if t.status == "RUNNING":
            r["TaskHandle"] = t.task_handle
        r["Status"] = t.status
        r["SourceArn"] = t.source_arn
        if t.destination_arn is not None:
            r["DestinationArn"] = t.destination_arn
        if t.max_per_second is not None:
            r["MaxNumberOfMessagesPerSecond"] = t.max_per_second
        r["ApproximateNumberOfMessagesMoved"] = t.moved
        r["ApproximateNumberOfMessagesToMove"] = t.to_move
        if t.failure_reason is not None:
            r["FailureReason"] = t.failure_reason
        r["StartedTimestamp"] = t.started_ms
        results.append(r)
    return {"Results": results}


def cancel_message_move_task(ctx: Context, p: dict[str, Any]) -> Output:
    moved = ctx.service.cancel_message_move_task(p["TaskHandle"])
    return {"ApproximateNumberOfMessagesMoved": moved}


Handler = Callable[[Context, dict[str, Any]], "Output | Awaitable[Output]"]

HANDLERS: dict[str, Handler] = {
    "AddPermission": add_permission,
    "CancelMessageMoveTask": cancel_message_move_task,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "CreateQueue": create_queue,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "GetQueueUrl": get_queue_url,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "ListMessageMoveTasks": list_message_move_tasks,
    "ListQueueTags": list_queue_tags,
    "ListQueues": list_queues,
    "PurgeQueue": purge_queue,
    "ReceiveMessage": receive_message,
    "RemovePermission": remove_permission,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "SetQueueAttributes": set_queue_attributes,
    "StartMessageMoveTask": start_message_move_task,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
}
ACTIONS = frozenset(HANDLERS)
