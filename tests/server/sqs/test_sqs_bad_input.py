"""Bad input over raw sockets: each gets SQS's error and status, the server
keeps serving everyone else, nothing stored changes; slow or silent clients
and too many connections cannot take it down.  Ends with a bounded fuzz of
both request parsers over the live server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqs_harness import Server, unique

MAX_CONNECTIONS = 24


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("bad")
    s = Server(d / "data", "--sqs-request-timeout", "1", "--sqs-idle-timeout", "2",
               "--sqs-max-connections", str(MAX_CONNECTIONS)).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def canary(srv: Server) -> tuple[Any, str]:
    """A queue holding one known message: must be intact after every test."""
    c: Any = srv.client()
    url = c.create_queue(QueueName=unique("canary"))["QueueUrl"]
    c.send_message(QueueUrl=url, MessageBody="canary", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})
    return c, url


@pytest.fixture(scope="module")
def fuzzq(srv: Server) -> str:
    """A queue the fuzz runs may change at will (the canary's is another)."""
    c: Any = srv.client()
    return str(c.create_queue(QueueName=unique("fuzz"))["QueueUrl"])


def check_canary(canary: tuple[Any, str]) -> None:
    c, url = canary
    a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) == \
        ("1", "0")
    (m,) = c.receive_message(QueueUrl=url, VisibilityTimeout=0,
                             MessageAttributeNames=["All"])["Messages"]
    assert m["Body"] == "canary" and m["MessageAttributes"]["k"]["StringValue"] == "v"


def addr(srv: Server) -> tuple[str, int]:
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def exchange(srv: Server, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes or a full response arrived."""
    with socket.create_connection(addr(srv), timeout=timeout) as s:
        s.sendall(raw)
        return read_response(s)


def read_response(s: socket.socket) -> bytes:
    buf = b""
    while True:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            if len(rest) >= length:
                return buf
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            return buf
        if not chunk:
            return buf
        buf += chunk


def request(target: str | None, body: bytes, *, ctype: str = "application/x-amz-json-1.0",
            path: str = "/", extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
    if target is not None:
        head += f"X-Amz-Target: {target}\r\n"
    head += f"Content-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def status_of(resp: bytes) -> int:
    assert resp.startswith(b"HTTP/1.1 "), resp[:100]
    return int(resp[9:12])


def json_body(resp: bytes) -> dict[str, Any]:
    obj = json.loads(resp.partition(b"\r\n\r\n")[2])
    assert isinstance(obj, dict)
    return obj


def test_json_errors(srv: Server, canary: tuple[Any, str]) -> None:
    cases: list[tuple[str | None, bytes, int, str]] = [
        ("AmazonSQS.SendMessage", b"{not json", 400, "SerializationException"),
        ("AmazonSQS.SendMessage", b"[1,2]", 400, "SerializationException"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": "x", "MessageBody": "\xff\xfe"}', 400,
         "SerializationException"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": 5, "MessageBody": "x"}', 400,
         "InvalidParameterValueException"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": "x"}', 400,
         "MissingRequiredParameterException"),
        ("AmazonSQS.ReceiveMessage", b'{"QueueUrl": "x", "MaxNumberOfMessages": "3"}', 400,
         "InvalidParameterValueException"),
        ("AmazonSQS.ReceiveMessage", b'{"QueueUrl": "x", "MaxNumberOfMessages": true}', 400,
         "InvalidParameterValueException"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": "x", "MessageBody": "x", "MessageAttributes":'
         b' {"b": {"DataType": "Binary", "BinaryValue": "not base64!"}}}', 400,
         "InvalidParameterValueException"),
        ("AmazonSQS.Frobnicate", b"{}", 400, "UnknownOperationException"),
        ("Other.ListQueues", b"{}", 400, "UnknownOperationException"),
        ("AmazonSQS.DeleteMessage", b'{"QueueUrl": "nope", "ReceiptHandle": "x"}', 400,
         "QueueDoesNotExist"),
    ]
    for target, body, want_status, want_type in cases:
        resp = exchange(srv, request(target, body))
        assert status_of(resp) == want_status, (body, resp)
        obj = json_body(resp)
        assert obj["__type"].rsplit("#", 1)[1] == want_type, (body, obj)
        assert obj.get("message") is not None
    # the legacy code rides in x-amzn-query-error
    resp = exchange(srv, request("AmazonSQS.GetQueueUrl", b'{"QueueName": "absent"}'))
    assert b"x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender" in resp
    check_canary(canary)


def test_batch_and_body_limits(srv: Server, canary: tuple[Any, str]) -> None:
    _, url = canary
    entries = [{"Id": str(i), "MessageBody": "x"} for i in range(50)]
    resp = exchange(srv, request("AmazonSQS.SendMessageBatch",
                                 json.dumps({"QueueUrl": url, "Entries": entries}).encode()))
    assert status_of(resp) == 400
    assert json_body(resp)["__type"].endswith("#TooManyEntriesInBatchRequest")
    # an oversized body is refused from its Content-Length, before it is sent
    with socket.create_connection(addr(srv), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.SendMessage\r\n"
                  b"Content-Length: 1000000000\r\n\r\n")
        resp = read_response(s)
    assert status_of(resp) == 413
    assert json_body(resp)["__type"].endswith("#RequestEntityTooLarge")
    # and a chunked one once it passes the limit
    with socket.create_connection(addr(srv), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.SendMessage\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * (1 << 20)
        resp = b""
        try:
            for _ in range(8):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = read_response(s)
    assert status_of(resp) == 413
    # header flood
    resp = exchange(srv, b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 70000 + b"\r\n\r\n")
    assert status_of(resp) == 431
    # not HTTP at all
    resp = exchange(srv, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
    assert status_of(resp) == 400
    check_canary(canary)


def test_query_errors_raw(srv: Server, canary: tuple[Any, str]) -> None:
    form = "application/x-www-form-urlencoded"
    cases = [
        (b"Action=SendMessage&QueueUrl=x&MessageBody=%FF%FE", 400, b"InvalidParameterValue"),
        (b"Action=SendMessage&MessageBody=\xff", 400, b"MalformedQueryString"),
        (b"Action=ReceiveMessage&QueueUrl=x&AttributeName.x=All", 400, b"InvalidParameterValue"),
        (b"Action=ReceiveMessage&QueueUrl=x&MaxNumberOfMessages=99999999999999999999999", 400,
         b"InvalidParameterValue"),
        (b"Action=SendMessage&QueueUrl=x&MessageBody=a&MessageAttribute.1.Value.DataType=S", 400,
         b"MissingParameter"),
        (b"&&&==&", 400, b"MissingAction"),
        (b"Action=" + b"A" * 5000, 400, b"InvalidAction"),
    ]
    for body, want_status, want_code in cases:
        resp = exchange(srv, request(None, body, ctype=form))
        assert status_of(resp) == want_status, (body, resp)
        assert b"<Code>" + want_code + b"</Code>" in resp, resp
    resp = exchange(srv, b"DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status_of(resp) == 405
    check_canary(canary)


def test_slow_and_silent_clients_are_dropped(srv: Server, canary: tuple[Any, str]) -> None:
    silent = socket.create_connection(addr(srv), timeout=10)
    slow = socket.create_connection(addr(srv), timeout=10)
    slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # then nothing: a slowloris
    start = time.monotonic()
    assert silent.recv(100) == b""  # closed after the idle timeout (2 s)
    assert time.monotonic() - start < 6
    resp = read_response(slow)  # 408 after the request timeout (1 s)
    assert status_of(resp) == 408
    silent.close()
    slow.close()
    check_canary(canary)


def test_connection_limit(srv: Server, canary: tuple[Any, str]) -> None:
    held = [socket.create_connection(addr(srv), timeout=10) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)
        extra = socket.create_connection(addr(srv), timeout=10)
        resp = read_response(extra)
        assert status_of(resp) == 503
        extra.close()
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    check_canary(canary)  # served again once the others went away


def test_pipelined_requests_answered_in_order(srv: Server) -> None:
    raw = b"".join(request("AmazonSQS.GetQueueUrl", json.dumps({"QueueName": f"n{i}"}).encode())
                   for i in range(5))
    with socket.create_connection(addr(srv), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while data.count(b"HTTP/1.1 400") < 5:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
    assert data.count(b"NonExistentQueue") == 5


_TARGETS = ["AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch", "AmazonSQS.ReceiveMessage",
            "AmazonSQS.DeleteMessageBatch", "AmazonSQS.CreateQueue", "AmazonSQS.SetQueueAttributes",
            "AmazonSQS.ChangeMessageVisibilityBatch", "AmazonSQS.TagQueue"]
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["QueueUrl", "QueueName", "MessageBody", "Entries", "Id", "Attributes",
                         "MessageAttributes", "DataType", "StringValue", "BinaryValue",
                         "ReceiptHandle", "VisibilityTimeout", "MaxNumberOfMessages", "Tags",
                         "MessageGroupId", "DelaySeconds"]) | st.text(max_size=5),
        inner, max_size=5),
    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(_TARGETS), value=_json_values, raw=st.binary(max_size=64),
       use_raw=st.booleans())
def test_fuzz_json_parser(srv: Server, fuzzq: str, target: str, value: Any,
                          raw: bytes, use_raw: bool) -> None:
    body = raw if use_raw else json.dumps(value).encode()
    if isinstance(value, dict) and not use_raw:
        value.setdefault("QueueUrl", fuzzq)
        body = json.dumps(value).encode()
    resp = exchange(srv, request(target, body))
    assert status_of(resp) in (200, 400, 403, 404), resp[:300]
    if status_of(resp) != 200:
        assert "__type" in json_body(resp)


_query_keys = st.sampled_from([
    "Action", "QueueUrl", "MessageBody", "MaxNumberOfMessages", "Attribute.1.Name",
    "Attribute.1.Value", "MessageAttribute.1.Name", "MessageAttribute.1.Value.DataType",
    "MessageAttribute.1.Value.StringValue", "SendMessageBatchRequestEntry.1.Id",
    "SendMessageBatchRequestEntry.2.MessageBody", "DeleteMessageBatchRequestEntry.1.Id",
    "Tag.1.Key", "TagKey.1", "AttributeName.1", "QueueName"]) | st.text(max_size=12)
_actions = st.sampled_from(["SendMessage", "SendMessageBatch", "ReceiveMessage", "CreateQueue",
                            "DeleteMessageBatch", "GetQueueAttributes", "TagQueue", "Nope"])


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(action=_actions, pairs=st.lists(st.tuples(_query_keys, st.text(max_size=12)),
                                       max_size=8),
       mutate=st.binary(max_size=16))
def test_fuzz_query_parser(srv: Server, fuzzq: str, action: str,
                           pairs: list[tuple[str, str]], mutate: bytes) -> None:
    from urllib.parse import urlencode

    body = urlencode([("Action", action), ("QueueUrl", fuzzq), *pairs]).encode()
    body += mutate
    resp = exchange(srv, request(None, body, ctype="application/x-www-form-urlencoded"))
    assert status_of(resp) in (200, 400, 403, 404), resp[:300]
    if status_of(resp) != 200:
        assert b"<ErrorResponse" in resp or b"<UnknownOperationException" in resp


def test_after_the_fuzz(srv: Server, canary: tuple[Any, str]) -> None:
    check_canary(canary)
    c: Any = srv.client()
    assert c.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
