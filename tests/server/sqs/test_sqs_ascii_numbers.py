"""Numbers in SQS requests are ASCII digits: other scripts' digits ("٣"), superscripts
("²"), underscores and the like are refused with SQS's 400 error wherever the server
reads a number from text (query parameters, numbered list members, attribute values,
a RedrivePolicy, Number message attributes, Content-Length), never taken as a number
nor answered with a 500; the server logs no error for any of them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from sqs_harness import Server, unique
from test_sqs_bad_input import exchange, request, status_of

FORM = "application/x-www-form-urlencoded"
ARABIC_3 = "\u0663"  # ARABIC-INDIC DIGIT THREE: isdigit() is True, int() reads 3
SUPER_1 = "\u00b9"  # SUPERSCRIPT ONE: isdigit() is True, int() refuses it
DEVANAGARI_5 = "\u096b"


@pytest.fixture(scope="module")
def queue(server: Server) -> str:
    c: Any = server.client()
    return str(c.create_queue(QueueName=unique("digits"))["QueueUrl"])


def _query(server: Server, params: list[tuple[str, str]]) -> bytes:
    body = "&".join(f"{quote(k, safe='.')}={quote(v, safe='')}" for k, v in params)
    return exchange(server, request(None, body.encode(), ctype=FORM))


def _json(server: Server, action: str, body: dict[str, Any]) -> bytes:
    return exchange(server, request(f"AmazonSQS.{action}", json.dumps(body).encode()))


def _refused(resp: bytes, *codes: bytes) -> None:
    assert status_of(resp) == 400, resp[:300]
    assert any(code in resp for code in codes), resp[:300]


def _nothing_logged_as_an_error(server: Server) -> None:
    log = server.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-2000:]


@pytest.mark.parametrize("digit", [ARABIC_3, SUPER_1, DEVANAGARI_5, "1_0", "\uff13"])
def test_query_numbers(server: Server, queue: str, digit: str) -> None:
    cases = [
        [("Action", "ReceiveMessage"), ("QueueUrl", queue), ("WaitTimeSeconds", digit)],
        [("Action", "ReceiveMessage"), ("QueueUrl", queue), ("VisibilityTimeout", "1" + digit)],
        [("Action", "SendMessage"), ("QueueUrl", queue), ("MessageBody", "b"),
         ("DelaySeconds", digit)],
        [("Action", "SendMessage"), ("QueueUrl", queue), ("MessageBody", "b"),
         (f"MessageAttribute.{digit}.Name", "a"),
         (f"MessageAttribute.{digit}.Value.DataType", "String"),
         (f"MessageAttribute.{digit}.Value.StringValue", "v")],
        [("Action", "SetQueueAttributes"), ("QueueUrl", queue),
         ("Attribute.1.Name", "DelaySeconds"), ("Attribute.1.Value", digit)],
    ]
    for params in cases:
        _refused(_query(server, params), b"InvalidParameterValue", b"InvalidAttributeValue",
                 b"MalformedQueryString")
    _nothing_logged_as_an_error(server)


@pytest.mark.parametrize("digit", [ARABIC_3, SUPER_1, DEVANAGARI_5])
def test_json_numbers_in_text(server: Server, queue: str, digit: str) -> None:
    _refused(_json(server, "SetQueueAttributes", {
        "QueueUrl": queue, "Attributes": {"VisibilityTimeout": "3" + digit}}),
        b"InvalidAttributeValue", b"InvalidParameterValue")
    dlq: Any = server.client()
    arn = dlq.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    _refused(_json(server, "SetQueueAttributes", {"QueueUrl": queue, "Attributes": {
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": digit})}}),
        b"InvalidAttributeValue", b"InvalidParameterValue")
    _refused(_json(server, "SendMessage", {
        "QueueUrl": queue, "MessageBody": "b", "MessageAttributes": {
            "n": {"DataType": "Number", "StringValue": "1" + digit}}}),
        b"InvalidParameterValue")
    attrs = dlq.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30" and "RedrivePolicy" not in attrs
    _nothing_logged_as_an_error(server)


def test_content_length_in_other_digits(server: Server) -> None:
    for length in (ARABIC_3, "+3", " 3_0"):
        raw = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM.encode() +
               b"\r\nContent-Length: " + length.encode() + b"\r\n\r\nabc")
        assert status_of(exchange(server, raw)) == 400
    _nothing_logged_as_an_error(server)

